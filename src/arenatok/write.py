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
from arenatok.records import Record, Reject

DATA = "data_out.json"
FULL = "full_data_out.json"
MINI = "mini_data_out.json"
PREVIEW = "preview_data_out.json"
JSONL = "data_out.jsonl"
REJECTS = "rejects.jsonl"
METADATA = "artifact_metadata.json"

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
    """A text file in the making: a temp file beside its final name, hashed as it is written."""

    def __init__(self, directory: Path, name: str) -> None:
        self.final = directory / name
        fd, self.tmp = _mkstemp(self.final)
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


class DatasetWriter:
    """Streams records into data_out.json and data_out.jsonl (and rejects into rejects.jsonl),
    keeps the first records for the mini and preview files, and commits everything at the end."""

    def __init__(self, out_dir: Path, *, keep_rejects: bool) -> None:
        self.out_dir = out_dir
        self._open: list[_HashingFile] = []
        self._head: list[Record] = []
        self._n = 0
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._data = self._new(DATA)
            self._jsonl = self._new(JSONL)
            self._rejects = self._new(REJECTS) if keep_rejects else None
        except OSError as e:
            self.discard()
            raise _output_error(out_dir, e) from None
        self._guard(self._data.write, b'{"examples": [\n')

    def _new(self, name: str) -> _HashingFile:
        f = _HashingFile(self.out_dir, name)
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
        """Finish every file, rename all into place, then write artifact_metadata.json (with the
        size and sha256 of every other file) last. Returns that file table."""
        self._guard(self._data.write, b"\n]}\n" if self._n else b"]}\n")
        small = {
            MINI: dumps_pretty({"examples": self._head}),
            PREVIEW: dumps_pretty({"examples": cut_strings(self._head)}),
        }
        try:
            files = {f.final.name: f.close() for f in self._open}
            for name, text in small.items():
                data = text.encode("utf-8")
                with _atomic(self.out_dir / name) as fh:
                    fh.write(data)
                files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            (self.out_dir / METADATA).unlink(missing_ok=True)
            for f in self._open:
                f.tmp.replace(f.final)
            _atomic_copy(self.out_dir / DATA, self.out_dir / FULL)
            files[FULL] = files[DATA]
            if self._rejects is None:
                (self.out_dir / REJECTS).unlink(missing_ok=True)
            table = dict(sorted(files.items()))
            meta = dumps_pretty({**metadata, "files": table}).encode("utf-8")
            with _atomic(self.out_dir / METADATA) as fh:
                fh.write(meta)
        except OSError as e:
            self.discard()
            raise _output_error(self.out_dir, e) from None
        self._open.clear()
        return table

    def discard(self) -> None:
        """Remove every temp file; files of an earlier complete run stay as they were."""
        for f in self._open:
            f.discard()
        self._open.clear()


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


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = _mkstemp(dst)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)  # an in-kernel copy (sendfile) on Linux
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: object) -> None:
    """Write `obj` as indented JSON to `path`, atomically (temp file + rename)."""
    p = Path(path)
    try:
        with _atomic(p) as fh:
            fh.write(dumps_pretty(obj).encode("utf-8"))
    except OSError as e:
        raise _output_error(p, e) from None


def reject_entry(file: str, reject: Reject) -> dict[str, object]:
    """The rejects.jsonl line of a reject."""
    return {
        "file": file,
        "row": reject.row,
        "question_id": reject.question_id,
        "reason": reject.reason,
    }
