"""JSON: a list of records (`[{...}, {...}]`), read one item at a time from ijson's event
stream, so that a large file is never held whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from arenatok.errors import SourceError, first_line
from arenatok.pipeline.sources.checks import RowProblem
from arenatok.pipeline.sources.filetypes.base import (
    BOM,
    FileType,
    Payload,
    compressed,
    key_twice,
    open_data,
)

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


class Json(FileType):
    name = "json"
    suffixes = ()  # `.json` may hold JSON Lines too (as `datasets` exports): its bytes decide
    order = 30

    def starts(self, start: bytes) -> bool:
        return start.lstrip()[:1] == b"["

    def batches(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        import ijson

        batch: list[Any] = []
        f: BinaryIO
        with compressed(path, compression), open_data(path, compression) as f:
            surrogates = _spells_surrogates(f)
        with compressed(path, compression), open_data(path, compression) as f:
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


FILE_TYPE = Json()
