"""`pipeline.sources.filetypes.jsonl`: JSON Lines read as raw lines in batches; empty lines at
the very end of a file are not rows, empty lines before a row are (rejected as empty)."""

from __future__ import annotations

from pathlib import Path

from arenatok.pipeline.driver import build
from tests.helpers import TINY, write_jsonl


def test_a_trailing_empty_line_is_not_a_row(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", TINY)
    with path.open("a") as f:
        f.write("\n")  # what `echo >> b.jsonl` leaves
    result = build(path, out=tmp_path / "o")
    assert (result.stats.read, result.stats.rejected) == (4, 0)
    middle = tmp_path / "m.jsonl"
    middle.write_text(path.read_text().replace("\n", "\n\n", 1))
    result = build(middle, out=tmp_path / "m", on_bad_row="reject")
    assert (result.stats.read, result.stats.rejected) == (5, 1)  # an empty line inside is a row
