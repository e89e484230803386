"""`report.leaderboards` on builds: online Elo in arrival order, the pairwise table, style
control on real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
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
