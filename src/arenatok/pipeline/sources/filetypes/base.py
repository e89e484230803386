"""What every file type shares: the batches they yield (`Payload`: an Arrow record batch,
raw JSON lines decoded where the batch is processed, or decoded rows), JSON objects decoded with
a key named twice or a whole number too long to convert refused, compressed files read as they
are decompressed, and the contract a file type fills (`FileType`). A new file type is one
module beside this one that defines `FILE_TYPE`."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, TypeAlias, cast

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline.battle import RowProblem

if TYPE_CHECKING:
    import pyarrow as pa


AGAIN = "download or write the file again (it may be cut short)"

BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, which some editors put at the start of a text file."""


COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2", ".xz": "xz"}
"""Compressed text files by their suffix (`x.jsonl.gz`); `MAGIC` tells them by their bytes."""

MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}


def compression_of(path: Path, start: bytes) -> str | None:
    """How a file is compressed (gzip, zstd, bz2, xz), by its first bytes (`start`), or None
    (a name such as `x.jsonl.gz` over plain bytes is read as the plain file it is)."""
    return next((name for magic, name in MAGIC.items() if start.startswith(magic)), None)


def open_data(path: Path, compression: str | None) -> BinaryIO:
    """A file's data as a binary stream, decompressed where it is compressed."""
    if compression is None:
        return path.open("rb")
    if compression == "gzip":
        import gzip

        return cast(BinaryIO, gzip.open(path, "rb"))
    if compression == "bz2":
        import bz2

        return cast(BinaryIO, bz2.open(path, "rb"))
    if compression == "xz":
        import lzma

        return cast(BinaryIO, lzma.open(path, "rb"))
    import io

    import pyarrow as pa

    return io.BufferedReader(pa.input_stream(str(path), compression="zstd"))


def sha256_data(path: Path, compression: str | None) -> tuple[str, int]:
    """The sha256 and size of a file's data (decompressed where it is compressed)."""
    import hashlib

    h, n = hashlib.sha256(), 0
    with compressed(path, compression), open_data(path, compression) as f:
        while block := f.read(1 << 20):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


@contextmanager
def compressed(path: Path, compression: str | None) -> Iterator[None]:
    """A compressed stream that is cut short or corrupt is a SourceError that says so (the
    disk's own errors, which have an errno, are left as they are)."""
    import lzma
    import zlib

    if compression is None:
        yield
        return
    try:
        yield
    except OSError as e:
        if e.errno is not None:
            raise
        raise SourceError(
            f"{path}: the {compression} data is corrupt ({first_line(e)})", hint=AGAIN
        ) from e
    except (EOFError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise resource_error(e) or SourceError(
            f"{path}: the {compression} data is corrupt or cut short ({first_line(e)})", hint=AGAIN
        ) from e


@dataclass(frozen=True)
class JsonLines:
    """Raw lines of a JSON Lines file, decoded where the batch is processed."""

    first_line: int
    lines: list[bytes]

    def __len__(self) -> int:
        return len(self.lines)


Payload: TypeAlias = "pa.RecordBatch | JsonLines | list[Any]"
"""One batch as read: a pyarrow RecordBatch (Parquet, CSV), JsonLines, or a list of decoded rows
(JSON list files)."""


def rows_of(payload: Payload) -> list[Any]:
    """The rows of a batch as plain Python values. JSON Lines rows that do not parse become
    `RowProblem`s, so that they are rejected like any other bad row."""
    if isinstance(payload, JsonLines):
        return [_decode_line(raw, payload.first_line + i) for i, raw in enumerate(payload.lines)]
    if isinstance(payload, list):
        return payload
    rows: list[Any] = payload.to_pylist()
    return rows


def first_rows(payload: Payload, n: int) -> Payload:
    """The first n rows of a batch."""
    if isinstance(payload, JsonLines):
        return JsonLines(payload.first_line, payload.lines[:n])
    if isinstance(payload, list):
        return payload[:n]
    return payload.slice(0, n)


class _KeyTwice(Exception):
    """An object of a record names a key twice."""


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict; a key named twice is refused (json keeps the last value
    silently: a second `winner` would change the vote)."""
    d = dict(pairs)
    if len(d) < len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _KeyTwice(k)
            seen.add(k)
    return d


def key_twice(key: str) -> str:
    """The reason a row that names `key` twice in one object is refused."""
    return f"names the key {key!r} twice in one object (which value is meant cannot be told)"


class TooLong(ValueError):
    """A JSON whole number with more digits than Python converts (its int/str conversion
    limit, 4,300 digits by default); its `reason` is why the row that holds it is refused."""

    def __init__(self, digits: int) -> None:
        self.reason = f"holds a whole number of {digits:,} digits, more than Python converts"
        super().__init__(self.reason)


def integer(text: str) -> int:
    """A JSON whole number as Python reads it, or TooLong (instead of int()'s ValueError, which
    json and ijson would report as the file's error, or not at all)."""
    try:
        return int(text)
    except ValueError:
        raise TooLong(len(text.lstrip("-"))) from None


def _decode_line(raw: bytes, lineno: int) -> Any:
    # Binary lines split on b"\n" only: U+2028 inside a string is data, not a line break.
    if not raw.strip():
        return RowProblem(f"line {lineno} is empty")
    raw = raw.rstrip(b"\r\n")  # else an error at the end of a cut line is "line 2, column 1"
    try:
        return json.loads(raw, object_pairs_hook=_once, parse_int=integer)
    except _KeyTwice as e:
        return RowProblem(f"line {lineno} {key_twice(e.args[0])}")
    except TooLong as e:
        return RowProblem(f"line {lineno} {e.reason}")
    except RecursionError:
        return RowProblem(f"line {lineno} is nested too deeply to read")
    except UnicodeDecodeError as e:
        return RowProblem(f"line {lineno} is not valid UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        return RowProblem(f"line {lineno} is not valid JSON: {e.msg} (column {e.colno})")


class FileType(ABC):
    """One kind of file battles come in: the contract every module of this package fills (as
    `FILE_TYPE`)."""

    name: ClassVar[str]
    """What the metadata's `file_type` says."""
    suffixes: ClassVar[tuple[str, ...]]
    """Names that decide the file type (`.jsonl`); other files are told by their first bytes."""
    order: ClassVar[int]
    """Sniffing by the first bytes tries the file types in this order."""
    compressible: ClassVar[bool] = True
    """It may come compressed (gzip, zstd, bz2, xz): a text format."""
    has_columns: ClassVar[bool] = False
    """Its columns are known before the rows are read (they tell the layout); otherwise the
    layout is told by the keys of the first rows."""
    flat: ClassVar[bool] = False
    """It holds only strings and numbers: only a flat layout fits it."""

    def starts(self, start: bytes) -> bool:
        """Whether a file whose data begins with `start` (after a byte order mark) is of this
        type."""
        return False

    def columns(self, path: Path, compression: str | None) -> tuple[list[str], Any]:
        """Its column names, and its Arrow schema where it has one (no columns: none)."""
        return [], None

    def rows(self, path: Path) -> int | None:
        """How many rows it has, where the file says without being read (else None)."""
        return None

    @abstractmethod
    def payloads(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        """Its rows in source order, `size` at a time (`columns`: the ones to read, where the
        file type reads by column)."""
