"""`bench.strategies.recurrent`: the state by hand; a turn-1 signal carried to the last turn;
fewer bits keep less and cost what they send."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from arenatok.bench import run_bench
from arenatok.bench.strategies import parse_strategies
from arenatok.bench.strategies.recurrent import states
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.bench.planted import bench_planted, two_battles
from tests.helpers import battle, write_jsonl


def test_the_recurrent_state_hand_checked() -> None:
    """s_1 = tanh(x_1), s_2 = tanh(s_1 + x_2): the state carries turn 1 into what is sent."""
    shared = two_battles()
    projected = np.arange(9, dtype=float)[:, None] / 10  # message m -> m / 10
    sent = states(shared, projected)
    # Rows: side A of battles 1 and 2, then side B (messages as `two_battles` numbers them).
    assert sent.vectors is not None
    assert sent.vectors[:, 0] == pytest.approx(
        [
            np.tanh(np.tanh(0.0 + 0.1) + 0.3 + 0.4),
            np.tanh(0.6 + 0.7),
            np.tanh(np.tanh(0.0 + 0.2) + 0.3 + 0.5),
            np.tanh(0.6 + 0.8),
        ]
    )
    # One float16 number a turn: by turn, cumulative; per side, the sum over its turns.
    assert list(sent.bytes) == [4, 2, 4, 2]
    assert list(sent.by_turn_bytes) == [2, 4, 2, 2, 4, 2]


def test_a_turn_1_signal_survives_in_a_recurrent_state(tmp_path: Path) -> None:
    got = bench_planted(tmp_path, "turn1", ["full", "last_turn", "recurrent:8", "lowrank:8"])
    assert got["full"]["uses_content"] is True
    assert got["last_turn"]["uses_content"] is False  # turn 2 has no signal
    assert got["recurrent:8"]["uses_content"] is True  # carried from turn 1 in the state
    # Every battle has two turns: the recurrent side sends 8 float16 numbers per turn.
    assert got["recurrent:8"]["bytes_per_side"] == 2 * 8 * 2
    by_turn = got["recurrent:8"]["cost_by_turn"]
    assert [(c["turn"], c["bytes"]) for c in by_turn] == [(1, 16.0), (2, 32.0)]  # type: ignore[index, union-attr]


WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
]


def _graded_rows(n: int, seed: int = 9) -> list[dict[str, object]]:
    """Two turns; each answer holds 0 to 6 planted words; the side with more in all wins: the
    signal is in how many, which a sign alone cannot carry. Every word is one token, so length
    tells nothing."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        counts = [[rng.randrange(7) for _ in range(2)] for _ in range(2)]  # side, turn
        if sum(counts[0]) == sum(counts[1]):
            continue
        i = len(rows)

        def answer(k: int) -> str:  # the same length whatever k
            return " ".join(["good"] * k + rng.choices(WORDS, k=18 - k))

        turns = [
            (f"question {i} turn {t}", answer(counts[0][t]), answer(counts[1][t])) for t in range(2)
        ]
        a_wins = sum(counts[0]) > sum(counts[1])
        winner = "model_a" if a_wins else "model_b"
        rows.append(battle(f"g{i}", turns, winner=winner, model_a="m1", model_b="m2"))
    return rows


def test_fewer_bits_keep_less_and_cost_what_they_send(tmp_path: Path) -> None:
    out = tmp_path / "graded"
    build(write_jsonl(tmp_path / "t.jsonl", _graded_rows(800)), out=out, limit=None)
    specs = [
        "recurrent:8@1",
        "recurrent:8@8",
        "recurrent:8",
        "lowrank:8@2",
        "recurrent:8@1+extract:8",
    ]
    bench = as_json(run_bench(out, parse_strategies(specs), rounds=100))
    got = {r["strategy"]: r for r in bench["results"]}
    # Every battle has two turns: a state of 8 numbers a turn; a message vector of 8 a message.
    assert got["recurrent:8@1"]["bytes_per_side"] == 2 * 1  # ceil(8 x 1 / 8) a turn
    assert got["recurrent:8@8"]["bytes_per_side"] == 2 * 8
    assert got["recurrent:8"]["bytes_per_side"] == 2 * 16
    assert got["lowrank:8@2"]["bytes_per_side"] == 4 * 2  # 4 messages, 2 bytes each
    assert [c["bytes"] for c in got["recurrent:8@1"]["cost_by_turn"]] == [1.0, 2.0]
    hybrid = got["recurrent:8@1+extract:8"]
    assert hybrid["bytes_per_side"] > got["recurrent:8@1"]["bytes_per_side"]
    assert got["recurrent:8@8"]["uses_content"] is True
    assert got["recurrent:8@1"]["auc"] < got["recurrent:8@8"]["auc"]
