"""`report.fits`: the fits of a leaderboard with their 95% intervals (sandwich or bootstrap,
an interval that cannot be estimated saying why), and the fits on builds: online Elo in arrival
order, the pairwise table, style control on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arenatok.pipeline.driver import build
from arenatok.report import controlled, ratings
from arenatok.report.fits import (
    FLAT,
    FitOptions,
    Fits,
    battle_weights,
    coefficient,
    controlled_fit,
    interval95,
    plain_fit,
    sandwich_bounds,
)
from arenatok.sections import as_json


def test_online_elo_follows_the_timestamps_not_the_source_order(
    arena_parquet: Path, tmp_path: Path
) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    table = pq.read_table(arena_parquet)
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(shuffled, tmp_path / "shuffled.parquet")
    build(arena_parquet, out=tmp_path / "sorted", limit=None)
    build(tmp_path / "shuffled.parquet", out=tmp_path / "shuffled", limit=None)
    elo = {}
    for name in ("sorted", "shuffled"):
        report = as_json(build_report(read_built(tmp_path / name), rounds=0))
        elo[name] = {r["model"]: r["online_elo"] for r in report["ratings"]["models"]}
    assert elo["sorted"] == elo["shuffled"]  # exactly: the same battles in the same order
    # Source order would differ: the online Elo depends on the order.
    from arenatok.report import ratings

    c = read_built(tmp_path / "shuffled").battles
    in_source_order = ratings.online_elo(c.model_a, c.model_b, [ratings.score(w) for w in c.winner])
    assert in_source_order != elo["shuffled"]


def test_pairwise_hand_checked(small_build: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    report = as_json(build_report(read_built(small_build), rounds=0))
    pairs = {(p["model"], p["opponent"]): p for p in report["ratings"]["pairwise"]}
    assert set(pairs) == {("x", "y"), ("x", "z")}
    # x against y: battles 1-5. x wins 1, 2, 3 (as model_b), loses 4, ties 5: 3.5 of 5.
    xy = pairs[("x", "y")]
    assert (xy["battles"], xy["observed_score"]) == (5, 0.7)
    # y meets only x, so the fit's score equation for y makes its predicted score the observed
    # one: 3.5 of 5 (an oracle of the maximum-likelihood fit, not of the report's formula).
    assert xy["predicted_score"] == pytest.approx(0.7, abs=1e-5)
    assert pairs[("x", "z")]["observed_score"] == 0.5  # one tie
    assert pairs[("x", "z")]["predicted_score"] == pytest.approx(0.5, abs=1e-5)


def test_style_control_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    """The 2,008 real battles: every rating has an interval that holds it, ranks are 1-based,
    and the length effect the arena reports (longer answers win) is there."""
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    build(arena_parquet, out=tmp_path / "o", limit=None)
    rat = as_json(build_report(read_built(tmp_path / "o"), rounds=200))["ratings"]
    coef = rat["coefficients"]["style_controlled"]
    assert list(coef) == ["length", "header_count", "list_count", "bold_count"]
    assert coef["length"]["ci95"][0] > 0
    for r in rat["models"]:
        for name in ("bradley_terry", "length_controlled", "style_controlled"):
            lo, hi = r[f"{name}_ci95"]
            assert lo - 1 <= r[name] <= hi + 1
            assert 1 <= r[f"{name}_rank"] <= len(rat["models"])
    assert min(r["bradley_terry_rank"] for r in rat["models"]) == 1


def test_interval95_by_value() -> None:
    assert interval95(np.arange(101.0)) == [2.5, 97.5]
    assert interval95(np.array([np.nan, *np.arange(101.0)])) == [2.5, 97.5]  # NaN left out


def test_an_interval_that_cannot_be_estimated_says_why() -> None:
    assert interval95(np.full(5, np.nan)) == "not estimable: no bootstrap round rated it"
    assert interval95(np.array([7.0] * 50)) == (
        "not estimable: every bootstrap round gave the same value (zero width)"
    )
    unbounded = np.array([np.inf] * 10 + list(range(90)), dtype=float)
    assert str(interval95(unbounded)).startswith(
        "not estimable: in more than 2.5% of the bootstrap rounds it has no finite rating"
    )
    few = np.array([np.inf] * 2 + list(range(98)), dtype=float)  # 2%: the bound stays finite
    assert interval95(few) == pytest.approx([2.475, 96.525])


def test_sandwich_bounds_and_coefficients_by_value() -> None:
    assert sandwich_bounds(np.array([1.0, 2.0]), np.array([0.5, np.nan])) == [[0.5, 1.5], FLAT]
    assert coefficient(0.5, [0.1, 0.9]) == {"estimate": 0.5, "ci95": [0.1, 0.9]}
    assert coefficient(0.5, FLAT) == {"estimate": 0.5, "ci95": None, "not_estimable": FLAT}


def test_battle_weights_are_the_arenas_inverse_propensities_with_mean_one() -> None:
    # 60 battles of x against y weigh 1/60 each; 4 of x against z weigh as 50 battles would.
    n = 64
    m = controlled.Matchups.of(["x"] * n, ["y"] * 60 + ["z"] * 4, [1.0] * n, np.zeros((n, 1)))
    w = battle_weights(m)
    assert w.mean() == pytest.approx(1.0)
    assert w[-1] / w[0] == pytest.approx(60 / 50)


MODEL_A = ["x"] * 8 + ["y"] * 4
MODEL_B = ["y"] * 8 + ["z"] * 4
SCORES = [1, 1, 1, 0, 1, 1, 0.5, 0, 1, 0, 1, 1]


@pytest.mark.parametrize(("intervals", "rounds"), [("sandwich", 0), ("bootstrap", 40)])
def test_plain_fit_rates_every_model_with_an_interval_that_holds_it(
    intervals: str, rounds: int
) -> None:
    fits, ticks = Fits(intervals=True), []
    opts = FitOptions(rounds=rounds, seed=0, jobs=1, intervals=intervals, reweight=False)
    plain_fit(ratings.Cells.of(MODEL_A, MODEL_B, SCORES), fits, opts, ticks.append)
    elo = fits.columns["bradley_terry"]
    assert elo.mean() == pytest.approx(1000)
    assert elo[0] > elo[1] > elo[2]
    for rating, bound in zip(elo, fits.bounds["bradley_terry"], strict=True):
        assert isinstance(bound, str) or bound[0] < rating < bound[1]
    assert bool(ticks) == (intervals == "bootstrap")


def test_plain_fit_without_rounds_makes_no_interval() -> None:
    fits = Fits(intervals=False)
    opts = FitOptions(rounds=0, seed=0, jobs=1, intervals="bootstrap", reweight=False)
    plain_fit(ratings.Cells.of(MODEL_A, MODEL_B, SCORES), fits, opts, lambda n: None)
    assert list(fits.columns) == ["bradley_terry"]
    assert fits.bounds == {}


@pytest.mark.parametrize(("intervals", "rounds"), [("sandwich", 0), ("bootstrap", 40)])
def test_controlled_fit_gives_its_coefficients_with_their_intervals(
    intervals: str, rounds: int
) -> None:
    x = np.linspace(-1, 1, len(SCORES))[:, None]
    m = controlled.Matchups.of(MODEL_A, MODEL_B, [float(s) for s in SCORES], x)
    fits = Fits(intervals=True)
    opts = FitOptions(rounds=rounds, seed=0, jobs=1, intervals=intervals, reweight=True)
    controlled_fit(m, "length_controlled", ("length",), fits, opts, lambda n: None)
    assert len(fits.columns["length_controlled"]) == len(fits.bounds["length_controlled"]) == 3
    [(feature, coef)] = fits.coefficients["length_controlled"].items()
    assert feature == "length"
    lo, hi = coef["ci95"] or (0, 0)
    assert lo < coef["estimate"] < hi
