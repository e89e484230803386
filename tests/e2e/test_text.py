"""End to end, text from the data at every boundary: each reader's one policy for text that
is not Unicode (a bad row with its reason), any Unicode kept through the writer, and what reaches
the terminal, the pages, the plots and the card shown as text."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.errors import ArenatokError, SourceError
from arenatok.pipeline.driver import build
from arenatok.text import html, terminal, visible
from tests.e2e.commands import FUZZ, build_rejecting, cli_run, run
from tests.helpers import TINY, battle, write_jsonl
from tests.payloads import MD, PAYLOADS, inline_tokens

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


ODD = ["\x00", "\ufeff", "\r", "\u0301", "\ue000", "\U0010fffd", "\u2028", "\x85", "\ud800"]


full_unicode = st.text(
    alphabet=st.characters(blacklist_categories=()) | st.sampled_from(ODD), max_size=12
)
"""Any code point, surrogates included (JSON can spell them), with the odd ones often."""


def _texts_of(record: dict[str, Any]) -> list[str]:
    turns = record["context"]["conversation"]
    return [t[k] for t in turns for k in ("user", "response_a", "response_b")]


def _surrogates(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _row_texts(row: dict[str, Any]) -> list[str]:
    a, b = row["conversation_a"], row["conversation_b"]
    return [a[0]["content"], a[1]["content"], b[1]["content"]]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(x + "\n" for x in lines), encoding="ascii")
    return path


def _file_name(payload: str, k: int) -> str:
    """A payload as a file name (no / or NUL; at most 200 bytes)."""
    name = payload.replace("/", "∕").replace("\x00", "")
    while len(name.encode()) > 200:
        name = name[:-1]
    return f"{name}{k}.jsonl"


def _rows(names: list[str], n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        a, b = names[i % len(names)], names[(i + 1 + i // len(names)) % len(names)]
        if a == b:
            b = names[(i + 2) % len(names)]
        row = battle(
            f"q{i}",
            [(f"prompt {i} " + "word " * (i % 7), "answer " * (1 + i % 5), "reply " * (i % 3 + 1))],
            model_a=a,
            model_b=b,
            winner=["model_a", "model_b", "tie"][i % 3],
        )
        row["language"] = names[i % 2]
        row["judge"] = names[-1]
        rows.append(row)
    return rows


def _hidden(page: str) -> set[str]:
    """The characters of a page that a reader would not see as themselves (line breaks apart):
    bidirectional controls, zero-width and other format characters, control characters."""
    return {c for c in page if not c.isprintable() and c != "\n"}


def _assert_terminal_safe(output: str) -> None:
    for line in output.splitlines():
        assert line.isprintable(), repr(line)


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", "from arenatok.cli import main; main()", *args], **kwargs
    )


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


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(PAYLOADS), min_size=3, max_size=3, unique=True))
def test_every_payload_is_text_at_every_sink(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    from huggingface_hub import DatasetCard

    tmp = tmp_path_factory.mktemp("sinks")
    sources = []
    for k, name in enumerate(names[:2]):
        path = tmp / _file_name(name, k)
        rows = _rows(names, 100)[k * 50 : (k + 1) * 50]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        sources += ["--source", str(path)]
    out = tmp / "out"
    runner = CliRunner()
    run = runner.invoke(
        cli, ["build", *sources, "--limit", "all", "--out", str(out), "--dataset-name", names[2]]
    )
    assert run.exit_code == 0, run.output
    _assert_terminal_safe(run.output)

    run = runner.invoke(cli, ["report", str(out), "--rounds", "100", "--by", "language"])
    assert run.exit_code == 0, run.output
    _assert_terminal_safe(run.output)
    for name in names:
        if len(terminal(name)) <= 30:
            assert terminal(name) in run.output
    page = (out / "report.html").read_text("utf-8")
    assert not re.search(r"<(img|script|a)\b", page)
    assert _hidden(page) == set()
    for name in names:  # a model, a language, the judge and the dataset: each whole, escaped
        assert html(name) in page

    run = runner.invoke(cli, ["card", str(out)])
    assert run.exit_code == 0, run.output
    text = (out / "README.md").read_text("utf-8")
    card = DatasetCard(text)
    # The YAML's name is shown on the Hub's pages too: controls as escapes there as well.
    assert card.data.pretty_name == f"Token usage of {visible(names[2])}"
    assert _hidden(text) == set()
    tokens = inline_tokens(card.text)
    assert not {"html_inline", "html_block", "image"} & {t.type for t in tokens}
    assert [t.attrs["href"] for t in tokens if t.type == "link_open"] == [
        "https://pypi.org/project/arenatok/"
    ]
    heading = next(t for t in MD.parse(card.text) if t.type == "inline")
    assert heading.content
    assert "".join(c.content for c in heading.children or []) == (
        f"Token usage of {visible(names[2])}".strip()
    )
    codes = {t.content for t in tokens if t.type == "code_inline"}
    for k, name in enumerate(names[:2]):
        assert visible(_file_name(name, k)) in codes
    assert _hidden(card.text) == set()


def test_look_alike_model_names_stay_apart_and_are_named(tmp_path: Path) -> None:
    names = ["gpt-4", "GPT-4", "gpt\u20114", "gpt-4\u00a0", "vicuna", "vi\u0441una", "claude"]
    rows = [
        battle(f"q{i}", [(f"prompt {i}", "a", "b")], model_a=names[i % 7], model_b="claude")
        for i in range(6)
    ]
    out = tmp_path / "o"
    result = run("build", "--source", write_jsonl(tmp_path / "b.jsonl", rows), "--out", out)
    assert result.exit_code == 0
    note = (
        "note: 2 groups of model names differ only by case, Unicode form, whitespace, invisible "
        "characters, text direction or look-alike characters, and are kept as distinct models: "
        "'GPT-4' / 'gpt-4' / "
        "'gpt-4\\xa0' / 'gpt\\u20114'; 'vicuna' / 'vi\\u0441una'"
    )
    assert note in result.output.splitlines()
    result = run("report", out, "--rounds", "0")
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["models"] == 7
    assert note.removeprefix("note: 2") in report["caveats"][0]


REVERSED = "\u202eb31-anuciv"
"""A right-to-left override before "vicuna-13b" backwards: a browser shows vicuna-13b."""


def test_a_name_that_only_shows_as_another_is_named_and_shown_with_its_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [REVERSED, "vicuna-13b", "vi\u200bcuna-13b"]
    rows = [
        battle(
            f"q{i}",
            [(f"prompt {i}", "a " * (1 + i % 5), "b")],
            model_a=names[i % 3],
            winner=["model_a", "model_b"][i % 2],
        )
        for i in range(90)
    ]
    out = tmp_path / "o"
    src = write_jsonl(tmp_path / "b.jsonl", rows)
    result = run("build", "--source", src, "--out", out, "--dataset-name", REVERSED)
    assert result.exit_code == 0, result.output
    note = (
        "1 group of model names differ only by case, Unicode form, whitespace, invisible "
        "characters, text direction or look-alike characters, and are kept as distinct models: "
        "'vicuna-13b' / 'vi\\u200bcuna-13b' / '\\u202eb31-anuciv'"
    )
    assert f"note: {note}" in result.output.splitlines()

    assert run("report", out, "--rounds", "0").exit_code == 0
    assert json.loads((out / "report.json").read_text())["caveats"][0] == f"{note}."
    page = (out / "report.html").read_text("utf-8")
    assert f'<p class="note">{html(note)}.</p>' in page
    ratings = page[page.index("<h2>Ratings</h2>") : page.index("<h2>Pairs")]
    assert sorted(re.findall(r'<td class="w">([^<]*)</td>', ratings)) == [
        "\\u202eb31-anuciv",
        "koala-13b",
        "vi\\u200bcuna-13b",
        "vicuna-13b",
    ]
    assert "<title>arenatok report: \\u202eb31-anuciv</title>" in page
    assert "<figcaption>Ratings with 95% intervals" in page  # the plots name the models too
    assert _hidden(page) == set()

    (tmp_path / "hidden_strategies.py").write_text(
        "from arenatok.bench.strategies import Sent\n"
        "class Hidden:\n"
        f"    name = {REVERSED + chr(0x200B)!r}\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side): return Sent(text='x', tokens=1, bytes=1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run("bench", out, "--strategy", "full", "--strategy", "hidden_strategies:Hidden")
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.output)
    page = (out / "bench.html").read_text("utf-8")
    assert "<td>\\u202eb31-anuciv\\u200b</td>" in page
    assert _hidden(page) == set()

    from huggingface_hub import DatasetCard

    assert run("card", str(out)).exit_code == 0
    body = DatasetCard((out / "README.md").read_text("utf-8")).text
    assert "# Token usage of \\\\u202eb31-anuciv\n" in body
    assert _hidden(body) == set()


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    for args in (["validate", str(out)], ["report", str(out), "--rounds", "0"]):
        with subprocess.Popen(
            [sys.executable, "-c", "from arenatok.cli import main; main()", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.close()
            err = proc.stderr.read()
            assert proc.wait() in (0, 141)
        assert err == b""


def test_a_stdout_that_cannot_encode_unicode_gets_escapes(tmp_path: Path) -> None:
    rows = [battle(f"q{i}", model_a="模型-α", winner="model_a") for i in range(3)]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = _cli("report", str(out), "--rounds", "0", capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert b"\\u6a21\\u578b-\\u03b1" in done.stdout
    assert b"UnicodeEncodeError" not in done.stderr


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
