"""JSON: a list of records (`[{...}, {...}]`), read one item at a time from ijson's event
stream, so that a large file is never held whole."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from arenatok.errors import SourceError, first_line
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.sources.filetypes.base import (
    BOM,
    FileType,
    Payload,
    TooLong,
    compressed,
    integer,
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


def _number(text: str) -> int | float | TooLong:
    """A JSON number as ijson's Python parser reads one with use_float, except that a whole
    number too long to convert is a TooLong value, not an error that ends the parse."""
    if "." in text or "e" in text or "E" in text:
        return float(text)
    try:
        return integer(text)
    except TooLong as e:
        return e


def _events(f: BinaryIO, python: bool) -> Iterator[tuple[str, Any]]:
    """ijson's events of `f`, from its C parser, or from its Python one (slower; it keeps a
    lone surrogate and reads whole numbers past 64 bits) with `_number` as its number reader:
    the parser takes `ijson.common.integer_or_float` as it starts, so it is swapped only then
    (`_number` reads every other number the same)."""
    import ijson
    from ijson import common

    if not python:
        return iter(ijson.basic_parse(f, use_float=True))
    events = iter(ijson.get_backend("python").basic_parse(f, use_float=True))
    reader, common.integer_or_float = common.integer_or_float, _number
    try:
        first = next(events, None)
    finally:
        common.integer_or_float = reader
    return itertools.chain(() if first is None else (first,), events)


def _json_items(f: BinaryIO, python: bool) -> Iterator[Any]:
    """The items of a top-level JSON list, one at a time, from ijson's flat event stream (its
    `items()` keeps a dotted path per level, which costs quadratic memory on deep nesting)."""
    import ijson

    if f.peek(len(BOM))[: len(BOM)] == BOM:  # type: ignore[attr-defined]
        f.read(len(BOM))
    events = _events(f, python)
    if next(events, (None, None))[0] != "start_array":
        raise ijson.JSONError("the file does not start with a JSON list")
    index, depth, builder = 0, 1, None
    keys: list[set[str]] = []  # the keys of each open object of the item
    problem: str | None = None  # why the item is refused (a key twice, a number too long)
    for event, value in events:
        opens, closes = event in ("start_map", "start_array"), event in ("end_map", "end_array")
        if event == "start_map":
            keys.append(set())
        elif event == "end_map":
            keys.pop()
        elif event == "map_key" and keys:
            if value in keys[-1] and problem is None:
                problem = key_twice(value)
            keys[-1].add(value)
        elif event == "number" and isinstance(value, TooLong) and problem is None:
            problem = value.reason
        if depth == 1 and closes:  # the end of the list
            depth = 0
            continue
        if depth == 1 and not opens:
            # a scalar item: a bad row, checked like the others
            yield value if problem is None else RowProblem(f"record {index + 1} {problem}")
            index, problem = index + 1, None
            continue
        depth += opens - closes
        if builder is None and depth == 2 and opens:
            builder = ijson.ObjectBuilder()
        if builder is not None and depth > MAX_DEPTH:
            builder = False  # too deep: skip the rest of this item
        if builder:
            builder.event(event, value)
        if depth == 1:
            if problem is not None:
                yield RowProblem(f"record {index + 1} {problem}")
            elif builder:
                yield builder.value
            else:
                yield RowProblem(f"record {index + 1} is nested more than {MAX_DEPTH} levels deep")
            index, builder, problem = index + 1, None, None


def _items(path: Path, compression: str | None) -> Iterator[Any]:
    """The items of the JSON list in `path`, by ijson's C parser, or its Python one where the
    file spells a surrogate; where the C parser meets a whole number past 64 bits, the Python
    one reads on from that item (the file read again from its start)."""
    import ijson

    f: BinaryIO
    with compressed(path, compression), open_data(path, compression) as f:
        python = _spells_surrogates(f)
    read = 0
    while True:
        with compressed(path, compression), open_data(path, compression) as f:
            try:
                for item in itertools.islice(_json_items(f, python), read, None):
                    read += 1
                    yield item
                return
            except ijson.JSONError as e:
                if python or "integer overflow" not in str(e):
                    raise
                python = True


class Json(FileType):
    name = "json"
    suffixes = ()  # `.json` may hold JSON Lines too (as `datasets` exports): its bytes decide
    order = 30

    def starts(self, start: bytes) -> bool:
        return start.lstrip()[:1] == b"["

    def payloads(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        import ijson

        batch: list[Any] = []
        try:
            for item in _items(path, compression):
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
