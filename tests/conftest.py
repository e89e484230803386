"""Fixtures: tiny hand-written battles and the real arena data from ../shared."""

from __future__ import annotations

import copy
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import TINY, battle, need_shared

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A background job of a shell without job control (`cmd &` in a script) starts with SIGINT
    # ignored, and so would every process the tests start: the signal tests need the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)

if os.environ.get("MUTANT_UNDER_TEST"):
    # Under `mutmut run` (see pyproject.toml): arenatok may have been imported from the
    # checkout before mutmut put its mutated copy first on sys.path; drop it and the finders
    # that cached the paths, so that the tests import the mutated copy.
    for _name in [m for m in sys.modules if m == "arenatok" or m.startswith("arenatok.")]:
        del sys.modules[_name]
    sys.path_importer_cache.clear()

WORDS = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on"]


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


@pytest.fixture(scope="session")
def slow_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 battles of distinct multi-kilobyte texts: a build that takes seconds."""
    rng = random.Random(7)

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(n))

    rows = [battle(f"q{i}", [(text(30), text(600), text(600))]) for i in range(6000)]
    path = tmp_path_factory.mktemp("slow") / "slow.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=500)
    return path
