"""`bench.strategies.embed`: WordLlama offline, its cost at 16 bits and fewer; without its
extra, one error that says how to install it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok.bench.strategies import parse_strategies
from arenatok.cli import cli
from tests.bench.planted import bench_planted


def test_embed_strategy_offline(tmp_path: Path) -> None:
    pytest.importorskip("wordllama", reason="the embed extra is not installed")
    got = bench_planted(tmp_path, "end", ["embed:64", "embed:64@2"])
    row = got["embed:64"]
    assert row["bytes_per_side"] == 2 * 64 * 2  # two messages, 64 float16 numbers each
    assert got["embed:64@2"]["bytes_per_side"] == 2 * 64 * 2 / 8  # 2 bits a number
    [strategy] = parse_strategies(["embed"])
    assert strategy.name == "embed"


def test_embed_without_its_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "wordllama" else real(name, *a),
    )
    result = CliRunner().invoke(cli, ["bench", "nowhere", "--strategy", "embed:64"])
    assert result.exit_code == 4
    assert result.output == (
        "Error: the embed strategies need wordllama, which is not installed\n"
        "Hint: pip install 'arenatok[embed]'\n"
    )
