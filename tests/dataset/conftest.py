"""Fixtures of the dataset tools' tests: the real battles built and carded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.dataset.card import write_card
from arenatok.pipeline.driver import build


@pytest.fixture(scope="session")
def real_card(arena_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2,008 real battles built and carded (shared: copy it to change it)."""
    out = tmp_path_factory.mktemp("real") / "out"
    build(arena_parquet, out=out, limit=None)
    write_card(out)
    return out


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network for `datasets` and the Hub client; a cache of the test's own (returned)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "cache"
