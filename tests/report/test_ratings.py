from __future__ import annotations

import math

import numpy as np
import pytest

from arenatok.pipeline.battle import VOTES
from arenatok.report import controlled, ratings
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


def length_controlled(
    model_a: list[str],
    model_b: list[str],
    scores: list[float],
    length_a: list[int],
    length_b: list[int],
) -> dict[str, object]:
    """The report's length control: the controlled fit with the one length feature."""
    x = controlled.normalised_difference(
        np.asarray(length_a, dtype=float)[:, None], np.asarray(length_b, dtype=float)[:, None]
    )
    m = controlled.Matchups.of(model_a, model_b, scores, x)
    params = controlled.contextual_bt(m)
    n = len(m.models)
    elo = ratings.SCALE * params[:n] + ratings.INIT
    return {"ratings": dict(zip(m.models, elo, strict=True)), "length_coefficient": params[n]}


def test_length_control_learns_a_planted_length_effect() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    model_a = rng.choice(["x", "y", "z"], n).tolist()
    model_b = [{"x": "y", "y": "z", "z": "x"}[m] for m in model_a]
    length_a = rng.integers(10, 500, n)
    length_b = rng.integers(10, 500, n)
    # The longer answer wins 90% of the time, whatever the model.
    longer_a = length_a > length_b
    flip = rng.random(n) < 0.1
    scores = np.where(longer_a ^ flip, 1.0, 0.0).tolist()
    got = length_controlled(model_a, model_b, scores, length_a.tolist(), length_b.tolist())
    assert got["length_coefficient"] > 1.5
    spread = max(got["ratings"].values()) - min(got["ratings"].values())
    assert spread < 40  # the models are equal once length is accounted for
    # Noise: no effect of length.
    noise = np.where(rng.random(n) < 0.5, 1.0, 0.0).tolist()
    got = length_controlled(model_a, model_b, noise, length_a.tolist(), length_b.tolist())
    assert abs(got["length_coefficient"]) < 0.1


# ---- controlled Bradley-Terry (the arena's style control) --------------------------------------


def planted(
    n: int, seed: int, beta: tuple[float, ...]
) -> tuple[list[str], list[str], list[float], np.ndarray, np.ndarray]:
    """Battles among five models of planted strengths where the side with more of each style
    feature wins more often, with the planted coefficients `beta` (log-odds per sd)."""
    rng = np.random.default_rng(seed)
    names = ["m0", "m1", "m2", "m3", "m4"]
    strength = np.array([0.4, 0.2, 0.0, -0.2, -0.4])  # log10-odds
    i = rng.integers(0, 5, n)
    j = (i + rng.integers(1, 5, n)) % 5
    a = np.column_stack([rng.integers(1, 800, n), rng.poisson([1, 3, 2], (n, 3))]).astype(float)
    b = np.column_stack([rng.integers(1, 800, n), rng.poisson([1, 3, 2], (n, 3))]).astype(float)
    x = controlled.normalised_difference(a, b)
    z = controlled.ALPHA * (strength[i] - strength[j]) + x @ np.array(beta)
    s = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return [names[k] for k in i], [names[k] for k in j], s.tolist(), a, b


def test_normalised_difference_hand_checked() -> None:
    # (a - b) / (a + b + 1): 1/4 and -1/4, standardised to +1 and -1; a constant column is 0.
    got = controlled.normalised_difference(
        np.array([[2.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 1.0]])
    )
    assert got.tolist() == [[1.0, 0.0], [-1.0, 0.0]]


def test_contextual_fit_is_the_minimum_of_the_arena_loss() -> None:
    """Newton's answer against scipy's L-BFGS on the same penalised loss (the arena's)."""
    from scipy.optimize import minimize

    model_a, model_b, s, a, b = planted(1500, 1, (0.3, 0.0, 0.4, 0.1))
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    ours = controlled.contextual_bt(m)
    w = np.ones(len(s))
    ref = minimize(
        lambda p: controlled._loss(m, w, p, controlled.STYLE_REG),
        np.zeros(len(ours)),
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000},
    ).x
    assert np.max(np.abs(ours - ref)) * ratings.SCALE < 1e-3  # Elo points


