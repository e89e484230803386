"""`pipeline.sources.filetypes.base`: compressed files told by their bytes and read as they
are decompressed, the batches every file type yields, and JSON lines decoded into rows or into
the reason each is refused."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arenatok.errors import SourceError
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.sources.filetypes.base import (
    MAGIC,
    JsonLines,
    TooLong,
    compression_of,
    first_rows,
    integer,
    key_twice,
    open_data,
    rows_of,
    sha256_data,
)

DATA = b'{"question_id": "q0"}\n{"question_id": "q1"}\n' * 50


def pack(path: Path, compression: str | None, data: bytes = DATA) -> Path:
    """`data` written to `path`, compressed as named."""
    if compression == "gzip":
        path.write_bytes(gzip.compress(data))
    elif compression == "bz2":
        path.write_bytes(bz2.compress(data))
    elif compression == "xz":
        path.write_bytes(lzma.compress(data))
    elif compression == "zstd":
        with pa.output_stream(str(path), compression="zstd") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def test_compression_is_told_by_the_bytes_not_the_name() -> None:
    packed = gzip.compress(b'{"a": 1}\n')
    assert compression_of(Path("x.jsonl"), packed[:8]) == "gzip"
    assert compression_of(Path("x.jsonl.gz"), b'{"a": 1}') is None


@pytest.mark.parametrize("compression", [None, "gzip", "bz2", "xz", "zstd"])
def test_every_compression_is_told_and_read_back(tmp_path: Path, compression: str | None) -> None:
    path = pack(tmp_path / "rows.jsonl", compression)
    assert compression_of(path, path.read_bytes()[:8]) == compression
    with open_data(path, compression) as f:
        assert f.read() == DATA
    assert sha256_data(path, compression) == (hashlib.sha256(DATA).hexdigest(), len(DATA))


def test_magic_names_each_compression_once() -> None:
    assert sorted(MAGIC.values()) == ["bz2", "gzip", "xz", "zstd"]


@pytest.mark.parametrize("compression", ["gzip", "bz2", "xz"])
def test_a_compressed_file_cut_short_is_a_source_error(tmp_path: Path, compression: str) -> None:
    whole = pack(tmp_path / "whole", compression).read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SourceError, match=f"the {compression} data is corrupt") as caught:
        sha256_data(cut, compression)
    assert caught.value.hint == "download or write the file again (it may be cut short)"


def test_rows_and_first_rows_of_each_payload() -> None:
    rows = [{"a": i} for i in range(5)]
    lines = JsonLines(7, [b'{"a": %d}\n' % i for i in range(5)])
    batch = pa.RecordBatch.from_pylist(rows)
    for payload in (rows, lines, batch):
        assert rows_of(payload) == rows
        assert rows_of(first_rows(payload, 2)) == rows[:2]
        assert rows_of(first_rows(payload, 9)) == rows
    assert len(lines) == 5
    assert first_rows(lines, 2) == JsonLines(7, lines.lines[:2])  # its line numbers kept


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"   \n", "line 4 is empty"),
        (b'{"winner": "model_a", "winner": "tie"}\n', "line 4 " + key_twice("winner")),
        (b'{"a": {"b": 1, "b": 2}}', "line 4 " + key_twice("b")),
        (b'{"n": ' + b"1" * 5000 + b"}", "line 4 " + TooLong(5000).reason),
        (b'{"a": "\xff"}', "line 4 is not valid UTF-8 (byte 7)"),
        (b'{"a": 1\n', "line 4 is not valid JSON: Expecting ',' delimiter (column 8)"),
        (b"[" * 100_000 + b"]" * 100_000, "line 4 is nested too deeply to read"),
    ],
)
def test_a_json_line_that_does_not_read_is_its_rows_problem(raw: bytes, reason: str) -> None:
    [row] = rows_of(JsonLines(4, [raw]))
    assert isinstance(row, RowProblem)
    assert str(row) == reason


def test_a_json_line_reads_as_json_does() -> None:
    lines = [b'{"a": [1, 2.5, null, true], "b": {"c": "\\u00e9"}}\r\n', b"[1, 2]"]
    assert rows_of(JsonLines(1, lines)) == [
        {"a": [1, 2.5, None, True], "b": {"c": "\u00e9"}},
        [1, 2],
    ]


@given(st.integers())
def test_integer_reads_every_whole_number_python_converts(n: int) -> None:
    assert integer(str(n)) == n


@pytest.mark.parametrize("sign", ["", "-"])
def test_a_whole_number_past_the_conversion_limit_is_too_long(sign: str) -> None:
    with pytest.raises(TooLong) as caught:
        integer(sign + "7" * 4301)
    assert caught.value.reason == (
        "holds a whole number of 4,301 digits, more than Python converts"
    )
