"""Each file type read in batches of rows, in source order (`Payload`): Parquet and CSV as Arrow
record batches, JSON Lines as raw lines decoded where the batch is processed, a JSON list as
decoded rows. A large file is never held whole as Python objects; `load` picks the reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from arenatok.check import RowProblem
from arenatok.errors import SourceError, first_line

if TYPE_CHECKING:
    import pyarrow as pa


AGAIN = "download or write the file again (it may be cut short)"
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
        raise SourceError(
            f"{path}: the Parquet data is corrupt ({first_line(e)})", hint=AGAIN
        ) from e


def _decode_line(raw: bytes, lineno: int) -> Any:
    # Binary lines split on b"\n" only: U+2028 inside a string is data, not a line break.
    if not raw.strip():
        return RowProblem(f"line {lineno} is empty")
    raw = raw.rstrip(b"\r\n")  # else an error at the end of a cut line is "line 2, column 1"
    try:
        return json.loads(raw)
    except RecursionError:
        return RowProblem(f"line {lineno} is nested too deeply to read")
    except UnicodeDecodeError as e:
        return RowProblem(f"line {lineno} is not valid UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        return RowProblem(f"line {lineno} is not valid JSON: {e.msg} (column {e.colno})")


def open_csv(path: Path) -> Any:
    """A streaming CSV reader: every column read as bytes (made text in `csv_batches`, the
    layout's parser converts), quoted values may hold newlines."""
    import pyarrow as pa
    import pyarrow.csv as csv

    names = csv.open_csv(path, parse_options=csv.ParseOptions(newlines_in_values=True)).schema
    return csv.open_csv(
        path,
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(column_types={n: pa.binary() for n in names.names}),
        read_options=csv.ReadOptions(block_size=1 << 22),
    )


def csv_batches(path: Path, size: int) -> Iterator[Payload]:
    import pyarrow as pa

    try:
        for batch in open_csv(path):
            for offset in range(0, batch.num_rows, size):
                yield _as_text(batch.slice(offset, size))
    except (pa.ArrowException, OSError) as e:
        raise SourceError(
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


def jsonl_batches(path: Path, size: int) -> Iterator[Payload]:
    """Batches of lines; empty lines at the very end of the file (what `echo >>` leaves) are
    not rows, empty lines before the last row are (rejected as empty)."""
    lines: list[bytes] = []
    blank: list[bytes] = []  # empty lines not yet known to be followed by a row
    first = 1
    with path.open("rb") as f:
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
            f.seek(0)
            return True
        tail = block[-5:]
    f.seek(0)
    return False


def _json_items(f: BinaryIO) -> Iterator[Any]:
    """The items of a top-level JSON list, one at a time, from ijson's flat event stream (its
    `items()` keeps a dotted path per level, which costs quadratic memory on deep nesting)."""
    import ijson

    parse = ijson.get_backend("python").basic_parse if _spells_surrogates(f) else ijson.basic_parse
    if f.read(len(BOM)) != BOM:
        f.seek(0)
    events = parse(f, use_float=True)
    if next(events, (None, None))[0] != "start_array":
        raise ijson.JSONError("the file does not start with a JSON list")
    index, depth, builder = 0, 1, None
    for event, value in events:
        opens, closes = event in ("start_map", "start_array"), event in ("end_map", "end_array")
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
            yield (
                builder.value
                if builder
                else RowProblem(f"record {index + 1} is nested more than {MAX_DEPTH} levels deep")
            )
            index, builder = index + 1, None


def json_batches(path: Path, size: int) -> Iterator[list[Any]]:
    import ijson

    batch: list[Any] = []
    f: BinaryIO
    with path.open("rb") as f:
        try:
            for item in _json_items(f):
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
