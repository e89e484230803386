"""Output files. Every file is written to a temp file in the output directory and renamed into
place only when the whole build succeeded; `artifact_metadata.json` is renamed last.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import orjson

from arenatok.errors import OutputError
from arenatok.pipeline.battle import Reject
from arenatok.pipeline.records import Record, dumps_lines
from arenatok.runtime import interrupts
from arenatok.runtime.atomic import (
    BUILD_HINT,
    DirLock,
    TempFile,
    dumps_pretty,
    fsync_path,
    output_error,
    remove_stale_temps,
    temps,
)
from arenatok.runtime.derived import (
    DERIVED,
    MANIFEST,
    build_in,
    made_from,
    manifest_bytes,
    read_manifest,
    unchanged,
)

# Named once, in runtime.derived (which reads them too); re-exported with the other file names.
from arenatok.runtime.derived import JSONL as JSONL
from arenatok.runtime.derived import METADATA as METADATA

DATA = "data_out.json"
FULL = "full_data_out.json"
MINI = "mini_data_out.json"
PREVIEW = "preview_data_out.json"
REJECTS = "rejects.jsonl"
DUPLICATES = "duplicates.jsonl"
SCHEMA = "record.schema.json"
OUTPUTS = (DATA, FULL, MINI, PREVIEW, JSONL, REJECTS, DUPLICATES, SCHEMA)
"""Every file a build writes besides METADATA."""
MINI_SIZE = 3
PREVIEW_CHARS = 200


def cut_strings(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """A copy of `value` with every string longer than `limit` characters cut, marked
    `… [cut: N chars in all]`."""
    if isinstance(value, str):
        cut = len(value) > limit
        return f"{value[:limit]}… [cut: {len(value)} chars in all]" if cut else value
    if isinstance(value, Mapping):
        return {k: cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [cut_strings(v, limit) for v in value]
    return value


FICLONE = 0x40049409
"""Linux's ioctl that makes a file share another's blocks (a reflink: Btrfs, XFS, ...)."""


def clone_file(src: Path, dst: IO[bytes]) -> str:
    """Give `dst` (an empty file open for writing) the bytes of `src` without this process
    writing them: a reflink where the file system can share blocks ("reflink"), else a copy
    inside the kernel ("copy_file_range"), else a plain copy ("copy"). Returns which ran."""
    import fcntl
    import shutil

    with src.open("rb") as s:
        size = os.fstat(s.fileno()).st_size
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, s.fileno())
            return "reflink"
        except OSError:
            pass
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(s.fileno(), dst.fileno(), size - done)
                if n == 0:
                    break
                done += n
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise
        if done == size:
            return "copy_file_range"
        s.seek(0)
        dst.seek(0)
        dst.truncate()
        shutil.copyfileobj(s, dst, 1 << 20)
        return "copy"


def stray_temps(directory: Path) -> list[str]:
    """Temp files of arenatok's under `directory` (a killed run's, or a live run's), by their
    path relative to it."""
    names = (*OUTPUTS, METADATA, *DERIVED, MANIFEST)
    return sorted(
        str(stale.relative_to(directory)) for stale in temps(directory, names, through_links=True)
    )


class DatasetWriter:
    """Streams records into data_out.json and data_out.jsonl (and rejects into rejects.jsonl),
    keeps the first records for the mini and preview files, and commits everything at the end.

    Holds the output directory's lock from start to commit or discard. Until commit, only temp
    files are written; the files of an earlier run stay untouched."""

    def __init__(self, out_dir: Path, *, keep_rejects: bool, keep_duplicates: bool = False) -> None:
        self.out_dir = out_dir
        self._open: list[TempFile] = []
        self._first: list[Record] = []
        self._n = 0
        self.first_reject: dict[str, object] | None = None
        """The first reject entry added (kept to explain a build where every row failed)."""
        self.copy_method = ""
        """How full_data_out.json was made from data_out.json (see `clone_file`)."""
        self.kept: list[str] = []
        """Files named like derived ones that the commit left: not made from the build it
        replaced."""
        self._lock: DirLock | None = None
        self._made: list[Path] = []
        """The directories this build made (the outermost first): a build that fails leaves
        none of them behind empty."""
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="arenatok-sync")
        try:
            self._made = [d for d in (out_dir, *out_dir.parents) if not d.exists()][::-1]
            out_dir.mkdir(parents=True, exist_ok=True)
            self._lock = DirLock(out_dir)
            remove_stale_temps(out_dir, (*OUTPUTS, METADATA, *DERIVED, MANIFEST))
            self._writes = {DATA, FULL, MINI, PREVIEW, JSONL, SCHEMA, METADATA}
            self._writes |= {REJECTS} if keep_rejects else set()
            self._writes |= {DUPLICATES} if keep_duplicates else set()
            self._previous = _listed(out_dir, self._writes)
            self._data = self._new(DATA)
            self._jsonl = self._new(JSONL)
            self._rejects = self._new(REJECTS) if keep_rejects else None
            self._duplicates = self._new(DUPLICATES) if keep_duplicates else None
        except OSError as e:
            self.discard()
            raise output_error(out_dir, e, hint=BUILD_HINT) from e
        except BaseException:
            self.discard()
            raise
        self._write_data(b'{"examples": [\n')

    def _write_data(self, data: bytes) -> None:
        """Append to data_out.json (full_data_out.json is made from it at the end)."""
        self._guard(self._data.write, data)

    def _new(self, name: str, *, hashed: bool = True) -> TempFile:
        f = TempFile(self.out_dir / name, hashed=hashed, syncer=self._syncer)
        self._open.append(f)
        return f

    def _guard(self, write: Callable[[bytes], None], data: bytes) -> None:
        try:
            write(data)
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=BUILD_HINT) from e

    def add(
        self,
        block: bytes,
        n: int,
        first_records: Sequence[Record] = (),
        rejects: Iterable[dict[str, object]] = (),
        duplicates: Sequence[dict[str, object]] = (),
    ) -> None:
        """Append a block of `n` records made by `dumps_lines` (and reject and duplicate
        entries), in order; `first_records` are the block's first records, kept for the mini
        and preview files."""
        self._first.extend(first_records[: MINI_SIZE - len(self._first)])
        if n:
            self._guard(self._jsonl.write, block)
            self._guard(self._jsonl.write, b"\n")
            if self._n:
                self._write_data(b",\n")
            self._write_data(block.replace(b"\n", b",\n"))
            self._n += n
        entries = list(rejects)
        if entries and self.first_reject is None:
            self.first_reject = entries[0]
        if self._rejects is not None and entries:
            self._guard(self._rejects.write, dumps_lines(entries) + b"\n")
        if self._duplicates is not None and duplicates:
            self._guard(self._duplicates.write, dumps_lines(duplicates) + b"\n")

    def commit(self, metadata: Mapping[str, object]) -> dict[str, dict[str, object]]:
        """Complete every file as a temp file (flushed to the disk), then remove the files
        derived from an earlier build (`DERIVED`), rename every file into place and
        artifact_metadata.json (with the size and sha256 of every other file) last, and flush
        the directory. Ctrl-C waits until the renames are done. Returns that file table."""
        self._write_data(b"\n]}\n" if self._n else b"]}\n")
        small = {
            MINI: dumps_pretty({"examples": self._first}).encode("utf-8"),
            PREVIEW: dumps_pretty({"examples": cut_strings(self._first)}).encode("utf-8"),
            SCHEMA: schema_bytes(),
        }
        try:
            previous = _listed(self.out_dir, self._writes)  # the lock held: as at the start
            predecessor = build_in(self.out_dir)
            files = {f.final.name: f.close() for f in self._open}
            # The same bytes as data_out.json, without this process writing them again: a copy,
            # not a hard link (editing one file must not change the other).
            full = self._new(FULL, hashed=False)
            self.copy_method = clone_file(self._data.tmp, full.file)
            full.close()
            for name, data in small.items():
                f = self._new(name)
                f.write(data)
                files[name] = f.close()
            files[FULL] = files[DATA]
            table = dict(sorted(files.items()))
            meta = self._new(METADATA)
            meta.write(
                dumps_pretty(
                    {**metadata, "full_data_out_copy": self.copy_method, "files": table}
                ).encode("utf-8")
            )
            meta.close()
            with interrupts.held():
                (self.out_dir / METADATA).unlink(missing_ok=True)
                self.kept = remove_derived(self.out_dir, {predecessor} if predecessor else set())
                for f in self._open:
                    if f is not meta:
                        f.tmp.replace(f.final)
                for name in sorted(set(previous) - self._writes):
                    if unchanged(self.out_dir, name, previous):
                        (self.out_dir / name).unlink()
                    elif (self.out_dir / name).exists():
                        self.kept.append(f"{name} (changed since the last build wrote it)")
                meta.tmp.replace(meta.final)
                fsync_path(self.out_dir)
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=BUILD_HINT) from e
        except BaseException:
            self.discard()
            raise
        self._open.clear()
        self._release()
        return table

    def discard(self) -> None:
        """Remove every temp file; files of an earlier complete run stay as they were."""
        for f in self._open:
            f.discard()
        self._open.clear()
        self._release()
        for made in reversed(self._made):
            try:
                made.rmdir()
            except OSError:  # not empty (or gone): what is in it stays
                break
        self._made = []

    def _release(self) -> None:
        self._syncer.shutdown(wait=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _listed(out_dir: Path, writes: set[str]) -> dict[str, dict[str, Any]]:
    """The files of the build in `out_dir` (its metadata's file table; only names a build
    writes), after checking that every file of the names in `writes` that is there is one of
    them: a build replaces only its own files (an OutputError names the first other)."""
    try:
        table = orjson.loads((out_dir / METADATA).read_bytes())["files"]
        listed = {
            name: entry
            for name, entry in table.items()
            if name in OUTPUTS and isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        }
        ours = True
    except FileNotFoundError:
        listed, ours = {}, False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        listed, ours = {}, False  # not metadata of ours: it is not replaced either
    for name in sorted(writes):
        path = out_dir / name
        if not path.exists() and not path.is_symlink():
            continue
        if name in listed or (name == METADATA and ours):
            continue
        raise OutputError(
            f"{path}: is not a file of the build in {out_dir} (its {METADATA} does not list "
            "it); arenatok does not replace files it did not write",
            hint=f"move it away, or {BUILD_HINT}",
        )
    return listed


def remove_derived(out_dir: Path, builds: set[str]) -> list[str]:
    """Remove the files derived from a build (`DERIVED`) that the directory's list
    (`derived.MANIFEST`) names as written by arenatok, unchanged since, and made from one of
    `builds` (and data/ when that leaves it empty); leave any other file of those names, a
    link, or a file under a linked data/. Returns the names left, each with why."""
    kept = []
    listed = read_manifest(out_dir)
    for name in DERIVED:
        path = out_dir / name
        if not path.exists() and not path.is_symlink():
            listed.pop(name, None)
            continue
        maker = made_from(path)
        if path.parent != out_dir and path.parent.is_symlink():
            kept.append(f"{name} (under a symbolic link)")
        elif maker is None:
            kept.append(f"{name} (arenatok did not make it)")
        elif maker not in builds:
            kept.append(f"{name} (another build)")
        elif not unchanged(out_dir, name, listed):
            kept.append(f"{name} (changed since arenatok wrote it, or not listed as its own)")
        else:
            path.unlink()
            listed.pop(name)
    data = out_dir / "data"
    if data.is_dir() and not data.is_symlink() and not any(data.iterdir()):
        data.rmdir()
    if (out_dir / MANIFEST).is_file() and not (out_dir / MANIFEST).is_symlink():
        if listed:
            f = TempFile(out_dir / MANIFEST, hashed=False)
            f.write(manifest_bytes(listed))
            f.close()
            f.tmp.replace(f.final)
        else:
            (out_dir / MANIFEST).unlink()
    return kept


def schema_bytes() -> bytes:
    """The JSON Schema of one output record, as shipped in the package."""
    import importlib.resources

    return (importlib.resources.files("arenatok") / SCHEMA).read_bytes()


def reject_entry(file: str, reject: Reject) -> dict[str, object]:
    """The rejects.jsonl line of a reject (`row`: counted from 1, in source order)."""
    return {
        "file": file,
        "row": reject.row,
        "question_id": reject.question_id,
        "reason": reject.reason,
    }
