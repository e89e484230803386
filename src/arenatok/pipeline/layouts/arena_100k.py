"""lmarena-ai/arena-human-preference-100k: the arena schema, plus `judge_hash` (taken as the
judge), `conv_metadata` (its token and markdown counts, kept beside ours) and its labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arenatok.pipeline.battle import ARENA_LABELS, Battle
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS, Layout, release_extras
from arenatok.pipeline.layouts.checks import (
    as_mapping,
    both_sides,
    check_turn,
    head_fields,
    meta_fields,
    new_battle,
)


def parse(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    judge = row.get("judge_hash", row.get("judge"))
    head = head_fields(row)
    users, answers_a, answers_b, nulls = both_sides(row, allow_null)
    check_turn(row.get("turn"), len(users))
    return new_battle(
        {**head, **meta_fields({**row, "judge": judge})},
        users,
        answers_a,
        answers_b,
        null_turns=nulls,
        **release_extras(row),
    )


LAYOUT = Layout(
    "arena-100k",
    "lmarena-ai/arena-human-preference-100k",
    REQUIRED_COLUMNS,
    ("judge_hash", "conv_metadata", "dedup_tag"),
    ARENA_LABELS,
    parse,
    order=30,
)
