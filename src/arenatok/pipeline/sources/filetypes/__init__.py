"""Each file type battles come in, one module each (`parquet`, `jsonl`, `json`, `csv`), each
filling the contract of `base.FileType` as its `FILE_TYPE`: what names and first bytes tell it,
its columns, its rows read in batches in source order (a large file is never held whole as
Python objects). `sniff` tells a file's type; `local` opens a file with it.

A new file type is one new module here: this package finds every module's `FILE_TYPE` itself."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from arenatok.errors import SourceError
from arenatok.pipeline.sources.filetypes.base import COMPRESSIONS, FileType


def _found() -> dict[str, FileType]:
    """Every module's FILE_TYPE, in sniffing order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            found.append(importlib.import_module(f"{__name__}.{module.name}").FILE_TYPE)
    return {t.name: t for t in sorted(found, key=lambda t: t.order)}


FILE_TYPES: dict[str, FileType] = _found()
"""Known file types by name, in the order their first bytes are tried."""


def sniff(path: Path, start: bytes, compression: str | None = None) -> FileType:
    """The file type from the name's suffix (before a compression suffix), or else from the
    first bytes of its data (after a UTF-8 byte order mark, which `start` has lost)."""
    named = path.with_suffix("") if compression and path.suffix.lower() in COMPRESSIONS else path
    suffix = named.suffix.lower()
    for file_type in FILE_TYPES.values():
        if suffix in file_type.suffixes:
            return file_type
    for file_type in FILE_TYPES.values():
        if file_type.starts(start):
            return file_type
    known = ", ".join(s for t in FILE_TYPES.values() for s in t.suffixes)
    raise SourceError(
        f"{path}: cannot tell the file type from its name or first bytes",
        hint=f"use a {known} or .json file (a JSON list of records)",
    )


__all__ = ["FILE_TYPES", "FileType", "sniff"]
