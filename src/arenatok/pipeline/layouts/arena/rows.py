"""The arena schema's row check, the definition of a valid battle: the other layouts reuse its
pieces (`layouts.checks`), and the Arrow fast path (`arena.arrow`) computes the same checks
over a whole batch."""

from __future__ import annotations

from arenatok.pipeline.battle import Battle
from arenatok.pipeline.layouts.checks import (
    as_mapping,
    both_sides,
    check_turn,
    head_fields,
    meta_fields,
    new_battle,
)


def battle_from_row(row: object, allow_null_turns: bool = False) -> Battle:
    """Check one arena-schema row and return its Battle; raise RowProblem with the reason.
    With `allow_null_turns`, a null answer counts as an empty one (flagged null_turn)."""
    row = as_mapping(row)
    head = head_fields(row)
    users, answers_a, answers_b, nulls = both_sides(row, allow_null_turns)
    check_turn(row.get("turn"), len(users))
    return new_battle({**head, **meta_fields(row)}, users, answers_a, answers_b, null_turns=nulls)
