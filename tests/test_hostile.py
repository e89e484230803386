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

from arenatok.dataset.validate import validate_dir
from arenatok.errors import ArenatokError, SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.encodings import get_encoding
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
        wide = b"\x00" in src.read_bytes()[:4]  # taken for UTF-16 or UTF-32 text
        assert (
            result.message.startswith(f"{src}: no known layout has these columns: ")
            or (rows == 0 and result.message == f"{src}: the file has no rows")
            or (wide and result.message.endswith("is UTF-16 or UTF-32 text; arenatok reads UTF-8"))
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


# ---- the second hostile pass: paths that lead elsewhere, pairs of files, plug-ins, odd inputs


def cli_run(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from arenatok.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a failure of its own
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def built(tmp_path: Path) -> Path:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    return out


@pytest.mark.parametrize("dangling", [True, False])
def test_a_planted_lock_link_is_not_written_through(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "elsewhere.txt"
    if not dangling:
        target.write_text("keep me\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / ".arenatok.lock").symlink_to(target)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, _, err = cli_run("build", "--source", str(src), "--out", str(out))
    assert code == 3
    assert err.startswith(f"Error: {out}/.arenatok.lock: is a symbolic link; arenatok does not")
    assert target.exists() is not dangling
    if not dangling:
        assert target.read_text() == "keep me\n"
    assert not (out / "artifact_metadata.json").exists()


def test_a_build_keeps_the_users_own_files_of_derived_names(tmp_path: Path) -> None:
    out = tmp_path / "o"
    (out / "data").mkdir(parents=True)
    mine = {
        "data/train-00000-of-00001.parquet": b"PAR1 my own data",
        "report.json": b'{"mine": true}\n',
        "README.md": b"# my notes\n",
    }
    for name, data in mine.items():
        (out / name).write_bytes(data)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, stdout, _ = cli_run("build", "--source", str(src), "--out", str(out))
    assert code == 0
    assert {n: (out / n).read_bytes() for n in mine} == mine
    assert (
        "left in place, not made from the build this one replaced: report.json (arenatok did "
        "not make it), data/train-00000-of-00001.parquet (arenatok did not make it), README.md "
        "(arenatok did not make it)\n"
    ) in stdout


def test_card_leaves_a_users_readme_unless_forced(built: Path) -> None:
    (built / "README.md").write_text("# my notes\n")
    code, _, err = cli_run("card", str(built))
    assert (code, err) == (
        3,
        f"Error: {built}/README.md: is not a card that arenatok wrote; arenatok leaves it alone\n"
        "Hint: move it away, or pass --force to replace it\n",
    )
    assert (built / "README.md").read_text() == "# my notes\n"
    assert not (built / "data" / "train-00000-of-00001.parquet").exists()
    assert cli_run("card", str(built), "--force")[0] == 0
    assert "made_with: arenatok" in (built / "README.md").read_text()


def test_a_linked_data_folder_is_neither_written_nor_emptied(built: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (built / "data").symlink_to(outside)
    code, _, err = cli_run("card", str(built))
    assert code == 3
    assert "is a symbolic link; arenatok does not write through links" in err
    assert list(outside.iterdir()) == []
    # Our card's Parquet file placed in the outside folder survives a rebuild.
    (built / "data").unlink()
    assert cli_run("card", str(built))[0] == 0
    (outside / "train-00000-of-00001.parquet").write_bytes(
        (built / "data" / "train-00000-of-00001.parquet").read_bytes()
    )
    for p in (built / "data").iterdir():
        p.unlink()
    (built / "data").rmdir()
    (built / "data").symlink_to(outside)
    build(write_jsonl(tmp_path / "c.jsonl", TINY[:2]), out=built)
    assert [p.name for p in outside.iterdir()] == ["train-00000-of-00001.parquet"]


@pytest.mark.parametrize("through_link", [False, True])
def test_a_build_never_replaces_its_own_source(built: Path, through_link: bool) -> None:
    src = built / "data_out.jsonl"
    if through_link:
        link = built.parent / "link.jsonl"
        link.symlink_to(src)
        src = link
    before = (built / "data_out.jsonl").read_bytes()
    code, _, err = cli_run("build", "--source", str(src), "--out", str(built))
    assert code == 2
    assert f"is the output's own data_out.jsonl in {built}; the build would replace it" in err
    assert (built / "data_out.jsonl").read_bytes() == before
    assert validate_dir(built) == []


def test_validate_opens_nothing_outside_the_directory(built: Path) -> None:
    (built.parent / "secret.txt").write_text("x" * 12345)
    meta_path = built / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    for name in ("../secret.txt", "/etc/hostname"):
        meta["files"][name] = {"bytes": 1, "sha256": "0" * 64}
    meta_path.write_text(json.dumps(meta))
    problems = validate_dir(built)
    assert (
        "artifact_metadata.json: lists '../secret.txt', which is not a file this build writes"
        in (problems)
    )
    assert not any("12345" in p for p in problems)


def test_report_and_its_page_change_together(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from arenatok.runtime import atomic

    assert cli_run("report", str(built), "--rounds", "0")[0] == 0
    before = {n: (built / n).read_bytes() for n in ("report.json", "report.html")}
    assert validate_dir(built) == []
    real = atomic.TempFile.close

    def stop_at_the_page(self: Any) -> dict[str, object]:
        if self.final.name == "report.html":
            raise KeyboardInterrupt  # Ctrl-C once report.json's temp file is complete
        return real(self)

    monkeypatch.setattr(atomic.TempFile, "close", stop_at_the_page)
    code, _, _ = cli_run("report", str(built), "--rounds", "0", "--seed", "3")
    assert code == 130
    monkeypatch.undo()
    assert {n: (built / n).read_bytes() for n in before} == before
    assert not [p.name for p in built.iterdir() if p.name.endswith(".tmp")]
    # A page from another run beside the JSON file is found.
    (built / "report.html").write_bytes(before["report.html"].replace(b"arenatok-run", b"x"))
    assert validate_dir(built) == [
        f"report.html: report.html was not made in the same run as report.json: run arenatok "
        f"report {built} again"
    ]


def test_a_killed_runs_temp_files_are_named_then_cleaned(built: Path) -> None:
    (built / "data").mkdir()
    strays = [".report.json.1a2b3c4d.tmp", ".bench.html.0f0f0f0f.tmp"]
    strays.append("data/.train-00000-of-00001.parquet.deadbeef.tmp")
    for s in strays:
        (built / s).write_bytes(b"half")
    assert validate_dir(built) == [
        f"{s}: a temp file left by a run that was killed (the next run removes it)"
        for s in sorted(strays)
    ]
    assert cli_run("report", str(built), "--rounds", "0")[0] == 0
    assert cli_run("card", str(built))[0] == 0
    assert validate_dir(built) == [
        ".bench.html.0f0f0f0f.tmp: a temp file left by a run that was killed (the next run "
        "removes it)"
    ]
    build(write_jsonl(built.parent / "c.jsonl", TINY), out=built)  # the build takes any of ours
    assert validate_dir(built) == []


def test_card_reads_records_over_a_mebibyte_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from arenatok.dataset import card

    rows = [battle(f"q{i}", tstamp=None if i < 3 else 1.5) for i in range(6)]
    rows[4] = battle("q4", [("Hi", "word " * 230_000, "short")])  # a 1.1 MB answer
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    # Blocks of about one record: the first blocks have no timestamp, the later ones do.
    monkeypatch.setattr(card, "CHUNK_BYTES", 1000)
    assert cli_run("card", str(out))[0] == 0
    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    assert table.num_rows == 6
    records = [json.loads(line) for line in (out / "data_out.jsonl").read_text().splitlines()]

    def set_fields(v: Any) -> Any:  # Arrow gives a field that one record lacks as null
        if isinstance(v, dict):
            return {k: set_fields(x) for k, x in v.items() if x is not None}
        return [set_fields(x) for x in v] if isinstance(v, list) else v

    assert set_fields(table.to_pylist()) == set_fields(records)
    assert validate_dir(out) == []


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


def _tokenizer_file(tmp_path: Path, kind: str) -> Path:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    if kind == "no_unk":
        t = Tokenizer(models.WordLevel({"hello": 0, "world": 1}))
        t.pre_tokenizer = pre_tokenizers.Whitespace()
    else:  # a split pattern that backtracks past the regex engine's limit on long runs
        t = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
        letter = {"backtracks": "a", "backtracks_on_data": "q"}[kind]
        t.pre_tokenizer = pre_tokenizers.Split(Regex(f"({letter}+)+b"), behavior="isolated")
    path = tmp_path / f"{kind}.json"
    t.save(str(path))
    return path


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("no_unk", "WordLevel error: Missing [UNK] token from the vocabulary"),
        ("backtracks", "Onig: Regex search error: retry-limit-in-match over"),
    ],
)
def test_a_tokenizer_that_cannot_encode_fails_before_the_build(
    tmp_path: Path, kind: str, why: str
) -> None:
    tok = _tokenizer_file(tmp_path, kind)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, _, err = cli_run("build", "--source", str(src), "--tokenizer", str(tok), "--out", "o")
    assert code == 1
    assert err.splitlines()[0] == f"Error: {tok}: cannot encode a text ({why})"
    assert len(err.splitlines()) == 2  # and its hint


def test_a_tokenizer_panic_on_the_data_stops_the_workers_with_one_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    tok = _tokenizer_file(tmp_path, "backtracks_on_data")
    rows = [battle(f"q{i}", [(f"Hi {i}", "fine", "ok")]) for i in range(6000)]
    rows[5000] = battle("q5000", [("q" * 64 + "c", "fine", "ok")])
    src = write_jsonl(tmp_path / "b.jsonl", rows)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "arenatok.cli", "build", "--source", str(src)),
            *("--limit", "all", "--tokenizer", str(tok), "--workers", "2"),
            *("--out", str(tmp_path / "o")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RUST_BACKTRACE": "0"},
    )
    assert proc.returncode == 1
    assert "Error: " + str(tok) + ": cannot encode a text (Onig: Regex search error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) < 20  # the panic's own lines, then ours
    assert not (tmp_path / "o" / "artifact_metadata.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "{out}", "--seed", "-1"], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--seed", "-3"], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--seed", str(2**70)], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--margin", "nan"], "--margin must be a number above 0 and at most"),
        (["bench", "{out}", "--margin", "inf"], "--margin must be a number above 0 and at most"),
        (["bench", "{out}", "--strategy", "full", "--strategy", "full"], "strategy full given"),
    ],
)
def test_options_out_of_range_are_one_line(built: Path, args: list[str], message: str) -> None:
    code, _, err = cli_run(*[a.format(out=built) for a in args])
    assert code == 2
    assert err.startswith(f"Error: {message}")
    assert not (built / "bench.json").exists()
    assert not (built / "report.json").exists()


