"""The report's ratings as the arena's leaderboard computes them today (lmarena's arena-rank):
Bradley-Terry with sandwich intervals, plain and reweighted, equal to arena-rank's on the 2,008
real battles (its numbers committed with the script that made them,
benchmarks/arena_rank_reference.py); the same fits at any number of models (sparse), the
controlled fits' sandwich checked by hand, separate groups of models named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.built import read_built
from arenatok.pipeline.driver import build
from arenatok.report import controlled, ratings
from arenatok.report.leaderboards import leaderboard, style_matchups
from arenatok.sections import as_json
from tests.helpers import ROOT, benchmark_module

synthetic = benchmark_module("battles").synthetic

REFERENCE = ROOT / "tests" / "reference" / "arena_rank_elobench.json"


@pytest.fixture(scope="module")
def elobench(arena_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("arena_rank") / "out"
    build(arena_parquet, out=out, limit=None)
    return out


def _compare(board: dict[str, Any], reference: dict[str, Any]) -> tuple[float, float]:
    """The largest difference of the ratings, and of the interval bounds, in Elo."""
    rating = bound = 0.0
    assert {r["model"] for r in board["models"]} == set(reference)
    for r in board["models"]:
        ref = reference[r["model"]]
        rating = max(rating, abs(r["bradley_terry"] - ref["rating"]))
        lo, hi = r["bradley_terry_ci95"]
        bound = max(bound, abs(lo - ref["lower"]), abs(hi - ref["upper"]))
    return rating, bound


@pytest.mark.parametrize("fit", ["plain", "reweighted"])
def test_bradley_terry_and_its_sandwich_equal_arena_ranks(elobench: Path, fit: str) -> None:
    reference = json.loads(REFERENCE.read_text())
    built = read_built(elobench)
    assert built.build_id == reference["build"]  # the same battles as the reference's
    board = as_json(leaderboard(built.battles, rounds=0, seed=0, reweight=fit == "reweighted"))
    rating, bound = _compare(board, reference[fit])
    assert rating < 0.01
    assert bound < 0.05


@pytest.mark.arena_rank
def test_arena_rank_itself_where_it_is_installed(elobench: Path) -> None:
    pytest.importorskip("arena_rank", reason="arena-rank (and JAX) are not installed here")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "arena_rank_reference", ROOT / "benchmarks" / "arena_rank_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    live = module.reference(elobench)
    battles = read_built(elobench).battles
    for fit in ("plain", "reweighted"):
        board = as_json(leaderboard(battles, rounds=0, seed=0, reweight=fit == "reweighted"))
        rating, bound = _compare(board, live[fit])
        assert rating < 0.01
        assert bound < 0.05


@pytest.mark.parametrize("intervals", ["sandwich", "bootstrap"])
def test_the_sparse_solver_gives_the_dense_numbers(
    monkeypatch: pytest.MonkeyPatch, intervals: str
) -> None:
    c = synthetic(40, 1500)
    dense = as_json(leaderboard(c, rounds=8, seed=3, intervals=intervals, reweight=True))
    for module in (ratings, controlled):
        monkeypatch.setattr(module, "DENSE_MODELS", 2)
    sparse = as_json(leaderboard(c, rounds=8, seed=3, intervals=intervals, reweight=True))
    for d, s in zip(dense["models"], sparse["models"], strict=True):
        assert d["model"] == s["model"]
        for key, value in d.items():
            if isinstance(value, float | list):
                assert s[key] == pytest.approx(value, abs=0.01), key  # Elo: the fits' tolerance


def test_the_controlled_sandwich_by_hand() -> None:
    """H and G built battle by battle from the gradient of each battle's logit, the
    covariance H^-1 G H^-1 inverted by numpy: the same variances."""
    c = synthetic(6, 300, seed=4)
    m = style_matchups(c, [ratings.score(w) for w in c.winner])
    w = np.linspace(0.5, 1.5, len(m.s))
    params = controlled.contextual_bt(m, w)
    n, k = len(m.models), m.x.shape[1]
    z = m.logits(params)
    p = 1 / (1 + np.exp(-z))
    hess = controlled.STYLE_REG * np.eye(n + k)
    grads = []
    for b in range(len(m.s)):
        v = np.zeros(n + k)
        v[m.i[b]] += controlled.ALPHA
        v[m.j[b]] -= controlled.ALPHA
        v[n:] = m.x[b]
        hess += w[b] * p[b] * (1 - p[b]) * np.outer(v, v)
        grads.append(w[b] * (m.s[b] - p[b]) * v)
    g = np.array(grads)
    meat = (g - g.mean(axis=0)).T @ (g - g.mean(axis=0))
    inverse = np.linalg.inv(hess)
    want = np.diag(inverse @ meat @ inverse)
    assert controlled.controlled_sandwich(m, params, w) == pytest.approx(want, rel=1e-9)


def test_pair_weights_by_hand() -> None:
    i = np.array([0, 1, 0, 2] + [0] * 60)
    j = np.array([1, 0, 2, 0] + [3] * 60)
    w = ratings.pair_weights(i, j)
    assert w[:4].tolist() == [1 / 50] * 4  # pairs of 2 battles weigh as 50
    assert w[4:].tolist() == [1 / 60] * 60


def test_models_that_never_met_are_named_in_the_caveats(tmp_path: Path) -> None:
    from tests.helpers import battle, write_jsonl

    rows = [
        battle(f"q{k}", [(f"q {k}", "a" * (k % 5 + 1), "b")], model_a=a, model_b=b, winner=w)
        for k, (a, b, w) in enumerate(
            [("a", "b", "model_a"), ("b", "a", "tie"), ("c", "d", "model_b")] * 5
        )
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["ratings"]["separate_groups"] == [["a", "b"], ["c", "d"]]
    assert (
        "note: The battles fall into 2 groups of models that never met, not even through other "
        "models: ratings are comparable only within a group (each group's rated models have a "
        "mean of 1000). Outside the largest group (2 models): c, d."
    ) in " ".join(result.output.split())  # the terminal wraps long notes


def test_the_bootstrap_reports_its_rounds() -> None:
    seen: list[tuple[int, int]] = []
    as_json(
        leaderboard(
            synthetic(5, 200),
            rounds=20,
            seed=0,
            intervals="bootstrap",
            progress=lambda done, total: seen.append((done, total)),
        )
    )
    assert seen[-1] == (60, 60)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_report_says_which_intervals_and_weights_ran(tmp_path: Path) -> None:
    from tests.helpers import TINY, write_jsonl

    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY * 3), out=out, duplicates="flag")
    for args, intervals, weights in (
        ([], "sandwich (the arena's leaderboard today", "none: every battle counts once"),
        (["--intervals", "bootstrap", "--rounds", "100", "--reweight"], "bootstrap, 100 rounds",
         "inverse propensity, as the arena's reweighting"),
    ):  # fmt: skip
        result = CliRunner().invoke(cli, ["report", str(out), *args])
        assert result.exit_code == 0, result.output
        method = json.loads((out / "report.json").read_text())["ratings"]["method"]
        assert method["intervals"].startswith(intervals)
        assert method["weights"].startswith(weights)
        page = (out / "report.html").read_text()
        assert f"Intervals: {intervals}" in page.replace("&#x27;", "'")
