"""lmsys/lmsys-arena-human-preference-55k (the Kaggle competition's train.csv): flat columns,
the turns as JSON-encoded lists of strings, the vote one-hot over three columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from arenatok.options import is_whole
from arenatok.pipeline.battle import Battle, RowProblem, Vote
from arenatok.pipeline.layouts.base import Layout
from arenatok.pipeline.layouts.checks import (
    as_mapping,
    head_fields,
    meta_fields,
    new_battle,
    show,
)

LABELS: dict[str, Vote] = {"model_a": "model_a", "model_b": "model_b", "tie": "tie"}
"""The one-hot columns winner_model_a, winner_model_b, winner_tie, by the outcome each is."""
"""The 55k release has one-hot columns; its `tie` covers both tie and tie (bothbad)."""


def _json_list(row: Mapping[str, Any], key: str, allow_null: bool) -> tuple[list[str], int]:
    """A JSON-encoded list of strings; null entries become "" (and are counted) if allowed."""
    raw = row.get(key)
    try:
        items = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list) or not items:
        raise RowProblem(f"{key} must be a JSON-encoded non-empty list of strings, got {show(raw)}")
    texts: list[str] = []
    nulls = 0
    for i, item in enumerate(items):
        if item is None:
            if not allow_null:
                raise RowProblem(
                    f"{key}[{i}] is null (pass --allow-null-turns to count it as an empty reply)"
                )
            nulls += 1
            item = ""
        if not isinstance(item, str):
            raise RowProblem(f"{key}[{i}] must be a string, got {show(item)}")
        texts.append(item)
    return texts, nulls


def _flag_int(value: object) -> object:
    """0 or 1, from an integer or its text (CSV columns are read as text)."""
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value)
    return value


def parse(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    qid = row.get("id")
    qid = str(qid) if is_whole(qid) else qid
    votes = [_flag_int(row.get(f"winner_{w}")) for w in ("model_a", "model_b", "tie")]
    if not all(type(v) is int for v in votes) or sorted(votes) != [0, 0, 1]:  # type: ignore[type-var]
        raise RowProblem(
            f"winner_model_a / winner_model_b / winner_tie must be one-hot, got {votes}"
        )
    winner = list(LABELS)[votes.index(1)]
    head = head_fields({**row, "question_id": qid, "winner": winner}, LABELS)
    users, null_users = _json_list(row, "prompt", False)
    answers_a, nulls_a = _json_list(row, "response_a", allow_null)
    answers_b, nulls_b = _json_list(row, "response_b", allow_null)
    if not len(users) == len(answers_a) == len(answers_b):
        raise RowProblem(
            f"prompt, response_a and response_b have {len(users)}, {len(answers_a)} and "
            f"{len(answers_b)} entries; they must have one per turn"
        )
    return new_battle(
        {**head, **meta_fields({})},
        users,
        answers_a,
        answers_b,
        null_turns=null_users + nulls_a + nulls_b,
    )


LAYOUT = Layout(
    "kaggle-55k",
    "lmsys/lmsys-arena-human-preference-55k",
    (
        "id",
        "model_a",
        "model_b",
        "prompt",
        "response_a",
        "response_b",
        "winner_model_a",
        "winner_model_b",
        "winner_tie",
    ),
    (),
    LABELS,
    parse,
    order=20,
    id_column="id",
    flat=True,
)