def test_planted_style_effect_is_recovered_within_its_interval() -> None:
    beta = (0.3, 0.0, 0.5, 0.2)
    model_a, model_b, s, a, b = planted(4000, 2, beta)
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    full = controlled.contextual_bt(m)
    boot = controlled.controlled_bootstrap(m, full, rounds=300, seed=0)
    n = len(m.models)
    for k, planted_value in enumerate(beta):
        lo, hi = np.percentile(boot[:, n + k], [2.5, 97.5])
        assert lo <= planted_value <= hi, (k, lo, hi)
    # The list feature (planted 0.5) is found, the header feature (planted 0) is not.
    assert np.percentile(boot[:, n + 2], 2.5) > 0.3
    # The strengths come back too: m0 first, m4 last, 0.2 log10-odds (80 Elo) apart each.
    elo = ratings.SCALE * full[:n]
    assert np.all(np.diff(elo) < 0)
    assert elo[0] - elo[4] == pytest.approx(320, abs=40)


def test_bootstrap_rounds_equal_fits_from_zero() -> None:
    model_a, model_b, s, a, b = planted(800, 3, (0.3, 0.1, 0.2, 0.0))
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    full = controlled.contextual_bt(m)
    boot = controlled.controlled_bootstrap(m, full, rounds=5, seed=9)
    for r, seed in enumerate(np.random.SeedSequence(9).spawn(5)):  # controlled_bootstrap's draws
        rng = np.random.default_rng(seed)
        w = np.bincount(rng.integers(0, len(s), len(s)), minlength=len(s)).astype(float)
        exact = controlled.contextual_bt(m, w, tol=1e-12)
        assert np.max(np.abs(boot[r] - exact)) * ratings.SCALE < 1e-3  # Elo


def test_a_feature_without_variation_gets_no_weight() -> None:
    model_a, model_b, s, a, b = planted(500, 4, (0.3, 0.0, 0.0, 0.0))
    a[:, 1] = b[:, 1] = 0  # no headers anywhere
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    params = controlled.contextual_bt(m)
    assert params[len(m.models) + 1] == 0.0
    assert np.all(np.isfinite(params))


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


def test_style_feature_by_hand() -> None:
    # (a - b) / (a + b + 1): (1 - 3) / 5 = -0.4 and (3 - 1) / 5 = 0.4, mean 0, sd 0.4: -1, 1.
    # The constant second column (0 / 1 = 0) stays 0.
    got = controlled.normalised_difference(
        np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([[3.0, 0.0], [1.0, 0.0]])
    )
    assert got.tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    # Unequal values: d = (2 - 0) / 3 = 2/3 and (0 - 0) / 1 = 0; mean 1/3, sd 1/3: 1 and -1.
    got = controlled.normalised_difference(np.array([[2.0], [0.0]]), np.array([[0.0], [0.0]]))
    assert got[:, 0] == pytest.approx([1.0, -1.0])
    # Two battles always standardise to -1 and 1: three tell the ratio's denominator apart.
    # d = 1/2, 3/4, 0; mean 5/12; sd = sqrt(((1/12)^2 + (4/12)^2 + (5/12)^2) / 3) = 0.311805.
    got = controlled.normalised_difference(np.array([[1.0], [3.0], [0.0]]), np.zeros((3, 1)))
    assert got[:, 0] == pytest.approx([0.267261, 1.069045, -1.336306], abs=1e-6)


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


def test_controlled_bootstrap_in_workers_equals_one_process() -> None:
    model_a, model_b, s, a, b = planted(300, 7, (0.3, 0.1, 0.2, 0.0))
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    full = controlled.contextual_bt(m)
    one = controlled.controlled_bootstrap(m, full, rounds=5, seed=2)
    assert np.array_equal(controlled.controlled_bootstrap(m, full, rounds=5, seed=2, jobs=2), one)
    assert one.shape == (5, len(full))
