"""`pipeline.sources.filetypes`: the file types found by the package, a file's type told by
its name or first bytes, and every type reading the same rows in source order, in batches."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline.sources.filetypes import FILE_TYPES, sniff
from arenatok.pipeline.sources.filetypes.base import FileType, rows_of
from tests.helpers import write_parquet

ROWS = [{"question_id": f"q{i}", "winner": "model_a", "turn": i % 3 + 1} for i in range(7)]


def write(kind: str, path: Path, rows: list[dict[str, Any]]) -> Path:
    if kind == "parquet":
        return write_parquet(path, rows)
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return path


def test_every_module_gives_one_file_type_in_sniffing_order() -> None:
    assert list(FILE_TYPES) == ["parquet", "jsonl", "json", "csv"]
    assert all(isinstance(t, FileType) for t in FILE_TYPES.values())
    assert [t.order for t in FILE_TYPES.values()] == sorted(t.order for t in FILE_TYPES.values())
    suffixes = [s for t in FILE_TYPES.values() for s in t.suffixes]
    assert len(suffixes) == len(set(suffixes))  # a suffix names one type


@pytest.mark.parametrize(
    ("name", "start", "expected"),
    [
        ("x.parquet", b"", "parquet"),
        ("x.jsonl", b"", "jsonl"),
        ("x.ndjson", b"", "jsonl"),
        ("x.csv", b"", "csv"),
        ("x.jsonl.gz", b"", "jsonl"),
        ("noname", b"PAR1\x15\x04", "parquet"),
        ("noname", b'{"question_id": "q0"}\n', "jsonl"),
        ("noname", b'[{"question_id": "q0"}]', "json"),
        ("noname", b"  \n[\n", "json"),
    ],
)
def test_sniff_by_name_then_first_bytes(name: str, start: bytes, expected: str) -> None:
    compression = "gzip" if name.endswith(".gz") else None
    assert sniff(Path(name), start, compression).name == expected


def test_a_file_nothing_tells_is_one_error_naming_the_types() -> None:
    with pytest.raises(SourceError, match="cannot tell the file type") as caught:
        sniff(Path("battles.txt"), b"question_id,winner\n")
    assert ".parquet" in str(caught.value.hint)
    assert ".csv" in str(caught.value.hint)


@pytest.mark.parametrize("kind", list(FILE_TYPES))
@pytest.mark.parametrize("size", [1, 3, 100])
def test_every_file_type_reads_the_same_rows_in_order(tmp_path: Path, kind: str, size: int) -> None:
    path = write(kind, tmp_path / f"rows.{kind}", ROWS)
    file_type = FILE_TYPES[kind]
    columns = tuple(ROWS[0]) if file_type.has_columns else ()  # the layout names them
    batches = list(file_type.payloads(path, size, columns=columns))
    assert [len(rows_of(b)) for b in batches][:-1] == [size] * (len(batches) - 1)
    rows = [r for b in batches for r in rows_of(b)]
    as_text = [{k: str(v) for k, v in r.items()} for r in rows]
    assert as_text == [{k: str(v) for k, v in r.items()} for r in ROWS]  # CSV holds text
    if file_type.has_columns:
        assert file_type.columns(path, None)[0] == ["question_id", "winner", "turn"]
    assert file_type.rows(path) in (None, len(ROWS))
