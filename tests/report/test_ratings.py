from __future__ import annotations

import math

import numpy as np
import pytest

from arenatok.pipeline.battle import VOTES
from arenatok.report import ratings
from arenatok.report.ratings import Cells, bt_bootstrap, bt_ratings, online_elo


def test_scores_keep_every_tie_at_half() -> None:
    assert [ratings.score(w) for w in VOTES] == [1.0, 0.0, 0.5, 0.5]
    with pytest.raises(KeyError):  # no default: a label that is not a vote is never a tie
        ratings.score("both_bad")  # type: ignore[arg-type]


def test_online_elo_hand_checked() -> None:
    got = online_elo(["x", "x"], ["y", "y"], [1.0, 0.5])
    # Battle 1: both at 1000, expected 0.5: x = 1000 + 4 * 0.5 = 1002, y = 998.
    # Battle 2: expected for x = 1 / (1 + 10 ** ((998 - 1002) / 400)), score 0.5.
    e = 1 / (1 + 10 ** (-4 / 400))
    assert got["x"] == pytest.approx(1002 + 4 * (0.5 - e))
    assert got["y"] == pytest.approx(998 - 4 * (0.5 - e))
    assert got["x"] + got["y"] == pytest.approx(2000)


def test_bradley_terry_known_answers() -> None:
    # x beats y 3 times out of 4: the MLE odds are 3, so the gap is 400 * log10(3) points.
    got = bt_ratings(Cells.of(["x"] * 4, ["y"] * 4, [1, 1, 1, 0]))
    assert got["x"] - got["y"] == pytest.approx(400 * math.log10(3), abs=1e-3)
    assert (got["x"] + got["y"]) / 2 == pytest.approx(1000)
    # One win and two ties: a score of 2 out of 3, odds 2.
    got = bt_ratings(Cells.of(["x"] * 3, ["y"] * 3, [1, 0.5, 0.5]))
    assert got["x"] - got["y"] == pytest.approx(400 * math.log10(2), abs=1e-3)


def test_bradley_terry_three_models_consistent_with_odds() -> None:
    # Plant strengths 4 : 2 : 1 and feed the exact expected win fractions.
    odds = {"a": 4.0, "b": 2.0, "c": 1.0}
    model_a, model_b, scores = [], [], []
    for i, j in [("a", "b"), ("a", "c"), ("b", "c")]:
        p = odds[i] / (odds[i] + odds[j])
        wins = round(p * 300)
        model_a += [i] * 300
        model_b += [j] * 300
        scores += [1.0] * wins + [0.0] * (300 - wins)
    got = bt_ratings(Cells.of(model_a, model_b, scores))
    assert got["a"] - got["b"] == pytest.approx(400 * math.log10(2), abs=2)
    assert got["b"] - got["c"] == pytest.approx(400 * math.log10(2), abs=2)


def test_model_without_a_loss_stays_finite() -> None:
    got = bt_ratings(Cells.of(["x", "x", "y"], ["y", "z", "z"], [1, 1, 1]))
    assert all(math.isfinite(v) for v in got.values())
    assert got["x"] > got["y"] > got["z"]


def test_cell_bootstrap_matches_row_bootstrap() -> None:
    rng = np.random.default_rng(3)
    models = ["a", "b", "c", "d"]
    strength = {"a": 1.0, "b": 0.5, "c": 0.0, "d": -0.5}
    model_a, model_b, scores = [], [], []
    for _ in range(600):
        i, j = rng.choice(4, 2, replace=False)
        a, b = models[i], models[j]
        p = 1 / (1 + math.exp(strength[b] - strength[a]))
        u = rng.random()
        model_a.append(a)
        model_b.append(b)
        scores.append(0.5 if u < 0.15 else float(u < 0.15 + 0.85 * p))
    cells = Cells.of(model_a, model_b, scores)
    by_cells = bt_bootstrap(cells, rounds=3000, seed=1, method="cells")
    by_rows = bt_bootstrap(cells, rounds=3000, seed=2, method="rows")
    # Same distribution: the same intervals up to Monte Carlo noise (a few rating points).
    for k in range(len(cells.models)):
        lo_c, hi_c = np.percentile(by_cells[:, k], [2.5, 97.5])
        lo_r, hi_r = np.percentile(by_rows[:, k], [2.5, 97.5])
        assert abs(lo_c - lo_r) < 6
        assert abs(hi_c - hi_r) < 6
    assert np.allclose(by_cells.mean(axis=1), 1000)


def test_rank_with_uncertainty_hand_checked() -> None:
    # Intervals: A [10, 20], B [5, 15], C [0, 4]: A is 1; B overlaps A: 1; C is below both: 3.
    assert ratings.rank_with_uncertainty([10, 5, 0], [20, 15, 4]) == [1, 1, 3]


