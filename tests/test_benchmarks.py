"""The benchmarks' means of taking per-battle features out of a build (bench_build.py's
`build-without-keys` and `build-without-markdown`) take out what they say, and only that."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import battle, benchmark_module, write_parquet

bench_build = benchmark_module("bench_build")

ROWS = [
    battle("q0", [("Plan a trip", "# Day 1\n- **Rome**\n- Florence", "1. Paris\n2. Lyon")]),
    battle("q1"),
    battle("q0", [("Plan a trip", "# Day 1\n- **Rome**\n- Florence", "1. Paris\n2. Lyon")]),
]
"""A battle with markdown, another, and the first again (a later copy of the same id)."""


def build(source: Path, without: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metadata and records of a build of `source` in worker processes, in the environment
    bench_build.py gives a build timed without `without` ("" is the plain build)."""
    out = source.parent / f"out-{without or 'plain'}"
    env = bench_build.without_env(without) if without else None
    cmd = [sys.executable, "-m", "arenatok.cli", "build", "--source", str(source), "--out"]
    done = subprocess.run(
        [*cmd, str(out), "--limit", "all", "--workers", "2"], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = (out / "data_out.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads((out / "artifact_metadata.json").read_text()), [json.loads(x) for x in lines]


def markdown(records: list[dict[str, Any]]) -> int:
    return sum(
        sum(r["context"]["style"][side].values())
        for r in records
        for side in ("total_a", "total_b")
    )


def test_a_build_without_keys_or_markdown_loses_only_those(tmp_path: Path) -> None:
    source = write_parquet(tmp_path / "rows.parquet", ROWS)
    meta, records = build(source, "")
    assert meta["duplicates"]["later_copies"]["same_id"] == 1
    assert markdown(records) == 2 * (1 + 2 + 1) + 2 * 2

    no_keys, records_no_keys = build(source, "keys")
    assert no_keys["duplicates"]["later_copies"] == {"same_id": 0, "same_battle": 0}
    assert markdown(records_no_keys) == markdown(records)

    no_markdown, records_no_markdown = build(source, "markdown")
    assert no_markdown["duplicates"] == meta["duplicates"]
    assert markdown(records_no_markdown) == 0
    for plain, other in zip(records, records_no_markdown, strict=True):
        assert plain["context"]["token_usage"] == other["context"]["token_usage"]
        assert plain["context"]["style"].keys() == other["context"]["style"].keys()


def test_an_unknown_feature_is_refused(tmp_path: Path) -> None:
    env = bench_build.without_env("keys,tokens")
    done = subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "unknown ['tokens']" in done.stderr


def test_the_cards_benchmark_measures_shards_and_row_groups_within_their_bounds(
    tmp_path: Path,
) -> None:
    """bench_card.py on a small build and small bounds: several shards, every bound held."""
    from arenatok.pipeline.driver import build as build_dataset

    out = tmp_path / "out"
    rows = [battle(f"q{i}", [(f"question {i}", "yes " * i, "no")]) for i in range(40)]
    build_dataset(write_parquet(tmp_path / "rows.parquet", rows), out=out, limit=None)
    bench_card = benchmark_module("bench_card")
    bounds = bench_card.Bounds(row_group_bytes=200_000, shard_bytes=1_000_000)
    measured, held = bench_card.run(out, 2000, tmp_path / "work", bounds)
    assert held
    assert {r["config"]: r["rows"] for r in measured} == {
        "default": 2000,
        "flat": 2000,
        "turns": 2000,
        "preference": 2000,
    }
    assert min(r["files"] for r in measured) >= 3
