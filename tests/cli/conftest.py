"""Fixtures of the command line's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TINY, write_jsonl


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "b.jsonl", TINY)
