"""Fixtures of the bench's tests: a build whose tokens split characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.helpers import battle, write_jsonl


@pytest.fixture(scope="session")
def unicode_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Multi-turn battles with emoji, accents and CJK, whose tokens split characters."""
    tmp = tmp_path_factory.mktemp("uni")
    pieces = ["héllo wörld", "日本語のテキスト", "🙂🙃 emoji ", "naïve café", "plain words here"]
    rows = []
    for i in range(40):
        turns = [
            (
                f"q{i} {pieces[(i + t) % 5] * (t + 1)}",
                pieces[i % 5] * (3 + i % 7),
                pieces[(i + 2) % 5] * (1 + t),
            )
            for t in range(1 + i % 3)
        ]
        rows.append(battle(f"u{i}", turns, winner="model_a" if i % 2 else "model_b"))
    out = tmp / "out"
    build(write_jsonl(tmp / "u.jsonl", rows), out=out, limit=None)
    return out
