"""Fixtures of the end-to-end suites: small builds to attack."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, write_jsonl


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "b.jsonl", [*TINY, battle("bad", winner="nobody")])


@pytest.fixture
def built(tmp_path: Path) -> Path:
    rows = [battle(f"q{i}", winner=["model_a", "model_b", "tie"][i % 3]) for i in range(60)]
    for i, row in enumerate(rows):
        row["conversation_a"][0]["content"] = f"question {i}"
        row["conversation_b"][0]["content"] = f"question {i}"
        row["conversation_a"][1]["content"] = "yes " * (1 + i % 7)
    out = tmp_path / "built"
    build(write_jsonl(tmp_path / "rows.jsonl", rows), out=out, limit=None)
    return out


@pytest.fixture
def tiny_build(tmp_path: Path) -> Path:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    return out
