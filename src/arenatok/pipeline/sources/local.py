"""Sources of battles: a local Parquet, CSV, JSON Lines or JSON file (the Hub file: `hub`).

Files are read in batches (Arrow record batches, raw JSON lines, or decoded rows); a large file
is never held whole as Python objects. The checks of each row live in `check`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline import layouts
from arenatok.pipeline.sources.filetypes import (
    AGAIN,
    BOM,
    COMPRESSIONS,
    Payload,
    compression_of,
    csv_batches,
    json_batches,
    jsonl_batches,
    open_csv,
    open_data,
    parquet_batches,
    rows_of,
)

if TYPE_CHECKING:
    pass


@dataclass
class LocalFile:
    """A local battle file, its file type, its layout (see `formats`) and the columns to read."""

    path: Path
    filetype: str
    layout: str = "arena"
    columns: tuple[str, ...] = field(default=())
    compression: str | None = None
    """gzip, zstd, bz2 or xz for a compressed JSON Lines, JSON or CSV file, read as it is
    decompressed."""

    def payloads(self, batch_size: int = 2048) -> Iterator[Payload]:
        """Batches of `batch_size` rows in source order, as read (see `rows_of`)."""
        if self.filetype == "parquet":
            return parquet_batches(self.path, self.columns, batch_size)
        if self.filetype == "csv":
            return csv_batches(self.path, batch_size, self.compression)
        if self.filetype == "jsonl":
            return jsonl_batches(self.path, batch_size, self.compression)
        return json_batches(self.path, batch_size, self.compression)

    @property
    def name(self) -> str:
        """The file's name without a compression suffix (`x.jsonl.gz`: `x.jsonl`)."""
        if self.compression is not None and self.path.suffix.lower() in COMPRESSIONS:
            return self.path.stem
        return self.path.name

    def batches(self, batch_size: int = 2048) -> Iterator[list[Any]]:
        """Rows in source order, `batch_size` at a time, as plain Python values."""
        return map(rows_of, self.payloads(batch_size))


_CHECK = "check the path and its permissions (--source FILE)"
_WIDE = (b"\xff\xfe", b"\xfe\xff")
"""Byte order marks of UTF-16 and UTF-32 text."""


def _sniff(path: Path, start: bytes, compression: str | None = None) -> str:
    """The file type from the name's suffix (before a compression suffix), or else from the
    first bytes (after a UTF-8 byte order mark). Text in UTF-16 or UTF-32 is refused: every
    reader reads UTF-8."""
    if not start.startswith(b"PAR1") and (start.startswith(_WIDE) or b"\x00" in start[:4]):
        raise SourceError(
            f"{path}: is UTF-16 or UTF-32 text; arenatok reads UTF-8",
            hint=f"convert it first, e.g. iconv -f UTF-16 -t UTF-8 {path.name} > utf8.jsonl",
        )
    start = start.removeprefix(BOM)
    named = path.with_suffix("") if compression and path.suffix.lower() in COMPRESSIONS else path
    suffix = named.suffix.lower()
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
        raise resource_error(e) or SourceError(
            f"{p}: cannot read: {e.strerror or e}", hint=_CHECK
        ) from e
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
        compression = compression_of(p, start)
        if compression is not None:
            with open_data(p, compression) as f:
                start = f.read(64)
    except PermissionError as e:
        raise SourceError(f"{p}: permission denied", hint="make the file readable") from e
    except (OSError, EOFError, ValueError, LookupError) as e:
        if compression is None and isinstance(e, OSError):
            raise resource_error(e) or SourceError(
                f"{p}: cannot read: {e.strerror or e}", hint=_CHECK
            ) from e
        raise SourceError(
            f"{p}: the {compression} data is corrupt ({first_line(e)})", hint=AGAIN
        ) from e
    if not start:
        raise SourceError(f"{p}: the file is empty", hint="check the path (--source FILE)")
    filetype = _sniff(p, start, compression)
    if compression is not None and filetype == "parquet":
        raise SourceError(
            f"{p}: is a {compression}-compressed Parquet file",
            hint="decompress it first (Parquet compresses its columns itself)",
        )
    names, schema = _columns(p, filetype, compression)
    if layout is not None:
        chosen = layouts.get(layout)
        missing = [c for c in chosen.required if c not in names]
        if filetype in ("parquet", "csv") and missing:
            raise SourceError(
                f"{p}: missing columns for the {chosen.name} layout: {', '.join(missing)} "
                f"(found: {', '.join(names)})",
                hint="name the file's layout with --format (see README, Sources), or leave "
                "--format out to detect it",
            )
    elif filetype in ("parquet", "csv"):
        chosen = layouts.detect(names, p)
    else:
        chosen = _detect_json(p, filetype, compression)
    if filetype == "csv" and not chosen.flat:
        raise SourceError(
            f"{p}: a CSV file cannot hold the conversation lists of the {chosen.name} layout",
            hint="write it as Parquet or JSON Lines (CSV serves the flat kaggle-55k layout)",
        )
    if filetype != "parquet":
        return LocalFile(p, filetype, chosen.name, compression=compression)
    return LocalFile(p, filetype, chosen.name, chosen.parquet_columns(schema))


def _columns(p: Path, filetype: str, compression: str | None = None) -> tuple[list[str], Any]:
    """The column names of a Parquet or CSV file (none for JSON: see `_detect_json`) and, for
    Parquet, its Arrow schema."""
    import pyarrow as pa

    if filetype == "parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.ParquetFile(p).schema_arrow
        except (pa.ArrowException, OSError) as e:
            raise resource_error(e) or SourceError(
                f"{p}: not a readable Parquet file ({first_line(e)})", hint=AGAIN
            ) from e
        return _unique(p, list(schema.names)), schema
    if filetype == "csv":
        try:
            return _unique(p, list(open_csv(p, compression).schema.names)), None
        except (pa.ArrowException, OSError) as e:
            raise resource_error(e) or SourceError(
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


def _detect_json(p: Path, filetype: str, compression: str | None = None) -> Any:
    """The layout of a JSON file, from the keys of its first 100 object rows: the first row
    that fits a layout decides. If none fits and there are several, all with the same keys, the
    file is in an unknown layout (an error); otherwise its rows are checked, and rejected, one
    by one, as the default layout's."""
    keysets: list[list[str]] = []
    with contextlib.suppress(SourceError):
        for batch in LocalFile(p, filetype, compression=compression).batches(batch_size=100):
            keysets = [list(row) for row in batch if isinstance(row, dict)]
            break
    for keys in keysets:
        with contextlib.suppress(SourceError):
            return layouts.detect(keys, p)
    if len(keysets) > 1 and all(set(k) == set(keysets[0]) for k in keysets):
        return layouts.detect(keysets[0], p)  # raises: names the columns and the layouts
    return layouts.get(layouts.DEFAULT)