def test_a_date_past_what_the_system_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "99999999999999999999")
    code, _, err = cli_run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith("Error: SOURCE_DATE_EPOCH must be whole seconds since 1970, got '9999")


def test_metadata_nested_too_deeply(built: Path) -> None:
    (built / "artifact_metadata.json").write_text("[" * 200_000 + "]" * 200_000)
    assert validate_dir(built)[0].startswith("artifact_metadata.json: unreadable")
    for command in (["report", "--rounds", "0"], ["bench", "--rounds", "1"], ["card"]):
        code, _, err = cli_run(command[0], str(built), *command[1:])
        assert code == 2
        assert err.startswith(
            f"Error: {built}: not a build arenatok can read: artifact_metadata.json: unreadable"
        )
        assert err.endswith(
            f"Hint: arenatok validate {built} lists every problem; build it again\n"
        )


PLUGINS = {
    "RaisesInInit": ("def __init__(self): raise ValueError('no config')", "making it without"),
    "RaisesInFit": ("def fit(self, sides): raise RuntimeError('fit broke')", "fit() raised"),
    "RaisesInSend": ("def send(self, side): raise KeyError('x')", "send() raised KeyError"),
    "ExitsInSend": ("def send(self, side): raise SystemExit(0)", "send() raised SystemExit"),
    "NanVector": (
        "def send(self, side): return Sent(vector=np.array([np.nan, 1.0]), bytes=4)",
        "Sent.vector holds NaN or infinity",
    ),
    "InfVector": (
        "def send(self, side): return Sent(vector=np.array([np.inf]), bytes=2)",
        "Sent.vector holds NaN or infinity",
    ),
    "TwoDVector": (
        "def send(self, side): return Sent(vector=np.ones((2, 2)), bytes=8)",
        "Sent.vector is of shape (2, 2), not one row of numbers",
    ),
    "NegativeTokens": (
        "def send(self, side): return Sent(text='x', tokens=-1, bytes=1)",
        "Sent.tokens is -1, not a whole number, 0 or more",
    ),
    "NanTokens": (
        "def send(self, side): return Sent(text='x', tokens=float('nan'), bytes=1)",
        "Sent.tokens is nan, not a whole number, 0 or more",
    ),
    "NumberName": ("name = 7", "its name is 7, not a text"),
}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_a_broken_plugin_is_one_line_naming_it(
    plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, message = PLUGINS[plugin]
    module = f"hostile_{plugin.lower()}"  # one module each: an imported module is kept
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\nfrom arenatok.bench.strategies import Sent\n"
        f"class {plugin}:\n"
        "    name = 'mine'\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side): return Sent(text='x', tokens=1, bytes=1)\n"
        f"    {body}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "o"
    rows = [
        battle(f"q{i}", [(f"p{i}", f"a{i}", "b")], winner=("model_a", "model_b")[i % 2])
        for i in range(200)
    ]
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    code, _, err = cli_run("bench", str(out), "--strategy", f"{module}:{plugin}")
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert "mine" in lines[0] or module in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith("Hint: ")
    assert not (out / "bench.json").exists()


def test_a_plugin_module_that_fails_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_import.py").write_text("import a_module_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli_run("bench", str(tmp_path), "--strategy", "broken_import:X")
    assert code == 2
    assert err.startswith(
        "Error: cannot load strategy broken_import:X (No module named 'a_module_that_is_not_"
    )


def test_a_json_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    src = tmp_path / "b.json"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps(TINY).encode())
    result = build(src, out=tmp_path / "o")
    assert (result.stats.read, result.stats.written) == (4, 4)


