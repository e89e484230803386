"""Sources of battles: a local Parquet, CSV, JSON Lines or JSON file (the Hub file: `hub`).

Files are read in batches (Arrow record batches, raw JSON lines, or decoded rows); a large file
is never held whole as Python objects. The checks of each row live in `check`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from arenatok import formats
from arenatok.check import RowProblem
from arenatok.errors import SourceError, first_line

if TYPE_CHECKING:
    import pyarrow as pa


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


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


@dataclass
class LocalFile:
    """A local battle file, its file type, its layout (see `formats`) and the columns to read."""

    path: Path
    filetype: str
    layout: str = "arena"
    columns: tuple[str, ...] = field(default=())

    def payloads(self, batch_size: int = 2048) -> Iterator[Payload]:
        """Batches of `batch_size` rows in source order, as read (see `rows_of`)."""
        if self.filetype == "parquet":
            return _parquet_batches(self.path, self.columns, batch_size)
        if self.filetype == "csv":
            return _csv_batches(self.path, batch_size)
        if self.filetype == "jsonl":
            return _jsonl_batches(self.path, batch_size)
        return _json_batches(self.path, batch_size)

    def batches(self, batch_size: int = 2048) -> Iterator[list[Any]]:
        """Rows in source order, `batch_size` at a time, as plain Python values."""
        return map(rows_of, self.payloads(batch_size))


_CHECK = "check the path and its permissions (--source FILE)"
_AGAIN = "download or write the file again (it may be cut short)"
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, which some editors put at the start of a text file."""
_WIDE = (b"\xff\xfe", b"\xfe\xff")
"""Byte order marks of UTF-16 and UTF-32 text."""


def _sniff(path: Path, start: bytes) -> str:
    """The file type from the name's suffix, or else from the first bytes (after a UTF-8 byte
    order mark). Text in UTF-16 or UTF-32 is refused: every reader reads UTF-8."""
    if not start.startswith(b"PAR1") and (start.startswith(_WIDE) or b"\x00" in start[:4]):
        raise SourceError(
            f"{path}: is UTF-16 or UTF-32 text; arenatok reads UTF-8",
            hint=f"convert it first, e.g. iconv -f UTF-16 -t UTF-8 {path.name} > utf8.jsonl",
        )
    start = start.removeprefix(BOM)
    suffix = path.suffix.lower()
    by_suffix = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
                 ".ndjson": "jsonl", ".json": None}  # fmt: skip
    if by_suffix.get(suffix):
        return str(by_suffix[suffix])
    if start.startswith(b"PAR1"):
        return "parquet"
    first = start.lstrip()[:1]
    if first == b"{":
        return "jsonl"
    if first == b"[":
        return "json"
    raise SourceError(
        f"{path}: cannot tell the file type from its name or first bytes",
        hint="use a .parquet, .csv, .jsonl or .json file (a JSON list of records)",
    )


def check_regular(p: Path) -> None:
    """A clear SourceError unless `p` is a regular file (links followed): a missing path, a
    directory, a pipe or a device is refused before anything opens it (a pipe would block)."""
    import stat

    try:
        mode = p.stat().st_mode
    except FileNotFoundError as e:
        raise SourceError(f"{p}: no such file", hint="check the path (--source FILE)") from e
    except OSError as e:
        raise SourceError(f"{p}: cannot read: {e.strerror or e}", hint=_CHECK) from e
    if stat.S_ISDIR(mode):
        raise SourceError(
            f"{p}: is a directory, expected a file", hint="name a file inside it (--source FILE)"
        )
    if not stat.S_ISREG(mode):
        raise SourceError(
            f"{p}: is not a regular file (a pipe, socket or device); arenatok reads files",
            hint="save the stream to a file first, then --source FILE",
        )


