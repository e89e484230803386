"""The turns config: one row a turn, as the record's `token_usage.turns` gives it (by hand on
tiny battles and the first real one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arenatok.dataset.configs import turns


def test_turns_is_one_row_a_turn(
    rows_of: Callable[[Any], list[Any]], tiny_records: list[Any]
) -> None:
    rows = rows_of(turns.CONFIG)
    assert [(r["battle"], r["turn_number"]) for r in rows] == [
        (0, 1),
        (1, 1),
        (1, 2),
        (2, 1),
        (3, 1),
        (4, 1),
        (4, 2),
        (4, 3),
    ]
    one, two = rows[1], rows[2]
    assert two["timestamp_offset"] is None  # one timestamp per battle: turn 1's
    assert one["timestamp_offset"] == 0.0
    history = one["input_tokens"] + one["response_a_tokens"] + two["input_tokens"]
    assert two["context_tokens_a"] == history
    second = tiny_records[1]["context"]["token_usage"]["turns"][1]
    assert two == {"battle": 1, "question_id": "q1", **second}


def test_the_first_real_battles_turn_by_hand(load: Callable[[str], Any]) -> None:
    [turn] = [r for r in load("turns") if r["battle"] == 0]
    assert turn == {
        "battle": 0,
        "question_id": "58210e39b3fd4441a2bd4a518bb44c2d",
        "turn_number": 1,
        "timestamp_offset": 0.0,
        "input_tokens": 10,
        "response_a_tokens": 171,
        "response_b_tokens": 373,
        "context_tokens_a": 10,
        "context_tokens_b": 10,
    }
