"""`pipeline.sources.filetypes.csv`: a CSV read in Arrow batches with every value as text,
quoted values holding commas, quotes and newlines, a value that is not UTF-8 its row's problem,
and a file that does not parse one error that says how to fix it."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.sources.filetypes import FILE_TYPES
from arenatok.pipeline.sources.filetypes.base import rows_of

CSV = FILE_TYPES["csv"]


def read(path: Path, size: int = 2, compression: str | None = None) -> list[Any]:
    return [r for b in CSV.payloads(path, size, compression=compression) for r in rows_of(b)]


@pytest.mark.parametrize("size", [1, 2, 100])
def test_quoted_values_read_as_written(tmp_path: Path, size: int) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b'id,prompt\n1,"a, b\nc"\n2,\n3,"x""y"\n007,\xc3\xa9\n')
    assert CSV.columns(path, None) == (["id", "prompt"], None)
    assert read(path, size) == [
        {"id": "1", "prompt": "a, b\nc"},
        {"id": "2", "prompt": ""},
        {"id": "3", "prompt": 'x"y'},
        {"id": "007", "prompt": "\u00e9"},  # text, not a number: the layout converts
    ]


def test_a_compressed_csv_reads_like_the_plain_one(tmp_path: Path) -> None:
    data = b"id,prompt\n" + b"".join(b"%d,text %d\n" % (i, i) for i in range(50))
    plain, packed = tmp_path / "rows.csv", tmp_path / "rows.csv.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    assert CSV.columns(packed, "gzip") == CSV.columns(plain, None)
    assert (
        read(packed, 7, "gzip")
        == read(plain, 7)
        == [{"id": str(i), "prompt": f"text {i}"} for i in range(50)]
    )


def test_a_value_that_is_not_utf8_is_its_rows_problem(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"id,prompt\n1,ok\n2,\xff\xfe\n3,fine\n")
    first, bad, last = read(path, 100)
    assert (first, last) == ({"id": "1", "prompt": "ok"}, {"id": "3", "prompt": "fine"})
    assert isinstance(bad, RowProblem)
    assert str(bad) == "column prompt is not valid UTF-8 (byte 0)"


def test_a_csv_that_does_not_parse_is_one_source_error(tmp_path: Path) -> None:
    ragged, empty = tmp_path / "ragged.csv", tmp_path / "empty.csv"
    ragged.write_bytes(b"id,prompt\n1,ok\n2,a,b\n")
    empty.write_bytes(b"")
    with pytest.raises(SourceError) as caught:
        CSV.columns(empty, None)
    assert caught.value.message == f"{empty}: not a readable CSV file (Empty CSV file)"
    assert caught.value.hint == "check its header and quoting; the file must be UTF-8 text"
    with pytest.raises(SourceError) as caught:
        read(ragged)
    assert caught.value.message == (
        f"{ragged}: the CSV data is malformed (CSV parse error: Expected 2 columns, got 3: 2,a,b)"
    )
    assert "double quotes" in str(caught.value.hint)
