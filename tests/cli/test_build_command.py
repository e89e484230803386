"""`cli.build_command`: `arenatok build`'s options and what each failure a newcomer can cause
prints: one `Error:` line, one `Hint:` line, its exit code, the old output kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.cli.commands import run
from tests.helpers import TINY, battle, write_jsonl, write_parquet


def test_build_bad_row_exit_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", [TINY[0], battle("q9", turns=[("a", "b", None)])])
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {src}: row 2 (question_id 'q9'): conversation_b[1].content must be a string, "
        "got null (pass --allow-null-turns to count a null reply as empty)\n"
        "Hint: fix the row, or pass --on-bad-row reject to write it to rejects.jsonl\n"
    )
    assert not (tmp_path / "out" / "data_out.json").exists()


def test_build_reject_mode(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", [TINY[0], battle("q9", turns=[("a", "b", None)])])
    code, out, _ = run(
        "build", "--source", str(src), "--out", str(tmp_path / "out"), "--on-bad-row", "reject"
    )
    assert code == 0
    assert out.startswith("rows read 2 = written 1 + rejected 1\n")
    assert "rejects.jsonl" in out


def test_missing_source(tmp_path: Path) -> None:
    assert run("build", "--source", str(tmp_path / "x.parquet")) == (
        2,
        "",
        f"Error: {tmp_path}/x.parquet: no such file\nHint: check the path (--source FILE)\n",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 is not a positive number (--limit all: no limit)"),
        ("many", "'many' is not a whole number or 'all'"),
    ],
)
def test_bad_limit(value: str, message: str) -> None:
    code, _, err = run("build", "--limit", value)
    assert code == 2
    assert f"Invalid value for '--limit': {message}" in err


def test_build_help_names_every_file_it_writes_and_limit_each_source() -> None:
    from arenatok.pipeline.write import DATA, FULL, JSONL, METADATA, MINI, PREVIEW, SCHEMA

    _, out, _ = run("build", "--help")
    text = " ".join(out.split())
    for name in (DATA, JSONL, FULL, MINI, PREVIEW, SCHEMA, METADATA, "rejects.jsonl"):
        assert name in text, name
    assert "duplicates.jsonl" in text
    assert "first N rows of each source" in text


def test_unknown_encoding_is_an_option_error(src: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "o"),
                         "--encoding", "p50k")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "Error: unknown encoding: 'p50k'\nHint: known encodings: cl100k_base, o200k_base\n"
    )


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
