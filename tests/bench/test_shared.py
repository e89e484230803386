"""`bench.shared`: cumulative sums by group, text costs turn by turn by hand, combined costs,
what is made once a run, and one SVD basis for every rank up to BASIS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arenatok.bench.shared import Batch, grouped_cumsum
from tests.bench.planted import shared_of, two_battles


def test_grouped_cumsum_restarts_at_every_group() -> None:
    x = np.array([1, 2, 3, 4, 5, 6])
    assert grouped_cumsum(x, np.array([2, 1, 3])).tolist() == [1, 3, 3, 4, 9, 15]


def test_text_costs_by_turn_hand_checked() -> None:
    """Every message one token of one byte: turn t costs 2t tokens and 2t bytes with 2t - 1
    separators of 2 bytes."""
    shared = two_battles()
    ones = np.ones(len(shared.sides[0]), dtype=np.int64)
    sent = shared.joined(ones, ones, None)
    # Rows by (side, turn): side A of battle 1 (two turns), of battle 2, then side B.
    assert sent.by_turn_tokens.tolist() == [2, 4, 2, 2, 4, 2]
    assert sent.by_turn_bytes.tolist() == [4, 10, 4, 4, 10, 4]
    assert (sent.tokens.tolist(), sent.bytes.tolist()) == ([4, 2, 4, 2], [10, 4, 10, 4])
    both = Batch.combined([sent, sent])
    assert both.bytes.tolist() == [20, 8, 20, 8]
    assert both.parts == [sent, sent]


def test_what_one_family_shares_is_made_once() -> None:
    shared = two_battles()
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return len(made)

    assert [shared.once("key", make) for _ in range(3)] == [1, 1, 1]
    assert shared.once("other", make) == 2


def test_one_basis_for_every_rank_up_to_basis(unicode_build: Path) -> None:
    shared = shared_of(unicode_build)
    small, large = shared.projection(4, learned=False), shared.projection(8, learned=False)
    assert np.array_equal(small, large[:, :4])
