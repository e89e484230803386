"""End to end, the build's inputs: every file type and odd file (nesting, huge strings, wrong
column types, duplicate keys, compression, cut or corrupt files, pipes) gives its records or one
clear line; every row is written or rejected with its reason."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.errors import ArenatokError, SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.encodings import get_encoding
from arenatok.pipeline.sources.filetypes.base import compression_of
from tests.e2e.commands import FUZZ, build_rejecting, cli_run, run
from tests.helpers import TINY, battle, deny, kaggle_row, write_csv, write_jsonl, write_parquet

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


COMPRESSORS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda data: pa.compress(data, codec="zstd", asbytes=True),
}


def _zstd_frame(data: bytes) -> bytes:
    """A zstd frame a `zstd` command would write (Arrow's compress gives a bare frame too)."""
    out = pa.BufferOutputStream()
    with pa.CompressedOutputStream(out, "zstd") as f:
        f.write(data)
    return bytes(out.getvalue().to_pybytes())


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


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
        wide = b"\x00" in src.read_bytes()[:4]  # taken for UTF-16 or UTF-32 text
        packed = compression_of(src, src.read_bytes()[:8])  # starts with a compressor's magic
        assert (
            result.message.startswith(f"{src}: no known layout has these columns: ")
            or (rows == 0 and result.message == f"{src}: the file has no rows")
            or (wide and result.message.endswith("is UTF-16 or UTF-32 text; arenatok reads UTF-8"))
            or (packed is not None and f"{src}: the {packed} data is corrupt (" in result.message)
        )
        return
    assert result.stats.read == rows == result.stats.written + result.stats.rejected
    rejects = [
        json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().split("\n") if x
    ]
    assert len(rejects) == result.stats.rejected
    assert all(r["reason"] and isinstance(r["row"], int) for r in rejects)
    assert validate_dir(tmp_path / "out") == []


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


@pytest.mark.parametrize("filetype", ["parquet", "csv"])
def test_a_column_named_twice_is_refused(tmp_path: Path, filetype: str) -> None:
    if filetype == "parquet":
        src = tmp_path / "twice.parquet"
        t = pa.Table.from_pylist(TINY)
        table = pa.Table.from_arrays(
            [*t.columns, t.column("language")], names=[*t.column_names, "language"]
        )
        pq.write_table(table, src)
        args = ["--source", str(src)]
    else:
        src = tmp_path / "twice.csv"
        src.write_text("id,model_a,model_b,model_a\n1,x,y,z\n")
        args = ["--source", f"kaggle-55k:{src}"]
    code, _, err = cli_run("build", *args, "--out", str(tmp_path / "o"))
    assert code == 2
    wanted = "'language'" if filetype == "parquet" else "'model_a'"
    assert err.startswith(f"Error: {src}: the column {wanted} occurs more than once\n")


def test_a_pipe_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "battles.jsonl"
    os.mkfifo(fifo)
    code, _, err = cli_run("build", "--source", str(fifo), "--out", str(tmp_path / "o"))
    assert (code, err) == (
        2,
        f"Error: {fifo}: is not a regular file (a pipe, socket or device); arenatok reads "
        "files\nHint: save the stream to a file first, then --source FILE\n",
    )
    r, w = os.pipe()
    try:
        code, _, err = cli_run("build", "--source", f"/dev/fd/{r}", "--out", str(tmp_path / "o"))
    finally:
        os.close(r)
        os.close(w)
    assert (code, err.splitlines()[0]) == (
        2,
        f"Error: /dev/fd/{r}: is not a regular file (a pipe, socket or device); arenatok reads "
        "files",
    )


def test_an_integral_float_turn_is_a_whole_number(tmp_path: Path) -> None:
    rows = [dict(TINY[0], turn=1.0)]
    result = build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o")
    assert result.stats.written == 1
    with pytest.raises(ArenatokError, match=r"turn must be a whole number, got float 1\.5"):
        build(write_jsonl(tmp_path / "c.jsonl", [dict(TINY[0], turn=1.5)]), out=tmp_path / "p")


def test_a_jsonl_row_that_names_a_key_twice_is_a_bad_row(tmp_path: Path) -> None:
    row = json.dumps(TINY[0])[:-1] + ', "winner": "model_b"}'  # json keeps the last silently
    nested = json.dumps(TINY[1]).replace('"role": "user"', '"role": "user", "role": "user"', 1)
    src = tmp_path / "b.jsonl"
    src.write_text(row + "\n" + nested + "\n" + json.dumps(TINY[2]) + "\n")
    result = run("build", "--source", src, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: {src}: row 1: line 1 names the key 'winner' twice in one object (which value "
        "is meant cannot be told)"
    )
    build(src, out=tmp_path / "o", on_bad_row="reject")
    rejects = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    why = "twice in one object (which value is meant cannot be told)"
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (1, f"line 1 names the key 'winner' {why}"),
        (2, f"line 2 names the key 'role' {why}"),
    ]


def test_a_json_record_that_names_a_key_twice_is_a_bad_row(tmp_path: Path) -> None:
    first = json.dumps(TINY[0])[:-1] + ', "winner": "model_b"}'
    src = tmp_path / "b.json"
    src.write_text(f"[{first}, {json.dumps(TINY[1])}]")
    build(src, out=tmp_path / "o", on_bad_row="reject")
    [reject] = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert reject["reason"] == (
        "record 1 names the key 'winner' twice in one object (which value is meant cannot be told)"
    )
    assert validate_dir(tmp_path / "o") == []


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv"])
def test_a_whole_number_too_long_to_convert_is_a_bad_row(tmp_path: Path, kind: str) -> None:
    huge = "9" * 5000  # Python converts at most 4,300 digits to an int
    src = tmp_path / f"b.{kind}"
    if kind == "csv":  # values are text; the 55k release's JSON-encoded lists hold numbers
        rows = [kaggle_row(i, ["Hey"]) for i in range(3)]
        rows[1]["prompt"] = f"[{huge}]"
        write_csv(src, rows)
        row, reason = "row 2 (id '1001')", "prompt must be a JSON-encoded non-empty list of"
    else:
        lines = [json.dumps(r) for r in TINY[:3]]
        lines[1] = lines[1].replace('"turn": 2', f'"turn": {huge}')
        src.write_text("\n".join(lines) if kind == "jsonl" else f"[{', '.join(lines)}]")
        what = "line" if kind == "jsonl" else "record"
        row, reason = "row 2", f"{what} 2 holds a whole number of 5,000 digits, more than Python"
    code, _, err = cli_run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith(f"Error: {src}: {row}: {reason}")
    stats = build(src, out=tmp_path / "o", on_bad_row="reject").stats
    assert (stats.read, stats.written, stats.rejected) == (3, 2, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "o/rejects.jsonl").read_text().splitlines()]
    assert reject["row"] == 2
    assert reject["reason"].startswith(reason)


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz", "zst"])
@pytest.mark.parametrize("kind", ["jsonl", "json", "csv"])
def test_a_compressed_source_gives_the_plain_files_records(
    tmp_path: Path, suffix: str, kind: str
) -> None:
    if kind == "csv":
        plain = write_csv(
            tmp_path / "b.csv", [kaggle_row(i, ["Hey"], winner=i % 3) for i in range(5)]
        )
    elif kind == "json":
        plain = tmp_path / "b.json"
        plain.write_text(json.dumps(TINY))
    else:
        plain = write_jsonl(tmp_path / "b.jsonl", TINY)
    data = plain.read_bytes()
    packed = _zstd_frame(data) if suffix == "zst" else COMPRESSORS[suffix](data)
    compressed = tmp_path / "c" / f"b.{kind}.{suffix}"
    compressed.parent.mkdir()
    compressed.write_bytes(packed)
    build(plain, out=tmp_path / "plain", limit=None)
    build(compressed, out=tmp_path / "packed", limit=None)
    for name in ("data_out.jsonl", "data_out.json", "mini_data_out.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "packed" / name).read_bytes()
    meta = json.loads((tmp_path / "packed" / "artifact_metadata.json").read_text())
    assert meta["source"]["compressed"]["bytes"] == len(packed)
    assert meta["source"]["bytes"] == len(data)
    assert validate_dir(tmp_path / "packed") == []


def test_compression_is_told_by_its_bytes_and_a_cut_stream_is_one_line(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "b.jsonl", TINY).read_bytes()
    named_plain = tmp_path / "gz_inside.jsonl"
    named_plain.write_bytes(gzip.compress(data))
    build(named_plain, out=tmp_path / "o")
    assert len((tmp_path / "o" / "data_out.jsonl").read_text().splitlines()) == 4
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(data * 50)[:-40])
    result = run("build", "--source", cut, "--out", tmp_path / "o2", "--limit", "all")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {cut}: the gzip data is corrupt or cut short")
    assert len(result.output.splitlines()) == 2


