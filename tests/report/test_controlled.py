"""`report.controlled`: the arena's controlled Bradley-Terry (length and style control): the
style features by hand, Newton's fit against a general optimiser, planted effects recovered
within their intervals, the bootstrap's rounds as refits, in workers as in one process."""

from __future__ import annotations

import numpy as np
import pytest

from arenatok.report import controlled, ratings


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


def test_controlled_bootstrap_in_workers_equals_one_process() -> None:
    model_a, model_b, s, a, b = planted(300, 7, (0.3, 0.1, 0.2, 0.0))
    m = controlled.Matchups.of(model_a, model_b, s, controlled.normalised_difference(a, b))
    full = controlled.contextual_bt(m)
    one = controlled.controlled_bootstrap(m, full, rounds=5, seed=2)
    assert np.array_equal(controlled.controlled_bootstrap(m, full, rounds=5, seed=2, jobs=2), one)
    assert one.shape == (5, len(full))
