"""`pipeline.sources.filetypes.json`: a JSON list read one record at a time, where a record
that cannot be taken as it is (a key named twice, a whole number too long to convert, nesting
too deep) is its row's problem and the file's other records read on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline.sources.filetypes import FILE_TYPES
from arenatok.pipeline.sources.filetypes.base import key_twice, rows_of
from arenatok.pipeline.sources.filetypes.json import MAX_DEPTH

ROWS = [{"question_id": f"q{i}", "winner": "model_a", "turn": i % 3 + 1} for i in range(7)]
JSON = FILE_TYPES["json"]


def read(path: Path, data: str | bytes, size: int = 2) -> list[Any]:
    """The rows of `data` written to `path` and read as a JSON list, `size` at a time."""
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return [r for b in JSON.payloads(path, size) for r in rows_of(b)]


@pytest.mark.parametrize("size", [1, 2, 100])
def test_records_and_scalars_read_in_order_whatever_the_batch_size(
    tmp_path: Path, size: int
) -> None:
    items = [{"a": [1, 2.5, None]}, 3, "x", None, {"b": {"c": True}}]
    assert read(tmp_path / "rows.json", json.dumps(items), size) == items
    assert read(tmp_path / "empty.json", "[]", size) == []


def test_a_byte_order_mark_and_spaces_before_the_list_are_skipped(tmp_path: Path) -> None:
    assert read(tmp_path / "bom.json", b'\xef\xbb\xbf  [{"a": 1}]') == [{"a": 1}]
    assert JSON.starts(b'  \n[{"a": 1}]')
    assert not JSON.starts(b'{"a": 1}')


def test_a_lone_surrogate_is_kept_for_the_rows_check(tmp_path: Path) -> None:
    assert read(tmp_path / "rows.json", '[{"a": "\\ud800"}, {"b": "\\ud83d\\ude00"}]') == [
        {"a": "\ud800"},
        {"b": "\U0001f600"},
    ]


def test_a_key_named_twice_refuses_its_record_only(tmp_path: Path) -> None:
    text = '[{"a": 1, "a": 2}, {"b": {"c": 1, "c": 2}}, {"c": 1}, {"d": [{"e": 1}, {"e": 2}]}]'
    read_back = read(tmp_path / "rows.json", text)
    assert [str(r) for r in read_back[:2]] == [
        "record 1 " + key_twice("a"),
        "record 2 " + key_twice("c"),
    ]
    assert read_back[2:] == [{"c": 1}, {"d": [{"e": 1}, {"e": 2}]}]  # one key per object


def test_a_record_nested_too_deeply_is_its_rows_problem(tmp_path: Path) -> None:
    def nested(depth: int) -> str:
        return '{"a": ' * depth + "1" + "}" * depth

    read_back = read(tmp_path / "rows.json", f"[{nested(MAX_DEPTH - 1)}, {nested(70)}, 1]")
    assert read_back[0] == json.loads(nested(MAX_DEPTH - 1))
    assert str(read_back[1]) == f"record 2 is nested more than {MAX_DEPTH} levels deep"
    assert read_back[2] == 1


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"a": 1}', "the file does not start with a JSON list"),
        ('[{"a": 1}, {"a": ', "parse error: premature EOF"),
    ],
)
def test_a_file_that_is_not_a_json_list_is_a_source_error(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / "rows.json"
    with pytest.raises(SourceError) as caught:
        read(path, text)
    assert caught.value.message == f"{path}: not a valid JSON list of records ({why})"
    assert caught.value.hint == "expected [{...}, {...}] or one JSON object per line (.jsonl)"


HUGE = "9" * 5000
"""A whole number past Python's int/str conversion limit (4,300 digits by default)."""


@pytest.mark.parametrize("kind", ["jsonl", "json", "json, a surrogate"])
@pytest.mark.parametrize("size", [1, 100])
def test_a_whole_number_too_long_to_convert_is_its_rows_problem(
    tmp_path: Path, kind: str, size: int
) -> None:
    rows: list[dict[str, Any]] = [dict(r) for r in ROWS]
    rows[3]["note"] = {"n": [1, "HUGE"]}  # anywhere, read or not
    rows[5]["turn"] = "-HUGE"
    if kind.endswith("surrogate"):  # the Python parser from the start
        rows[0]["question_id"] = "\ud800"
    texts = [json.dumps(r).replace('"HUGE"', HUGE).replace('"-HUGE"', "-" + HUGE) for r in rows]
    path = tmp_path / "rows.json"
    path.write_text("\n".join(texts) if kind == "jsonl" else "[" + ",\n".join(texts) + "]")
    file_type = FILE_TYPES[kind.split(",")[0]]
    read_back = [r for b in file_type.payloads(path, size) for r in rows_of(b)]
    what = "line" if kind == "jsonl" else "record"
    assert [str(r) for r in read_back[3:6:2]] == [
        f"{what} {i} holds a whole number of 5,000 digits, more than Python converts"
        for i in (4, 6)
    ]
    assert read_back[:3] + read_back[4:5] + read_back[6:] == rows[:3] + rows[4:5] + rows[6:]


@pytest.mark.parametrize("size", [1, 100])
def test_a_json_list_reads_whole_numbers_past_64_bits(tmp_path: Path, size: int) -> None:
    rows = [dict(r, n=2**70 * i) for i, r in enumerate(ROWS)]  # the first fits 64 bits
    assert read(tmp_path / "rows.json", json.dumps(rows), size) == rows
