"""Fixtures: tiny hand-written battles and the real arena data from ../shared."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TINY, need_shared


@pytest.fixture
def tiny() -> list[dict[str, Any]]:
    return copy.deepcopy(TINY)


@pytest.fixture(scope="session")
def arena_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2,008 real battles (EloBench copy of lmsys/chatbot_arena_conversations) as Parquet,
    made by ../shared/tools/elobench_to_arena.py."""
    shared = need_shared()
    out = tmp_path_factory.mktemp("arena") / "elobench.parquet"
    subprocess.run(
        [
            sys.executable,
            str(shared / "tools" / "elobench_to_arena.py"),
            "--elobench-dir",
            str(shared / "data" / "v-xchen-v_EloBench"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out