def test_unreadable_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    deny(monkeypatch, src)
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, err) == (2, f"Error: {src}: permission denied\nHint: make the file readable\n")


def test_truncated_parquet(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 50)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith(f"Error: {src}: not a readable Parquet file (")
    assert err.count("\n") == 2  # the message and its hint


def test_parquet_with_corrupt_data_pages(tmp_path: Path) -> None:
    src = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(TINY * 200), src, compression="snappy")
    data = bytearray(src.read_bytes())
    for i in range(200, len(data) // 2, 97):  # the footer stays readable
        data[i] ^= 0x5A
    src.write_bytes(bytes(data))
    code, err = run_cli(
        "build",
        "--source",
        str(src),
        "--out",
        str(tmp_path / "o"),
        "--limit",
        "all",
        "--on-bad-row",
        "reject",
    )
    # Depending on where the flipped bytes land, the page headers or the data fail to decode.
    assert code == 2
    assert err.startswith(
        (
            f"Error: {src}: the Parquet data is corrupt (",
            f"Error: {src}: not a readable Parquet file (",
        )
    )
    assert err.count("\n") == 2  # the message and its hint
    assert not (tmp_path / "o" / "data_out.json").exists()


def test_flipped_bytes_in_json_lines(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY * 5)
    data = bytearray(src.read_bytes())
    data[10] = 0xFF  # invalid UTF-8 in line 1
    data[data.index(b"\n", 2000) + 5] = ord("}")  # broken JSON in a later line
    src.write_bytes(bytes(data))
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert (code, err.splitlines()[0]) == (
        2,
        f"Error: {src}: row 1: line 1 is not valid UTF-8 (byte 10)",
    )
    result = build(src, out=tmp_path / "o", on_bad_row="reject")
    assert (result.stats.read, result.stats.rejected) == (20, 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes(b""),
            "{src}: the file is empty\nHint: check the path (--source FILE)",
        ),
        (
            lambda p: pq.write_table(pa.Table.from_pylist(TINY).slice(0, 0), p),
            "{src}: the file has no rows\nHint: check the path (--source FILE)",
        ),
        (
            lambda p: p.mkdir(),
            "{src}: is a directory, expected a file\nHint: name a file inside it (--source FILE)",
        ),
        (lambda p: None, "{src}: no such file\nHint: check the path (--source FILE)"),
    ],
)
def test_source_errors(tmp_path: Path, make: Any, message: str) -> None:
    src = tmp_path / "b.parquet"
    make(src)
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert (code, err) == (2, f"Error: {message.format(src=src)}\n")
