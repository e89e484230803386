"""`pipeline.plan`: every option and source checked before any work, nothing written while
planning; the sources found with their file type, layout and provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from arenatok.errors import OptionError, SourceError
from arenatok.pipeline.plan import PROCESS_MIN_ROWS, plan
from tests.helpers import TINY, write_jsonl, write_parquet


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "b.jsonl", TINY)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "--limit"),
        ({"limit": True}, "--limit"),
        ({"workers": -1}, "--workers"),
        ({"batch_size": 0}, "batch_size"),
        ({"on_bad_row": "skip"}, "bad-row policy"),
        ({"duplicates": "keep"}, "duplicates policy"),
        ({"engine": "dask"}, "engine"),
        ({"counter": "slow"}, "counter"),
        ({"chat_overhead": "chatml"}, "chat format"),
        ({"encoding": []}, "no encoding given"),
        ({"encoding": "no_such_encoding"}, "no_such_encoding"),
    ],
)
def test_a_bad_option_fails_before_anything_is_made(
    src: Path, tmp_path: Path, options: dict[str, object], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(OptionError, match=message):
        plan(src, out=out, **options)  # type: ignore[arg-type]
    assert not out.exists()


def test_a_plan_makes_nothing_and_names_its_sources(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = plan([src, f"arena:{src}"], out=out, limit=None, workers=1)
    assert not out.exists()
    assert [s.file.file_type.name for s in p.sources] == ["jsonl", "jsonl"]
    assert [s.file.layout for s in p.sources] == ["arena", "arena"]
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert [s.provenance["sha256"] for s in p.sources] == [digest, digest]
    assert [s.index for s in p.sources] == [0, 1]
    assert p.options.dataset == "b.jsonl+b.jsonl"
    assert p.expected is None  # JSON Lines does not say how many rows it has
    assert (p.limit, p.workers, p.tokenizers[0]["name"]) == (None, 1, "cl100k_base")


def test_parquet_says_its_rows_and_the_limit_caps_them(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 10)
    assert plan(src, out=tmp_path / "o", limit=None).expected == len(TINY) * 10
    assert plan(src, out=tmp_path / "o", limit=7).expected == 7
    assert plan([src, src], out=tmp_path / "o", limit=7).expected == 14


def test_workers_auto_is_one_for_a_small_input(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY)
    assert len(TINY) < PROCESS_MIN_ROWS
    assert plan(src, out=tmp_path / "o", workers=None).workers == 1


def test_a_source_that_is_not_there_or_not_known(src: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        plan(tmp_path / "missing.jsonl", out=tmp_path / "o")
    with pytest.raises(SourceError, match="unknown layout: 'nope'"):
        plan(src, out=tmp_path / "o", layout="nope")
    # A prefix that names no layout is part of the path (a file name may hold a colon).
    with pytest.raises(SourceError, match=f"nope:{src}: no such file"):
        plan(f"nope:{src}", out=tmp_path / "o")
    with pytest.raises(OptionError, match="no source given"):
        plan([], out=tmp_path / "o")


def test_ray_takes_one_parquet_source(src: Path, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--engine ray reads one Parquet source, this is jsonl"):
        plan(src, out=tmp_path / "o", engine="ray")
