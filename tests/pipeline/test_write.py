"""Output files: one JSON line per object, atomic and durable writes, the caller's state left
alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest

from arenatok.errors import OutputError
from arenatok.pipeline import write
from arenatok.pipeline.records import dumps_lines
from arenatok.pipeline.write import DatasetWriter, derived_to_remove
from arenatok.runtime import atomic
from arenatok.runtime.atomic import write_together
from arenatok.runtime.derived import DERIVED


def test_large_files_are_flushed_in_the_background_and_full_is_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(atomic, "SYNC_EVERY", 100)
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real(fd))[1])
    writer = DatasetWriter(tmp_path, keep_rejects=False)
    for i in range(20):
        writer.add(dumps_lines([{"i": i, "text": "x" * 50}] * 3), 3)
    files = writer.commit({"counts": {}})["files"]
    assert synced  # flushed while the build went on, not only at the end
    data = (tmp_path / write.DATA).read_bytes()
    assert (tmp_path / write.FULL).read_bytes() == data
    assert (tmp_path / write.FULL).stat().st_ino != (tmp_path / write.DATA).stat().st_ino
    assert files[write.FULL] == files[write.DATA]
    assert len(orjson.loads(data)["examples"]) == 60


def test_every_file_is_flushed_to_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    writer = DatasetWriter(tmp_path, keep_rejects=True)
    writer.add(b'{"a": 1}', 1)
    files = writer.commit({"counts": {}})["files"]
    # each file before its rename, and the directory after
    assert len(synced) >= len(files) + 1 + 1
    write_together(tmp_path, {"y": b"y"}, hint="")
    assert len(synced) >= len(files) + 4


def test_discard_leaves_nothing(tmp_path: Path) -> None:
    writer = DatasetWriter(tmp_path, keep_rejects=True)
    writer.add(b'{"a": 1}', 1, rejects=[{"row": 1}])
    writer.discard()
    assert list(tmp_path.iterdir()) == []


OLD = "ab" * 32
"""The build id (a sha256) that the derived files of the tests below name."""


def list_derived(directory: Path, build: str, names: tuple[str, ...] = ()) -> None:
    """The derived files in `directory` listed as written by arenatok (derived.MANIFEST)."""
    from arenatok.runtime.atomic import sha256_file
    from arenatok.runtime.derived import DERIVED, MANIFEST, manifest_bytes

    listed = {
        name: {
            "bytes": (directory / name).stat().st_size,
            "sha256": sha256_file(directory / name),
            "build": build,
        }
        for name in names or DERIVED
        if (directory / name).is_file()
    }
    (directory / MANIFEST).write_bytes(manifest_bytes(listed))


def plant_derived(directory: Path, build: str) -> None:
    """One file of each derived name, each naming `build` as its maker the way arenatok's do,
    and listed as arenatok's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (directory / "data").mkdir(exist_ok=True)
    for name in ("report.json", "bench.json"):
        (directory / name).write_text(json.dumps({"build": build}))
    for name in ("report.html", "bench.html"):
        (directory / name).write_text(f'<html><meta name="arenatok-build" content="{build}">')
    table = pa.table({"a": [1]}).replace_schema_metadata({"arenatok_build": build})
    pq.write_table(table, directory / "data/train-00000-of-00001.parquet")
    (directory / "README.md").write_text(
        f"---\nlicense: other\narenatok:\n  made_with: arenatok\n  build: {build}\n---\n# card\n"
    )
    list_derived(directory, build)


def test_commit_lists_every_file_and_removes_derived_ones(tmp_path: Path) -> None:
    plant_derived(tmp_path, OLD)
    (tmp_path / write.METADATA).write_text(json.dumps({"files": {write.JSONL: {"sha256": OLD}}}))
    writer = DatasetWriter(tmp_path, keep_rejects=False)
    writer.add(b'{"a": 1}\n{"a": 2}', 2)
    files = writer.commit({"counts": {}})["files"]
    assert sorted(files) == sorted(set(write.OUTPUTS) - {write.REJECTS, write.DUPLICATES})
    assert not any((tmp_path / n).exists() for n in DERIVED)
    assert not (tmp_path / "data").exists()
    assert writer.kept == []
    assert (tmp_path / write.JSONL).read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    meta = orjson.loads((tmp_path / write.METADATA).read_bytes())
    assert meta["files"] == files


def test_remove_derived_keeps_a_readme_of_the_users(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "report.json").write_text(json.dumps({"build": OLD}))
    list_derived(tmp_path, OLD, ("report.json",))
    plan = derived_to_remove(tmp_path, {OLD})
    assert plan.kept == ["README.md (arenatok did not make it)"]
    assert plan.unlink == ["report.json"]
    assert plan.unlink_manifest


def test_a_build_removes_only_what_was_made_from_the_build_it_replaces(tmp_path: Path) -> None:
    """The user's own files of derived names, and ours made from another build, stay; the
    build says so."""
    plant_derived(tmp_path, "cd" * 32)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (tmp_path / write.METADATA).write_text(json.dumps({"files": {write.JSONL: {"sha256": OLD}}}))
    writer = DatasetWriter(tmp_path, keep_rejects=False)
    writer.add(b'{"a": 1}', 1)
    writer.commit({"counts": {}})
    assert {p: p.read_bytes() for p in before} == before
    assert writer.kept == [f"{n} (another build)" for n in DERIVED]


def test_a_failed_background_flush_fails_the_build_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "SYNC_EVERY", 100)
    monkeypatch.setattr(os, "fdatasync", full)
    writer = DatasetWriter(tmp_path, keep_rejects=False)

    def build() -> None:
        for i in range(20):
            writer.add(dumps_lines([{"i": i, "text": "x" * 50}] * 3), 3)
        writer.commit({"counts": {}})

    with pytest.raises(OutputError, match="no space left on the device"):
        build()
    assert list(tmp_path.iterdir()) == []
