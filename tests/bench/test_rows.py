"""A strategy's row depends only on the data, the split, the seed and itself: alone or in the
default set, every default strategy gives the same bytes, tokens, scores, intervals and
verdicts; `full`, the reference of every verdict, always runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arenatok.bench import run_bench
from arenatok.bench.predict import REFERENCES
from arenatok.bench.strategies import DEFAULT_STRATEGIES, parse_strategies
from arenatok.pipeline.driver import build
from arenatok.sections import as_json

ROUNDS = 100


@pytest.fixture(scope="module")
def built(arena_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rows") / "out"
    build(arena_parquet, out=out, limit=1200)
    return out


def _rows(bench: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["strategy"]: r for r in bench["results"]}


def test_every_default_strategy_alone_gives_its_row_in_the_default_set(built: Path) -> None:
    everything = _rows(
        as_json(run_bench(built, parse_strategies(DEFAULT_STRATEGIES), rounds=ROUNDS))
    )
    for spec in DEFAULT_STRATEGIES:
        for strategy in parse_strategies([spec]):
            alone = _rows(as_json(run_bench(built, [strategy], rounds=ROUNDS)))
            assert alone[strategy.name] == everything[strategy.name], strategy.name
            assert alone["full"] == everything["full"]  # it runs, asked for or not


def test_a_high_rank_does_not_change_the_low_ranks(built: Path) -> None:
    low = _rows(as_json(run_bench(built, parse_strategies(["lowrank:16"]), rounds=ROUNDS)))
    both = _rows(as_json(run_bench(built, parse_strategies(["lowrank:16,160"]), rounds=ROUNDS)))
    assert both["lowrank:16"] == low["lowrank:16"]


def test_without_full_asked_for_the_verdicts_still_have_their_reference(built: Path) -> None:
    bench = as_json(run_bench(built, parse_strategies(["last_turn"]), rounds=ROUNDS))
    rows = _rows(bench)
    assert list(rows) == [*REFERENCES, "full", "last_turn"]
    assert "non_inferior_to_full" in rows["last_turn"]
    assert rows["last_turn"]["auc_minus_full_ci95"]
