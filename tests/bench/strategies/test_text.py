"""`bench.strategies.text`: `full`, `last_turn` and the truncations by hand, one side at a time;
the whole batch costs what each side does; a signal at the end of long answers kept by the
tail, lost by the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.bench.predict import texts
from arenatok.bench.strategies import Side
from arenatok.bench.strategies.text import Full, LastTurn, Truncate
from tests.bench.planted import bench_planted, shared_of

SIDE = Side(("Hello world", "And then?"), ("one two three four five", "six seven"))


def test_full_sends_everything() -> None:
    sent = Full().send(SIDE)
    assert sent.text == "Hello world\n\none two three four five\n\nAnd then?\n\nsix seven"
    assert sent.tokens == 2 + 5 + 3 + 2
    assert sent.bytes == 58  # 11 + 23 + 9 + 9 characters of ASCII, 3 separators of 2 bytes


def test_last_turn() -> None:
    sent = LastTurn().send(SIDE)
    assert sent.text == "And then?\n\nsix seven"
    assert (sent.tokens, sent.bytes) == (3 + 2, 20)


def test_truncate_head_and_tail() -> None:
    head = Truncate(2).send(SIDE)
    assert head.text == "Hello world\n\none two\n\nAnd then\n\nsix seven"
    assert head.tokens == 8
    tail = Truncate(2, tail=True).send(SIDE)
    assert tail.text == "Hello world\n\n four five\n\n then?\n\nsix seven"
    assert tail.tokens == 8
    assert Truncate(2).name == "truncate_head:2"
    assert Truncate(3, tail=True).name == "truncate_tail:3"


@pytest.mark.parametrize(
    "strategy", [Full(), LastTurn(), Truncate(3), Truncate(3, tail=True), Truncate(20)]
)
def test_send_many_costs_equal_send(unicode_build: Path, strategy: Full) -> None:
    """Every side's tokens and bytes, in all and by turn, are what `send` says one side at a
    time (including cuts inside a character)."""
    shared = shared_of(unicode_build)
    batch = strategy.send_many(shared)
    sides_a, sides_b = texts(shared.c)
    by_turn_tokens, by_turn_bytes = [], []
    for k, side in enumerate(sides_a + sides_b):
        sent = strategy.send(side)
        assert (batch.tokens[k], batch.bytes[k]) == (sent.tokens, sent.bytes)
        for t in range(1, len(side.users) + 1):
            part = strategy.send(type(side)(side.users[:t], side.answers[:t]))
            by_turn_tokens.append(part.tokens)
            by_turn_bytes.append(part.bytes)
    assert batch.by_turn_tokens.tolist() == by_turn_tokens
    assert batch.by_turn_bytes.tolist() == by_turn_bytes


def test_a_signal_at_the_end_of_long_answers(tmp_path: Path) -> None:
    got = bench_planted(
        tmp_path, "end", ["full", "truncate_tail:16", "truncate_head:16", "lowrank_learned:8"]
    )
    assert got["full"]["uses_content"] is True
    assert got["truncate_tail:16"]["uses_content"] is True  # keeps the end
    assert got["truncate_tail:16"]["non_inferior_to_full"] is True
    assert got["truncate_head:16"]["uses_content"] is False  # drops it
    assert got["truncate_head:16"]["non_inferior_to_full"] is False
    assert got["lowrank_learned:8"]["uses_content"] is True  # the supervised map finds it
