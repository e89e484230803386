"""A local battle file opened: its file type told (`filetypes`), its layout detected from its
columns or first rows (`layouts`), the columns to read chosen (the Hub file: `hub`).

Files are read in batches (Arrow record batches, raw JSON lines, or decoded rows); a large file
is never held whole as Python objects. The checks of each row are its layout's (`layouts`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline import layouts
from arenatok.pipeline.layouts.base import Layout
from arenatok.pipeline.sources.filetypes import FILE_TYPES, FileType, sniff
from arenatok.pipeline.sources.filetypes.base import (
    AGAIN,
    BOM,
    COMPRESSIONS,
    Payload,
    compression_of,
    open_data,
    rows_of,
)


@dataclass
class LocalFile:
    """A local battle file, its file type (by name), its layout and the columns to read."""

    path: Path
    filetype: str
    layout: str = "arena"
    columns: tuple[str, ...] = field(default=())
    compression: str | None = None
    """gzip, zstd, bz2 or xz for a compressed JSON Lines, JSON or CSV file, read as it is
    decompressed."""

    @property
    def file_type(self) -> FileType:
        return FILE_TYPES[self.filetype]

    def payloads(self, batch_size: int = 2048) -> Iterator[Payload]:
        """Batches of `batch_size` rows in source order, as read (see `rows_of`)."""
        return self.file_type.payloads(
            self.path, batch_size, columns=self.columns, compression=self.compression
        )

    @property
    def name(self) -> str:
        """The file's name without a compression suffix (`x.jsonl.gz`: `x.jsonl`)."""
        if self.compression is not None and self.path.suffix.lower() in COMPRESSIONS:
            return self.path.stem
        return self.path.name

    def row_batches(self, batch_size: int = 2048) -> Iterator[list[Any]]:
        """Rows in source order, `batch_size` at a time, as plain Python values."""
        return map(rows_of, self.payloads(batch_size))


_CHECK = "check the path and its permissions (--source FILE)"
_WIDE = (b"\xff\xfe", b"\xfe\xff")
"""Byte order marks of UTF-16 and UTF-32 text."""


def _sniff(path: Path, start: bytes, compression: str | None = None) -> FileType:
    """The file type (`filetypes.sniff`). Text in UTF-16 or UTF-32 is refused: every reader
    reads UTF-8."""
    if not start.startswith(b"PAR1") and (start.startswith(_WIDE) or b"\x00" in start[:4]):
        raise SourceError(
            f"{path}: is UTF-16 or UTF-32 text; arenatok reads UTF-8",
            hint=f"convert it first, e.g. iconv -f UTF-16 -t UTF-8 {path.name} > utf8.jsonl",
        )
    return sniff(path, start.removeprefix(BOM), compression)


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
    compression = None
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
    file_type = _sniff(p, start, compression)
    if compression is not None and not file_type.compressible:
        raise SourceError(
            f"{p}: is a {compression}-compressed {file_type.name} file",
            hint="decompress it first (Parquet compresses its columns itself)",
        )
    names, schema = file_type.columns(p, compression)
    chosen = _layout(p, file_type, _unique(p, names), layout, compression)
    if file_type.flat and not chosen.flat:
        raise SourceError(
            f"{p}: a CSV file cannot hold the conversation lists of the {chosen.name} layout",
            hint="write it as Parquet or JSON Lines (CSV serves the flat kaggle-55k layout)",
        )
    columns = chosen.parquet_columns(schema) if schema is not None else ()
    return LocalFile(p, file_type.name, chosen.name, columns, compression)


def _layout(
    p: Path, file_type: FileType, names: list[str], layout: str | None, compression: str | None
) -> Layout:
    """The layout `layout` names (a file with columns must have its required ones), else the
    one its columns or first rows show."""
    if layout is not None:
        chosen = layouts.get(layout)
        missing = [c for c in chosen.required if c not in names]
        if file_type.has_columns and missing:
            raise SourceError(
                f"{p}: missing columns for the {chosen.name} layout: {', '.join(missing)} "
                f"(found: {', '.join(names)})",
                hint="name the file's layout with --layout (the docs' Layouts page gives "
                "each one's columns), or leave --layout out to detect it",
            )
        return chosen
    if file_type.has_columns:
        return layouts.detect(names, p)
    return _detect_json(p, file_type.name, compression)


def _unique(p: Path, names: list[str]) -> list[str]:
    """`names`, unless a column name occurs twice: which of the two is meant cannot be told."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SourceError(
            f"{p}: the column {', '.join(map(repr, twice))} occurs more than once",
            hint="give every column its own name",
        )
    return names


def _detect_json(p: Path, filetype: str, compression: str | None = None) -> Layout:
    """The layout of a JSON file, from the keys of its first 100 object rows: the first row
    that fits a layout decides. If none fits and there are several, all with the same keys, the
    file is in an unknown layout (an error); otherwise its rows are checked, and rejected, one
    by one, as the default layout's."""
    keysets: list[list[str]] = []
    with contextlib.suppress(SourceError):
        for batch in LocalFile(p, filetype, compression=compression).row_batches(batch_size=100):
            keysets = [list(row) for row in batch if isinstance(row, dict)]
            break
    for keys in keysets:
        with contextlib.suppress(SourceError):
            return layouts.detect(keys, p)
    if len(keysets) > 1 and all(set(k) == set(keysets[0]) for k in keysets):
        return layouts.detect(keysets[0], p)  # raises: names the columns and the layouts
    return layouts.get(layouts.DEFAULT)
