"""Each file type read in batches of rows, in source order (`Payload`): Parquet and CSV as Arrow
record batches, JSON Lines as raw lines decoded where the batch is processed, a JSON list as
decoded rows. A large file is never held whole as Python objects; `load` picks the reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias, cast

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline.sources.checks import RowProblem

if TYPE_CHECKING:
    import pyarrow as pa


AGAIN = "download or write the file again (it may be cut short)"

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
    with _compressed(path, compression), open_data(path, compression) as f:
        while block := f.read(1 << 20):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, which some editors put at the start of a text file."""


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


def parquet_rows(path: Path) -> int:
    """Number of rows in a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def parquet_batches(path: Path, columns: tuple[str, ...], size: int) -> Iterator[Payload]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: with it, pyarrow keeps every column chunk read so far, and memory
        # grows with the file. use_threads=False: decoding on Arrow's threads took a third more
        # CPU for the same wall time, CPU that the worker processes need.
        parquet = pq.ParquetFile(path, pre_buffer=False)
        yield from parquet.iter_batches(batch_size=size, columns=list(columns), use_threads=False)
    except (pa.ArrowException, OSError) as e:
        raise resource_error(e) or SourceError(
            f"{path}: the Parquet data is corrupt ({first_line(e)})", hint=AGAIN
        ) from e


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


def _decode_line(raw: bytes, lineno: int) -> Any:
    # Binary lines split on b"\n" only: U+2028 inside a string is data, not a line break.
    if not raw.strip():
        return RowProblem(f"line {lineno} is empty")
    raw = raw.rstrip(b"\r\n")  # else an error at the end of a cut line is "line 2, column 1"
    try:
        return json.loads(raw, object_pairs_hook=_once)
    except _KeyTwice as e:
        return RowProblem(f"line {lineno} {key_twice(e.args[0])}")
    except RecursionError:
        return RowProblem(f"line {lineno} is nested too deeply to read")
    except UnicodeDecodeError as e:
        return RowProblem(f"line {lineno} is not valid UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        return RowProblem(f"line {lineno} is not valid JSON: {e.msg} (column {e.colno})")


def open_csv(path: Path, compression: str | None = None) -> Any:
    """A streaming CSV reader: every column read as bytes (made text in `csv_batches`, the
    layout's parser converts), quoted values may hold newlines."""
    import pyarrow as pa
    import pyarrow.csv as csv

    def data() -> Any:
        return path if compression is None else open_data(path, compression)

    options = csv.ParseOptions(newlines_in_values=True)
    names = csv.open_csv(data(), parse_options=options).schema
    return csv.open_csv(
        data(),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(column_types={n: pa.binary() for n in names.names}),
        read_options=csv.ReadOptions(block_size=1 << 22),
    )


def csv_batches(path: Path, size: int, compression: str | None = None) -> Iterator[Payload]:
    import pyarrow as pa

    try:
        for batch in open_csv(path, compression):
            for offset in range(0, batch.num_rows, size):
                yield _as_text(batch.slice(offset, size))
    except (pa.ArrowException, OSError, EOFError) as e:
        raise resource_error(e) or SourceError(
            f"{path}: the CSV data is malformed ({first_line(e)})",
            hint="check its quoting (values with commas or newlines need double quotes)",
        ) from e


def _as_text(batch: Any) -> Payload:
    """A batch of byte columns as text; where a value is not valid UTF-8, the rows as a list
    in which each such row is a RowProblem (rejected like any bad row)."""
    import pyarrow as pa

    try:
        return pa.RecordBatch.from_arrays(
            [c.cast(pa.string()) for c in batch.columns], names=batch.schema.names
        )
    except pa.ArrowInvalid:
        pass
    rows: list[Any] = []
    for raw in batch.to_pylist():
        row: Any = {}
        for name, value in raw.items():
            try:
                row[name] = None if value is None else value.decode("utf-8")
            except UnicodeDecodeError as e:
                row = RowProblem(f"column {name} is not valid UTF-8 (byte {e.start})")
                break
        rows.append(row)
    return rows


def jsonl_batches(path: Path, size: int, compression: str | None = None) -> Iterator[Payload]:
    """Batches of lines; empty lines at the very end of the file (what `echo >>` leaves) are
    not rows, empty lines before the last row are (rejected as empty)."""
    lines: list[bytes] = []
    blank: list[bytes] = []  # empty lines not yet known to be followed by a row
    first = 1
    with _compressed(path, compression), open_data(path, compression) as f:
        for raw in f:
            if not raw.strip():
                blank.append(raw)
                continue
            for line in (*blank, raw):
                lines.append(line)
                if len(lines) == size:
                    yield JsonLines(first, lines)
                    first += size
                    lines = []
            blank = []
    if lines:
        yield JsonLines(first, lines)


@contextmanager
def _compressed(path: Path, compression: str | None) -> Iterator[None]:
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


MAX_DEPTH = 64
"""Records of a JSON list nested deeper than this are bad rows (an arena row needs about 5)."""


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _spells_surrogates(f: BinaryIO) -> bool:
    """Whether a JSON file spells a surrogate code point (`\\ud800`; a pair too), read in 1 MiB
    blocks. ijson's fast parser turns a lone one into "?", silently; the plain Python one keeps
    it, so the row's check can refuse it like any reader's."""
    tail = b""
    while block := f.read(1 << 20):
        if _SURROGATE_ESCAPE.search(tail + block):
            return True
        tail = block[-5:]
    return False


def _json_items(f: BinaryIO, surrogates: bool) -> Iterator[Any]:
    """The items of a top-level JSON list, one at a time, from ijson's flat event stream (its
    `items()` keeps a dotted path per level, which costs quadratic memory on deep nesting)."""
    import ijson

    parse = ijson.get_backend("python").basic_parse if surrogates else ijson.basic_parse
    if f.peek(len(BOM))[: len(BOM)] == BOM:  # type: ignore[attr-defined]
        f.read(len(BOM))
    events = parse(f, use_float=True)
    if next(events, (None, None))[0] != "start_array":
        raise ijson.JSONError("the file does not start with a JSON list")
    index, depth, builder = 0, 1, None
    keys: list[set[str]] = []  # the keys of each open object of the item
    twice: str | None = None  # the first key an object of the item names twice
    for event, value in events:
        opens, closes = event in ("start_map", "start_array"), event in ("end_map", "end_array")
        if event == "start_map":
            keys.append(set())
        elif event == "end_map":
            keys.pop()
        elif event == "map_key" and keys:
            if value in keys[-1] and twice is None:
                twice = value
            keys[-1].add(value)
        if depth == 1 and closes:  # the end of the list
            depth = 0
            continue
        if depth == 1 and not opens:
            yield value  # a scalar item: a bad row, checked like the others
            index += 1
            continue
        depth += opens - closes
        if builder is None and depth == 2 and opens:
            builder = ijson.ObjectBuilder()
        if builder is not None and depth > MAX_DEPTH:
            builder = False  # too deep: skip the rest of this item
        if builder:
            builder.event(event, value)
        if depth == 1:
            if twice is not None:
                yield RowProblem(f"record {index + 1} {key_twice(twice)}")
            elif builder:
                yield builder.value
            else:
                yield RowProblem(f"record {index + 1} is nested more than {MAX_DEPTH} levels deep")
            index, builder, twice = index + 1, None, None


def json_batches(path: Path, size: int, compression: str | None = None) -> Iterator[list[Any]]:
    import ijson

    batch: list[Any] = []
    f: BinaryIO
    with _compressed(path, compression), open_data(path, compression) as f:
        surrogates = _spells_surrogates(f)
    with _compressed(path, compression), open_data(path, compression) as f:
        try:
            for item in _json_items(f, surrogates):
                batch.append(item)
                if len(batch) == size:
                    yield batch
                    batch = []
        except (ijson.JSONError, UnicodeDecodeError) as e:
            raise SourceError(
                f"{path}: not a valid JSON list of records ({first_line(e)})",
                hint="expected [{...}, {...}] or one JSON object per line (.jsonl)",
            ) from e
    if batch:
        yield batch