def open_local(path: str | Path, *, layout: str | None = None) -> LocalFile:
    """Check that `path` is a readable battle file in a known layout (detected from its
    columns unless `layout` names one); say clearly if not."""
    p = Path(path)
    check_regular(p)
    try:
        with p.open("rb") as f:
            start = f.read(64)
    except PermissionError as e:
        raise SourceError(f"{p}: permission denied", hint="make the file readable") from e
    except OSError as e:
        raise SourceError(f"{p}: cannot read: {e.strerror or e}", hint=_CHECK) from e
    if not start:
        raise SourceError(f"{p}: the file is empty", hint="check the path (--source FILE)")
    filetype = _sniff(p, start)
    names, schema = _columns(p, filetype)
    if layout is not None:
        chosen = formats.get(layout)
        missing = [c for c in chosen.required if c not in names]
        if filetype in ("parquet", "csv") and missing:
            raise SourceError(
                f"{p}: missing columns for the {chosen.name} layout: {', '.join(missing)} "
                f"(found: {', '.join(names)})",
                hint="name the file's layout with --format (see README, Sources), or leave "
                "--format out to detect it",
            )
    elif filetype in ("parquet", "csv"):
        chosen = formats.detect(names, p)
    else:
        chosen = _detect_json(p, filetype)
    if filetype == "csv" and not chosen.flat:
        raise SourceError(
            f"{p}: a CSV file cannot hold the conversation lists of the {chosen.name} layout",
            hint="write it as Parquet or JSON Lines (CSV serves the flat kaggle-55k layout)",
        )
    if filetype != "parquet":
        return LocalFile(p, filetype, chosen.name)
    return LocalFile(p, filetype, chosen.name, chosen.parquet_columns(schema))


def _columns(p: Path, filetype: str) -> tuple[list[str], Any]:
    """The column names of a Parquet or CSV file (none for JSON: see `_detect_json`) and, for
    Parquet, its Arrow schema."""
    import pyarrow as pa

    if filetype == "parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.ParquetFile(p).schema_arrow
        except (pa.ArrowException, OSError) as e:
            raise SourceError(
                f"{p}: not a readable Parquet file ({first_line(e)})", hint=_AGAIN
            ) from e
        return _unique(p, list(schema.names)), schema
    if filetype == "csv":
        try:
            return _unique(p, list(_open_csv(p).schema.names)), None
        except (pa.ArrowException, OSError) as e:
            raise SourceError(
                f"{p}: not a readable CSV file ({first_line(e)})",
                hint="check its header and quoting; the file must be UTF-8 text",
            ) from e
    return [], None


def _unique(p: Path, names: list[str]) -> list[str]:
    """`names`, unless a column name occurs twice: which of the two is meant cannot be told."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SourceError(
            f"{p}: the column {', '.join(map(repr, twice))} occurs more than once",
            hint="give every column its own name",
        )
    return names


def _detect_json(p: Path, filetype: str) -> Any:
    """The layout of a JSON file, from the keys of its first 100 object rows: the first row
    that fits a layout decides. If none fits and there are several, all with the same keys, the
    file is in an unknown layout (an error); otherwise its rows are checked, and rejected, one
    by one, as the default layout's."""
    keysets: list[list[str]] = []
    with contextlib.suppress(SourceError):
        for batch in LocalFile(p, filetype).batches(batch_size=100):
            keysets = [list(row) for row in batch if isinstance(row, dict)]
            break
    for keys in keysets:
        with contextlib.suppress(SourceError):
            return formats.detect(keys, p)
    if len(keysets) > 1 and all(set(k) == set(keysets[0]) for k in keysets):
        return formats.detect(keysets[0], p)  # raises: names the columns and the layouts
    return formats.get(formats.DEFAULT)


def parquet_rows(path: Path) -> int:
    """Number of rows in a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _parquet_batches(path: Path, columns: tuple[str, ...], size: int) -> Iterator[Payload]:
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
            f"{path}: the Parquet data is corrupt ({first_line(e)})", hint=_AGAIN
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


def _open_csv(path: Path) -> Any:
    """A streaming CSV reader: every column read as bytes (made text in `_csv_batches`, the
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


def _csv_batches(path: Path, size: int) -> Iterator[Payload]:
    import pyarrow as pa

    try:
        for batch in _open_csv(path):
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


def _jsonl_batches(path: Path, size: int) -> Iterator[Payload]:
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


def _json_batches(path: Path, size: int) -> Iterator[list[Any]]:
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
