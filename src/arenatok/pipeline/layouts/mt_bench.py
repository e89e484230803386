"""lmsys/mt_bench_human_judgments: many judgments per question, one record per (question,
judge, judged turn); `turn` is the turn that was judged, not the number of turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arenatok.options import is_whole
from arenatok.pipeline.battle import Battle, RowProblem, Vote
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS, Layout
from arenatok.pipeline.layouts.checks import (
    as_mapping,
    both_sides,
    head_fields,
    meta_fields,
    new_battle,
    show,
)

LABELS: dict[str, Vote] = {
    "model_a": "model_a",
    "model_b": "model_b",
    "tie": "tie",
    "tie (inconsistent)": "tie",
}
"""`tie (inconsistent)`: the judge's two verdicts, with the answers in either order, disagree;
MT-bench's paper counts it a tie."""


def parse(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    qid = row.get("question_id")
    qid = str(qid) if is_whole(qid) else qid
    head = head_fields({**row, "question_id": qid}, LABELS)
    users, answers_a, answers_b, nulls = both_sides(row, allow_null)
    judged = row.get("turn")
    if not is_whole(judged) or not 1 <= judged <= len(users):
        raise RowProblem(f"turn {show(judged)} is not a turn of the {len(users)}-turn conversation")
    return new_battle(
        {**head, **meta_fields(row)},
        users,
        answers_a,
        answers_b,
        null_turns=nulls,
        judged_turn=judged,
    )


LAYOUT = Layout(
    "mt-bench",
    "lmsys/mt_bench_human_judgments",
    (*REQUIRED_COLUMNS, "judge"),
    (),
    LABELS,
    parse,
    order=50,
    battle_ids=False,
)