def test_arrival_order() -> None:
    assert ratings.arrival_order([3.0, 1.0, 2.0, 1.0]) == [1, 3, 2, 0]  # stable on ties
    assert ratings.arrival_order([None, None, None]) == [0, 1, 2]
    # A battle without a time stays after the one before it in the source.
    assert ratings.arrival_order([3.0, None, 1.0, 2.0]) == [2, 3, 0, 1]
    assert ratings.arrival_order([None, 5.0, 4.0]) == [0, 2, 1]


# ---- by value: what the mutation run found unpinned ------------------------------------------


def test_rank_counts_only_intervals_strictly_above() -> None:
    # b's lower bound equals a's upper bound: touching is not above, so both rank 1.
    assert ratings.rank_with_uncertainty([10, 20, 0], [20, 30, 5]) == [1, 1, 3]


def test_pairs_of_unequal_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match=r"shorter|longer"):
        online_elo(["a"], ["b", "c"], [1.0])
    with pytest.raises(ValueError, match=r"shorter|longer"):
        Cells.of(["a", "a"], ["b", "b"], [1.0])


def test_cells_count_each_battle_once() -> None:
    cells = Cells.of(["x", "x", "y", "x"], ["y", "y", "x", "y"], [1, 1, 0.5, 0])
    assert cells.models == ["x", "y"]
    assert list(zip(cells.i.tolist(), cells.j.tolist(), cells.s.tolist(), strict=True)) == [
        (0, 1, 0.0),
        (0, 1, 1.0),
        (1, 0, 0.5),
    ]
    assert cells.counts.tolist() == [1.0, 2.0, 1.0]


def test_arrival_order_before_1970_and_a_missing_first_time() -> None:
    # The first battle has no time: it takes the earliest (-10), so it stays before the
    # battle at -10 (a stable sort), and both come before the one at -5.
    assert ratings.arrival_order([None, -5.0, -10.0]) == [0, 2, 1]
    assert ratings.arrival_order([None, None]) == [0, 1]


def test_bootstrap_rounds_are_refits_on_redrawn_counts() -> None:
    """Each round is the fit on its own draw: the rows method by hand with the same generator.
    A draw in which z never beats (or ties) y leaves z unbounded below; x and y are then
    rated on their own battles, their mean where the full fit has it."""
    cells = Cells.of(["x"] * 6 + ["y"] * 4, ["y"] * 6 + ["z"] * 4, [1, 1, 1, 0, 0.5, 1, 1, 0, 1, 1])
    got = bt_bootstrap(cells, rounds=3, seed=5, method="rows")
    rng = np.random.default_rng(5)
    total = int(cells.counts.sum())
    row_cell = np.repeat(np.arange(len(cells.counts)), cells.counts.astype(np.int64))
    draws = [
        np.bincount(row_cell[rng.integers(0, total, total)], minlength=len(cells.counts))
        for _ in range(3)
    ]
    for r in (0, 2):
        exact = ratings.to_elo(ratings.bt_strengths(cells, draws[r].astype(float)))
        assert got[r] == pytest.approx(exact, abs=1e-6)
    assert not np.allclose(got[0], got[2])  # the rounds differ: each has its own draw
    # Round 1 drew the cells (x-y: x lost, tied, won; y-z: y lost, won) 3, 2, 4; 0, 1.
    assert draws[1].tolist() == [3, 2, 4, 0, 1]
    assert got[1][2] == -np.inf
    # x against y: 4 wins, 2 ties, 3 losses: scores 5 to 4, a gap of 400 log10(5/4) (less
    # what the vanishing ridge, 1e-6, takes off).
    assert got[1][0] - got[1][1] == pytest.approx(400 * math.log10(5 / 4), abs=1e-4)
    full = ratings.to_elo(ratings.bt_strengths(cells))
    assert (got[1][0] + got[1][1]) / 2 == pytest.approx((full[0] + full[1]) / 2, abs=1e-9)
    # A weighted fit is the fit of the battles repeated.
    twice = Cells.of(
        ["x"] * 12 + ["y"] * 8, ["y"] * 12 + ["z"] * 8, [1, 1, 1, 0, 0.5, 1] * 2 + [1, 0, 1, 1] * 2
    )
    assert ratings.bt_strengths(cells, 2 * cells.counts) == pytest.approx(
        ratings.bt_strengths(twice), abs=1e-6
    )


def test_bootstrap_defaults_are_1000_rounds_from_seed_0() -> None:
    cells = Cells.of(["x", "x", "y"], ["y", "z", "z"], [1, 0, 1])
    assert np.array_equal(  # NaN: a round that breaks the cycle rates no model
        bt_bootstrap(cells), bt_bootstrap(cells, rounds=1000, seed=0), equal_nan=True
    )
    assert bt_bootstrap(cells).shape == (1000, 3)
