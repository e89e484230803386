"""`bench.strategies.lowrank`: one vector a message summed per side, by hand; a small
vocabulary billed for the numbers sent, not the rank asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arenatok.bench.strategies.lowrank import LowRank, summed
from arenatok.bench.strategies.recurrent import RecurrentLowRank
from arenatok.errors import OptionError
from arenatok.pipeline.driver import build
from tests.bench.planted import shared_of, two_battles
from tests.helpers import battle, write_jsonl


def test_the_summed_vectors_hand_checked() -> None:
    """A side's vector is the sum of its messages' (message m -> m / 10); one float16 a
    message."""
    shared = two_battles()
    sent = summed(shared, np.arange(9, dtype=float)[:, None] / 10)
    assert sent.vectors is not None
    # Rows: side A of battles 1 and 2, then side B; side A of battle 1 sends 0, 1, 3, 4.
    assert sent.vectors[:, 0] == pytest.approx([0.8, 1.3, 1.0, 1.4])
    assert list(sent.bytes) == [8, 4, 8, 4]
    assert list(sent.by_turn_bytes) == [4, 8, 4, 4, 8, 4]


def test_low_rank_strategies_bill_the_numbers_they_send(tmp_path: Path) -> None:
    """On a vocabulary of a handful of tokens the SVD gives fewer directions than asked for:
    each message then costs what is sent (2 bytes a float16 number), not the rank asked."""
    rows = [
        battle(f"v{i}", [("a b", "a b c", "b c")], winner=("model_a", "model_b")[i % 2])
        for i in range(30)
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "v.jsonl", rows), out=out)
    shared = shared_of(out)
    for strategy in (LowRank(64), RecurrentLowRank(64, learned=False)):
        sent = strategy.send_many(shared)
        assert sent.vectors is not None
        width = sent.vectors.shape[1]
        assert width < 64
        # One turn a side: lowrank sends its 2 messages, the recurrent state 1 vector a turn.
        messages = 1 if isinstance(strategy, RecurrentLowRank) else 2
        assert set(sent.bytes.tolist()) == {messages * 2 * width}


def test_names_and_a_rank_below_one() -> None:
    assert LowRank(16, bits=4).name == "lowrank:16@4"
    assert LowRank(8, learned=True).name == "lowrank_learned:8"
    with pytest.raises(OptionError, match="the rank must be positive"):
        LowRank(0)
