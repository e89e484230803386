"""Output files. Every file is written to a temp file in the output directory and renamed into
place only when the whole build succeeded; `artifact_metadata.json` is renamed last.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Any

import orjson

from arenatok.errors import OutputError
from arenatok.interrupts import deferred_signals
from arenatok.records import Record, Reject

DATA = "data_out.json"
FULL = "full_data_out.json"
MINI = "mini_data_out.json"
PREVIEW = "preview_data_out.json"
JSONL = "data_out.jsonl"
REJECTS = "rejects.jsonl"
METADATA = "artifact_metadata.json"
SCHEMA = "record.schema.json"
OUTPUTS = (DATA, FULL, MINI, PREVIEW, JSONL, REJECTS, SCHEMA)
"""Every file a build writes besides METADATA."""

MINI_SIZE = 3
PREVIEW_CHARS = 200

_LINE_BREAKS = (
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
    (b"\xc2\x85", b"\\u0085"),
)


def dumps_lines(objs: Iterable[object], *, escape: bool = True) -> bytes:
    """Compact UTF-8 JSON, one line per object, lines joined by b"\\n" (no final newline).

    orjson keeps keys in insertion order and writes floats in shortest round-trip form. U+2028,
    U+2029 and U+0085 are escaped as well: they are legal in JSON strings, but some line
    splitters (str.splitlines) would break the line there. `escape=False` skips that search
    when the caller knows that no string holds one (see `has_line_breaks`). A raw b"\\n"
    occurs only between lines, since JSON escapes newlines inside strings."""
    block = b"\n".join([orjson.dumps(o) for o in objs])
    if escape:
        for raw, escaped in _LINE_BREAKS:
            if raw in block:
                block = block.replace(raw, escaped)
    return block


def has_line_breaks(strings: Iterable[str]) -> bool:
    """Whether any string holds U+2028, U+2029 or U+0085 (fast: str search, most texts are
    one byte per character and cannot hold the first two at all)."""
    return any("\u2028" in s or "\u2029" in s or "\x85" in s for s in strings)


def dumps_pretty(obj: object) -> str:
    """Indented JSON for the small files meant to be read by people."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


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


def _output_error(path: Path, e: OSError) -> OutputError:
    if e.errno == errno.ENOSPC:
        return OutputError(f"{path}: no space left on the device", hint="free space and retry")
    if isinstance(e, PermissionError):
        return OutputError(f"{path}: permission denied", hint="choose another --out directory")
    return OutputError(f"{path}: cannot write: {e.strerror or e}")


@cache
def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _mkstemp(final: Path) -> tuple[int, Path]:
    """A temp file beside `final` (same file system, so the rename is atomic), with the
    permissions a plain open() would give."""
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.fchmod(fd, _file_mode())
    return fd, Path(tmp)


class _HashingFile:
    """A file in the making: a temp file beside its final name, hashed as it is written."""

    def __init__(self, final: Path) -> None:
        self.final = final
        fd, self.tmp = _mkstemp(final)
        self._fh: IO[bytes] = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._sha.update(data)
        self.size += len(data)
        self._fh.write(data)

    def close(self) -> dict[str, object]:
        self._fh.close()
        return {"bytes": self.size, "sha256": self._sha.hexdigest()}

    def discard(self) -> None:
        self._fh.close()
        self.tmp.unlink(missing_ok=True)


LOCK = ".arenatok.lock"


class _DirLock:
    """An exclusive lock on an output directory: `flock` on DIR/.arenatok.lock, which holds the
    holder's pid and is removed at the end. The kernel drops the lock when its holder dies, so
    a lock file left by a killed build is simply taken over."""

    def __init__(self, directory: Path) -> None:
        import fcntl

        self.path = directory / LOCK
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"{directory}: another arenatok build (pid {holder}) is writing here",
                    hint="wait for it to finish, or choose another --out directory",
                ) from None
            # The file may have been replaced between open and lock: lock the current one.
            if self.path.exists() and os.fstat(fd).st_ino == self.path.stat().st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            # Unlink while still holding the lock; a build waiting on the old file notices the
            # change of inode above and locks the new file instead.
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def _remove_stale_temps(directory: Path) -> None:
    """Temp files that a killed build left behind (only ours: .<output name>.<random>.tmp)."""
    for name in (*OUTPUTS, METADATA):
        for stale in directory.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


