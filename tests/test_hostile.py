"""Hostile input: whatever is in the file, the build ends with every row written or rejected
with a reason (or one clear error for the file), never a traceback. Raise the number of
examples for a long run with ARENATOK_FUZZ_EXAMPLES=2000."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.errors import ArenatokError, SourceError
from arenatok.pipeline import build
from arenatok.tokens import get_encoding
from arenatok.validate import validate_dir
from tests.helpers import TINY, battle, write_jsonl

FUZZ = settings(
    max_examples=int(os.environ.get("ARENATOK_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = sorted(TINY[0])


@st.composite
def hostile_lines(draw: st.DrawFn) -> bytes:
    """One line of a JSON Lines file: a battle with a random value somewhere, a random JSON
    value, raw bytes (often invalid UTF-8), or a battle with extra fields."""
    kind = draw(st.sampled_from(["field", "value", "bytes", "extra", "valid"]))
    row: Any = json.loads(json.dumps(draw(st.sampled_from(TINY))))
    if kind == "field":
        path = draw(
            st.sampled_from(
                [
                    *FIELDS,
                    "conversation_a.0.content",
                    "conversation_b.1.role",
                    "toxic_chat_tag.t5-large",
                ]
            )
        )
        *parents, last = path.split(".")
        target = row
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = draw(json_values)
    elif kind == "value":
        row = draw(json_values)
    elif kind == "bytes":
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    elif kind == "extra":
        row[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    return json.dumps(row).encode()  # NaN and Infinity are written as such (as Python does)


def build_rejecting(src: Path, out: Path) -> Any:
    try:
        return build(src, out=out, on_bad_row="reject", limit=None, allow_empty=True)
    except ArenatokError as e:  # a file-level error is allowed, a crash is not
        return e


@FUZZ
@given(lines=st.lists(hostile_lines(), min_size=1, max_size=12))
def test_json_lines_every_row_is_written_or_rejected(lines: list[bytes], tmp_path: Path) -> None:
    src = tmp_path / "b.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    result = build_rejecting(src, tmp_path / "out")
    rows = len(lines)
    while rows and not lines[rows - 1].strip():  # empty lines at the end are not rows
        rows -= 1
    if isinstance(result, ArenatokError):  # several rows alike, none in a known layout
        assert result.message.startswith(f"{src}: no known layout has these columns: ") or (
            rows == 0 and result.message == f"{src}: the file has no rows"
        )
        return
    assert result.stats.read == rows == result.stats.written + result.stats.rejected
    rejects = [
        json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().split("\n") if x
    ]
    assert len(rejects) == result.stats.rejected
    assert all(r["reason"] and isinstance(r["row"], int) for r in rejects)
    assert validate_dir(tmp_path / "out") == []


column_types = st.sampled_from(
    [
        pa.string(),
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.null(),
        pa.binary(),
        pa.list_(pa.string()),
        pa.struct([("flagged", pa.string())]),
        pa.list_(pa.struct([("content", pa.int64()), ("role", pa.string())])),
    ]
)


def _values(kind: pa.DataType, n: int, draw: st.DrawFn) -> pa.Array:
    if pa.types.is_null(kind):
        return pa.nulls(n)
    strategy = st.from_type(type(None))
    if pa.types.is_string(kind):
        strategy = st.none() | st.text(max_size=10)
    elif pa.types.is_integer(kind):
        strategy = st.none() | st.integers(-(2**40), 2**40)
    elif pa.types.is_floating(kind):
        strategy = st.none() | st.floats()
    elif pa.types.is_boolean(kind):
        strategy = st.none() | st.booleans()
    elif pa.types.is_binary(kind):
        strategy = st.none() | st.binary(max_size=10)
    elif pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
        strategy = st.none() | st.lists(st.text(max_size=5), max_size=3)
    elif pa.types.is_struct(kind):
        strategy = st.none() | st.fixed_dictionaries({"flagged": st.text(max_size=3)})
    else:
        strategy = st.none() | st.lists(
            st.fixed_dictionaries(
                {"content": st.integers(0, 9), "role": st.sampled_from(["user", "assistant"])}
            ),
            max_size=4,
        )
    return pa.array([draw(strategy) for _ in range(n)], type=kind)


@FUZZ
@given(data=st.data())
def test_parquet_with_wrong_column_types(data: st.DataObject, tmp_path: Path) -> None:
    table = pa.Table.from_pylist(TINY * 2)
    for name in data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        i = table.schema.get_field_index(name)
        kind = data.draw(column_types)
        table = table.set_column(i, name, _values(kind, table.num_rows, data.draw))
    src = tmp_path / "b.parquet"
    pq.write_table(table, src)
    result = build_rejecting(src, tmp_path / "out")
    if isinstance(result, ArenatokError):
        assert isinstance(result, SourceError)
        return
    assert result.stats.read == table.num_rows == result.stats.written + result.stats.rejected
    assert validate_dir(tmp_path / "out") == []


def test_deep_nesting(tmp_path: Path) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    nested_qid = json.dumps(battle("x")).replace('"x"', "[" * 900 + "]" * 900).encode()
    src = tmp_path / "b.jsonl"
    src.write_bytes(b"\n".join([deep, nested_qid, json.dumps(TINY[0]).encode()]) + b"\n")
    result = build(src, out=tmp_path / "out", on_bad_row="reject")
    rejects = [
        json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().split("\n") if x
    ]
    assert rejects[0]["reason"] == "line 1 is nested too deeply to read"
    assert rejects[1]["reason"].startswith("question_id must be a non-empty string, got list [[[")
    assert (result.stats.written, result.stats.rejected) == (1, 2)


def test_deeply_nested_json_list_file(tmp_path: Path) -> None:
    src = tmp_path / "b.json"
    src.write_bytes(b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]")
    result = build_rejecting(src, tmp_path / "out")
    # ijson reads it (or refuses the file with one clear line); either way, no crash.
    if isinstance(result, ArenatokError):
        assert result.message.startswith(f"{src}: ")
    else:
        assert (result.stats.read, result.stats.rejected) == (1, 1)


def test_huge_strings(tmp_path: Path) -> None:
    huge = "word " * 4_000_000  # 20 MB of text in one answer
    rows = [battle("big", [("Say a lot", huge, "ok")]), battle("long-id" * 100_000, winner="?")]
    result = build(
        write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out", on_bad_row="reject"
    )
    assert (result.stats.written, result.stats.rejected) == (1, 1)
    [reject] = (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()
    assert len(reject) < 2_000_000  # the reason quotes a short start, not the whole value
    record = json.loads((tmp_path / "out" / "data_out.jsonl").read_text())
    enc = get_encoding("cl100k_base")
    expected = len(enc.encode_ordinary(huge))  # 4,000,001: "word", then " word" ..., then " "
    assert record["context"]["token_usage"]["total_output_tokens_a"] == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "tstamp is not finite (nan)"),
        (math.inf, "tstamp is not finite (inf)"),
        (-math.inf, "tstamp is not finite (-inf)"),
    ],
)
def test_non_finite_timestamps(value: float, reason: str, tmp_path: Path) -> None:
    row = dict(TINY[0], tstamp=value)
    (tmp_path / "b.jsonl").write_text(json.dumps(row) + "\n")  # writes NaN / Infinity
    result = build(
        tmp_path / "b.jsonl", out=tmp_path / "out", on_bad_row="reject", allow_empty=True
    )
    assert result.stats.rejected == 1
    assert json.loads((tmp_path / "out" / "rejects.jsonl").read_text())["reason"] == reason


def test_negative_turn_and_extra_columns(tmp_path: Path) -> None:
    rows = [dict(TINY[0], turn=-1), dict(TINY[1], extra_column={"any": ["thing"]})]
    result = build(
        write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out", on_bad_row="reject"
    )
    assert (result.stats.written, result.stats.rejected) == (1, 1)
    reject = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert reject["reason"] == "turn is -1 but the conversation has 1 turns"
