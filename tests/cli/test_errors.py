"""One exit code per failure class, the same in the code, the CLI and the README's table; and
one line plus a hint for every failure a newcomer can cause."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok import errors
from arenatok.cli import cli
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, doc_text, write_jsonl, write_parquet

README = doc_text("commands/index.md")  # the exit codes' table


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_the_exit_code_table_is_the_code() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|(.*?)\|$", README, flags=re.M)
    assert {int(code) for code, _, _ in rows} == set(errors.EXIT_CODES)
    for code, _meaning, classes in rows:
        for name in re.findall(r"`(\w+)`", classes):
            cls = getattr(errors, name, None)
            if isinstance(cls, type) and issubclass(cls, errors.ArenatokError):
                assert cls.exit_code == int(code), name


def test_every_error_class_has_a_documented_code() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.ArenatokError)
    ]
    assert {c.exit_code for c in classes} <= set(errors.EXIT_CODES)
    for c in classes:
        if c is not errors.ArenatokError:
            assert f"`{c.__name__}`" in README, f"the exit-code table lacks {c.__name__}"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "b.jsonl", TINY)


def test_unknown_encoding_is_an_option_error(src: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "o"),
                         "--encoding", "p50k")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "Error: unknown encoding: 'p50k'\nHint: known encodings: cl100k_base, o200k_base\n"
    )


def test_unknown_strategy_is_an_option_error(src: Path, tmp_path: Path) -> None:
    build(src, out=tmp_path / "o")
    code, _, err = run("bench", str(tmp_path / "o"), "--strategy", "gzip")
    assert code == 2
    assert err.startswith("Error: unknown strategy: 'gzip'\nHint: built in: ")


def test_a_held_lock_is_an_output_error(src: Path, tmp_path: Path) -> None:
    import fcntl
    import os

    out = tmp_path / "o"
    out.mkdir()
    fd = os.open(out / ".arenatok.lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        code, _, err = run("build", "--source", str(src), "--out", str(out))
    finally:
        os.close(fd)
    assert (code, err) == (
        3,
        f"Error: {out}: another arenatok run (pid 4242) is writing here\n"
        "Hint: wait for it to finish, or choose another --out directory\n",
    )


def test_a_missing_extra_names_it(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(src, out=tmp_path / "o")
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    code, _, err = run("bench", str(tmp_path / "o"))
    assert (code, err) == (
        4,
        "Error: arenatok bench needs scikit-learn, which is not installed\n"
        "Hint: pip install 'arenatok[bench]'\n",
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, _, err = run("report", str(tmp_path / "o"), "--rounds", "0")
    assert (code, err) == (
        4,
        "Error: arenatok report needs matplotlib, which is not installed\n"
        "Hint: pip install 'arenatok[report]'\n",
    )


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parquet = write_parquet(tmp_path / "b.parquet", TINY)
    monkeypatch.setitem(sys.modules, "ray", None)
    code, _, err = run("build", "--source", str(parquet), "--out", str(tmp_path / "o"),
                       "--engine", "ray")  # fmt: skip
    assert (code, err) == (
        4,
        "Error: --engine ray needs Ray Data, which is not installed\n"
        "Hint: pip install 'arenatok[ray]'\n",
    )


def test_hub_offline_is_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    code, _, err = run("build", "--out", str(tmp_path / "o"))
    assert code == 1
    # huggingface_hub reads HF_HUB_OFFLINE when first imported: either way, one line, exit 1
    assert err.startswith("Error: ")
    assert "lmsys/chatbot_arena_conversations is not in the local cache\nHint: " in err


def test_report_in_an_unwritable_directory_gives_no_out_hint(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import deny

    out = tmp_path / "o"
    build(src, out=out)
    deny(monkeypatch, out)
    code, _, err = run("report", str(out), "--rounds", "0")
    out.chmod(0o755)
    assert code == 3
    assert "--out" not in err
    assert err.endswith("Hint: make the directory writable, or copy the build elsewhere\n")


def test_a_build_that_rejects_every_row_fails_and_keeps_the_old_output(
    src: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    build(src, out=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rows = [dict(battle(f"q{i}"), turn="1") for i in range(3)]  # turn stored as text
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    code, out_text, err = run("build", "--source", str(bad), "--out", str(out),
                              "--on-bad-row", "reject")  # fmt: skip
    assert (code, out_text) == (2, "")
    assert err == (
        f"Error: {bad}: all 3 rows were rejected or dropped, none written; the first: turn "
        "must be a whole number, got str '1' (row 1)\n"
        "Hint: fix the source (or choose its layout with --layout); --allow-empty writes an "
        "empty dataset anyway\n"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    code, _, _ = run("build", "--source", str(bad), "--out", str(out), "--on-bad-row", "reject",
                     "--allow-empty")  # fmt: skip
    assert code == 0
    assert json.loads((out / "artifact_metadata.json").read_text())["counts"] == {
        "rows_read": 3,
        "rows_written": 0,
        "rows_rejected": 3,
        "rows_dropped": 0,
    }


def test_the_layouts_id_column_is_named(tmp_path: Path) -> None:
    import csv

    rows = [
        {
            "id": "30192",
            "model_a": "a",
            "model_b": "b",
            "prompt": '["Hi"]',
            "response_a": '["x"]',
            "response_b": '["y"]',
            "winner_model_a": "1",
            "winner_model_b": "1",
            "winner_tie": "0",
        }
    ]
    path = tmp_path / "train.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, _, err = run("build", "--source", str(path), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith(f"Error: {path}: row 1 (id '30192'): winner_model_a / winner_model_b")


def test_a_cut_json_lines_line_names_the_real_column(tmp_path: Path) -> None:
    line = json.dumps(battle("q1", [("Hi", "word " * 1000, "Hey")]))
    cut = line[: line.index('"turn": ') + len('"turn": ')]  # cut where a value should start
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(TINY[0]) + "\n" + cut + "\n")
    code, _, err = run("build", "--source", str(path), "--out", str(tmp_path / "o"))
    assert (code, err.splitlines()[0]) == (
        2,
        f"Error: {path}: row 2: line 2 is not valid JSON: Expecting value (column {len(cut) + 1})",
    )
    assert len(cut) > 5000


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


def test_an_arena_csv_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "arena.csv"
    path.write_text(
        "question_id,model_a,model_b,winner,conversation_a,conversation_b,turn\n"
        'q,a,b,model_a,"[]","[]",1\n'
    )
    code, _, err = run("build", "--source", str(path), "--out", str(tmp_path / "o"))
    assert (code, err) == (
        2,
        f"Error: {path}: a CSV file cannot hold the conversation lists of the arena layout\n"
        "Hint: write it as Parquet or JSON Lines (CSV serves the flat kaggle-55k layout)\n",
    )


def test_the_source_path_is_recorded_resolved(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(src.parent)
    build("b.jsonl", out=tmp_path / "one")
    build("./b.jsonl", out=tmp_path / "two")
    one, two = ((tmp_path / d / "artifact_metadata.json").read_bytes() for d in ("one", "two"))
    assert one == two
    assert json.loads(one)["source"]["path"] == str(src.resolve())