def test_utf16_text_is_refused_whole(tmp_path: Path) -> None:
    src = tmp_path / "b.jsonl"
    src.write_bytes("\n".join(json.dumps(r) for r in TINY).encode("utf-16"))
    with pytest.raises(SourceError, match="is UTF-16 or UTF-32 text; arenatok reads UTF-8"):
        build(src, out=tmp_path / "o", on_bad_row="reject")


def test_an_integral_float_turn_is_a_whole_number(tmp_path: Path) -> None:
    rows = [dict(TINY[0], turn=1.0)]
    result = build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o")
    assert result.stats.written == 1
    with pytest.raises(ArenatokError, match=r"turn must be a whole number, got float 1\.5"):
        build(write_jsonl(tmp_path / "c.jsonl", [dict(TINY[0], turn=1.5)]), out=tmp_path / "p")


# ---- one text policy for every reader: a lone surrogate is a bad row with its reason ---------

SURROGATE_REASON = (
    "an answer of model A (turn 1) holds a lone surrogate U+D800 at character 2: not Unicode "
    "text (it cannot be written as UTF-8)"
)


def _surrogate_source(tmp_path: Path, kind: str) -> str:
    """TINY with answer A of row 2 spelled "x \\ud800 y" (valid JSON), in each reader's file."""
    rows = json.loads(json.dumps(TINY))
    rows[1]["conversation_a"][1]["content"] = "x \ud800 y"
    if kind == "jsonl":
        path = tmp_path / "s.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")  # ensure_ascii: \ud800
        return str(path)
    if kind == "json":
        path = tmp_path / "s.json"
        path.write_text(json.dumps(rows))
        return str(path)
    # The kaggle-55k layout: JSON-encoded lists in CSV or Parquet columns.
    flat = [
        {
            "id": str(i),
            "model_a": r["model_a"],
            "model_b": r["model_b"],
            "prompt": json.dumps([m["content"] for m in r["conversation_a"][::2]]),
            "response_a": json.dumps([m["content"] for m in r["conversation_a"][1::2]]),
            "response_b": json.dumps([m["content"] for m in r["conversation_b"][1::2]]),
            "winner_model_a": int(r["winner"] == "model_a"),
            "winner_model_b": int(r["winner"] == "model_b"),
            "winner_tie": int(r["winner"].startswith("tie")),
        }
        for i, r in enumerate(rows)
    ]
    if kind == "csv":
        import csv

        path = tmp_path / "s.csv"
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(flat[0]))
            writer.writeheader()
            writer.writerows(flat)
    else:
        path = tmp_path / "s.parquet"
        pq.write_table(pa.Table.from_pylist(flat), path)
    return f"kaggle-55k:{path}"


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet"])
def test_a_lone_surrogate_is_a_bad_row_in_every_reader(tmp_path: Path, kind: str) -> None:
    src = _surrogate_source(tmp_path, kind)
    result = build(src, out=tmp_path / "o", on_bad_row="reject", limit=None)
    assert (result.stats.read, result.stats.written, result.stats.rejected) == (4, 3, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert (reject["row"], reject["reason"]) == (2, SURROGATE_REASON)
    assert "x ? y" not in (tmp_path / "o" / "data_out.jsonl").read_text()
    assert validate_dir(tmp_path / "o") == []
    code, _, err = cli_run("build", "--source", src, "--out", str(tmp_path / "p"))
    assert code == 2
    assert err.splitlines()[0].endswith(
        f"row 2 ({'question_id' if kind in ('jsonl', 'json') else 'id'} "
        f"{'q1' if kind in ('jsonl', 'json') else '1'!r}): {SURROGATE_REASON}"
    )


def test_a_surrogate_question_id_is_reported_escaped(tmp_path: Path) -> None:
    rows = json.loads(json.dumps(TINY))
    rows[0]["question_id"] = "q\udc80"
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = build(src, out=tmp_path / "o", on_bad_row="reject")
    assert result.stats.rejected == 1
    [reject] = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert reject["question_id"] == "str 'q\\udc80'"
    assert reject["reason"].startswith("question_id holds a lone surrogate U+DC80 at character 1")


def test_invalid_utf8_in_a_csv_value_is_a_bad_row(tmp_path: Path) -> None:
    src = tmp_path / "b.csv"
    head = b"id,model_a,model_b,prompt,response_a,response_b,"
    head += b"winner_model_a,winner_model_b,winner_tie\n"
    good = b'1,m1,m2,"[""hi""]","[""fine""]","[""ok""]",0,1,0\n'
    bad = b'2,m1,m2,"[""hi""]","[""x \xed\xa0\x80 y""]","[""ok""]",1,0,0\n'
    src.write_bytes(head + good + bad)
    result = build(f"kaggle-55k:{src}", out=tmp_path / "o", on_bad_row="reject")
    assert (result.stats.written, result.stats.rejected) == (1, 1)
    [reject] = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert (reject["row"], reject["reason"]) == (2, "column response_a is not valid UTF-8 (byte 4)")


# ---- full Unicode: every reader and the writer ------------------------------------------------

ODD = ["\x00", "\ufeff", "\r", "\u0301", "\ue000", "\U0010fffd", "\u2028", "\x85", "\ud800"]
full_unicode = st.text(
    alphabet=st.characters(blacklist_categories=()) | st.sampled_from(ODD), max_size=12
)
"""Any code point, surrogates included (JSON can spell them), with the odd ones often."""


def _texts_of(record: dict[str, Any]) -> list[str]:
    turns = record["context"]["conversation"]
    return [t[k] for t in turns for k in ("user", "response_a", "response_b")]


@FUZZ
@given(texts=st.lists(st.tuples(full_unicode, full_unicode, full_unicode), min_size=1, max_size=4))
@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet"])
def test_every_reader_keeps_any_text_or_rejects_it(
    kind: str, texts: list[tuple[str, str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp(kind)
    rows = [battle(f"q{i}", [t]) for i, t in enumerate(texts)]
    if kind == "parquet":  # Arrow holds UTF-8 only: no surrogates there
        rows = [r for r in rows if not any(_surrogates(x) for x in _row_texts(r))]
        if not rows:
            return
        pq.write_table(pa.Table.from_pylist(rows), tmp / "b.parquet")
        src = str(tmp / "b.parquet")
    elif kind == "csv":
        import csv

        with (tmp / "b.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                        "winner_model_a", "winner_model_b", "winner_tie"])  # fmt: skip
            for i, (u, a, b) in enumerate(texts):
                w.writerow([f"q{i}", "m1", "m2", *(json.dumps([x]) for x in (u, a, b)), 1, 0, 0])
        src = f"kaggle-55k:{tmp / 'b.csv'}"
    elif kind == "json":
        (tmp / "b.json").write_text(json.dumps(rows), encoding="ascii")
        src = str(tmp / "b.json")
    else:
        src = str(write_lines(tmp / "b.jsonl", [json.dumps(r) for r in rows]))
    result = build_rejecting(src, tmp / "o")
    assert not isinstance(result, ArenatokError), result
    s = result.stats
    assert s.read == s.written + s.rejected == len(rows)
    kept = [json.loads(x) for x in (tmp / "o" / "data_out.jsonl").read_text().splitlines()]
    wanted = [t for t in texts if not any(_surrogates(x) for x in t)]
    if kind == "parquet":
        wanted = [t for t in wanted if t in {tuple(_row_texts(r)) for r in rows}]
    assert [tuple(_texts_of(r)) for r in kept] == [tuple(t) for t in wanted]  # exactly as given
    rejects = (tmp / "o" / "rejects.jsonl").read_text().splitlines()
    assert all("lone surrogate" in json.loads(x)["reason"] for x in rejects)
    assert validate_dir(tmp / "o") == []


def _surrogates(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _row_texts(row: dict[str, Any]) -> list[str]:
    a, b = row["conversation_a"], row["conversation_b"]
    return [a[0]["content"], a[1]["content"], b[1]["content"]]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines), encoding="ascii")
    return path


@FUZZ
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(ODD[:-1])),
        max_size=5,
    )
)
def test_the_writer_keeps_any_unicode_text_on_one_line(texts: list[str]) -> None:
    from arenatok.pipeline.records import dumps_lines

    block = dumps_lines([{"t": t} for t in texts])
    lines = block.split(b"\n") if texts else []
    assert [json.loads(line)["t"] for line in lines] == texts
    assert all(line.decode("utf-8").splitlines() == [line.decode("utf-8")] for line in lines)