class DatasetWriter:
    """Streams records into data_out.json and data_out.jsonl (and rejects into rejects.jsonl),
    keeps the first records for the mini and preview files, and commits everything at the end.

    Holds the output directory's lock from start to commit or discard. Until commit, only temp
    files are written; the files of an earlier run stay untouched."""

    def __init__(self, out_dir: Path, *, keep_rejects: bool) -> None:
        self.out_dir = out_dir
        self._open: list[_HashingFile] = []
        self._head: list[Record] = []
        self._n = 0
        self._lock: _DirLock | None = None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._lock = _DirLock(out_dir)
            _remove_stale_temps(out_dir)
            self._data = self._new(DATA)
            self._jsonl = self._new(JSONL)
            self._rejects = self._new(REJECTS) if keep_rejects else None
        except OSError as e:
            self.discard()
            raise _output_error(out_dir, e) from None
        except BaseException:
            self.discard()
            raise
        self._guard(self._data.write, b'{"examples": [\n')

    def _new(self, name: str) -> _HashingFile:
        f = _HashingFile(self.out_dir / name)
        self._open.append(f)
        return f

    def _guard(self, write: Callable[[bytes], None], data: bytes) -> None:
        try:
            write(data)
        except OSError as e:
            self.discard()
            raise _output_error(self.out_dir, e) from None

    def add(
        self,
        block: bytes,
        n: int,
        head: Sequence[Record] = (),
        rejects: Iterable[Mapping[str, object]] = (),
    ) -> None:
        """Append a block of `n` records made by `dumps_lines` (and reject entries), in order;
        `head` is the block's first records, kept for the mini and preview files."""
        self._head.extend(head[: MINI_SIZE - len(self._head)])
        if n:
            self._guard(self._jsonl.write, block)
            self._guard(self._jsonl.write, b"\n")
            self._guard(self._data.write, b",\n" if self._n else b"")
            self._guard(self._data.write, block.replace(b"\n", b",\n"))
            self._n += n
        if self._rejects is not None:
            lines = dumps_lines(rejects)
            if lines:
                self._guard(self._rejects.write, lines + b"\n")

    def commit(self, metadata: Mapping[str, object]) -> dict[str, dict[str, object]]:
        """Complete every file as a temp file, then rename them all into place and write
        artifact_metadata.json (with the size and sha256 of every other file) last; Ctrl-C
        waits until the renames are done. Returns that file table."""
        self._guard(self._data.write, b"\n]}\n" if self._n else b"]}\n")
        small = {
            MINI: dumps_pretty({"examples": self._head}).encode("utf-8"),
            PREVIEW: dumps_pretty({"examples": cut_strings(self._head)}).encode("utf-8"),
            SCHEMA: schema_bytes(),
        }
        try:
            files = {f.final.name: f.close() for f in self._open}
            for name, data in small.items():
                f = self._new(name)
                f.write(data)
                files[name] = f.close()
            full = self._new(FULL)
            full.close()
            shutil.copyfile(self._data.tmp, full.tmp)  # an in-kernel copy (sendfile) on Linux
            files[FULL] = files[DATA]
            table = dict(sorted(files.items()))
            meta = self._new(METADATA)
            meta.write(dumps_pretty({**metadata, "files": table}).encode("utf-8"))
            meta.close()
            with deferred_signals():
                (self.out_dir / METADATA).unlink(missing_ok=True)
                for f in self._open:
                    if f is not meta:
                        f.tmp.replace(f.final)
                if self._rejects is None:
                    (self.out_dir / REJECTS).unlink(missing_ok=True)
                meta.tmp.replace(meta.final)
        except OSError as e:
            self.discard()
            raise _output_error(self.out_dir, e) from None
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

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    fd, tmp = _mkstemp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def schema_bytes() -> bytes:
    """The JSON Schema of one output record, as shipped in the package."""
    import importlib.resources

    return (importlib.resources.files("arenatok") / SCHEMA).read_bytes()


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + rename)."""
    p = Path(path)
    try:
        with _atomic(p) as fh:
            fh.write(data)
    except OSError as e:
        raise _output_error(p, e) from None


def write_json(path: str | Path, obj: object) -> None:
    """Write `obj` as indented JSON to `path`, atomically (temp file + rename)."""
    write_bytes(path, dumps_pretty(obj).encode("utf-8"))


def reject_entry(file: str, reject: Reject) -> dict[str, object]:
    """The rejects.jsonl line of a reject."""
    return {
        "file": file,
        "row": reject.row,
        "question_id": reject.question_id,
        "reason": reject.reason,
    }
