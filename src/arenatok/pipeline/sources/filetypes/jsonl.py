"""JSON Lines: one record a line (`.jsonl`, `.ndjson`, or a `.json` file whose first record
starts a line, as `datasets` exports), read as raw lines decoded where the batch is processed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from arenatok.pipeline.sources.filetypes.base import (
    FileType,
    JsonLines,
    Payload,
    compressed,
    open_data,
)


class Jsonl(FileType):
    name = "jsonl"
    suffixes = (".jsonl", ".ndjson")
    order = 20

    def starts(self, start: bytes) -> bool:
        return start.lstrip()[:1] == b"{"

    def payloads(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        """Batches of lines; empty lines at the very end of the file (what `echo >>` leaves) are
        not rows, empty lines before the last row are (rejected as empty)."""
        lines: list[bytes] = []
        blank: list[bytes] = []  # empty lines not yet known to be followed by a row
        first = 1
        with compressed(path, compression), open_data(path, compression) as f:
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


FILE_TYPE = Jsonl()
