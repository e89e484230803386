"""`cli.output`: what the commands print: the build's summary, line by line, on tiny and on
real battles; the report's tables of ratings, coefficients and pairs."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from arenatok.cli.output import build_summary, print_report, ratings_table
from arenatok.pipeline.driver import build
from arenatok.report.results import ModelRow
from tests.cli.commands import run
from tests.helpers import TINY, battle, write_jsonl


def test_build_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert out == (
        "rows read 4 = written 4 + rejected 0\n"
        # q0 2+2+7, q1 (7+6)+(1+1)+(2+5), q2 11+2+2, q3 4+6+0: 58 tokens, 5 turns, 4 battles
        "tokens (cl100k_base): 58 in all, 14.5 per battle, 1.25 turns per battle\n"
        "winners: model_a 25.0% · model_b 25.0% · tie 25.0% · tie (bothbad) 25.0%\n"
        "model pairs: 2 ordered, 2 unordered\n"
        "quality flags: empty_response_b 1, special_token_text 1, multi_turn 1\n"
        "duplicates: same_id 0, same_battle 0 (exact 0, normalized 0); votes differ 0\n"
        "token cache: 0.0% of texts were repeats, counted once\n"
        f"wrote {tmp_path}/out/: data_out.json, data_out.jsonl, full_data_out.json, "
        "mini_data_out.json, preview_data_out.json, record.schema.json, artifact_metadata.json\n"
    )


def test_cli_end_to_end_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "--source", str(arena_parquet), "--out", str(tmp_path / "o"))
    assert (code, err) == (0, "")
    assert out.splitlines()[:5] == [
        "rows read 300 = written 300 + rejected 0",
        "read 300 of 2,008 rows of elobench.parquet (--limit all for every row)",
        "tokens (cl100k_base): 116,516 in all, 388.4 per battle, 1.00 turns per battle",
        "winners: model_a 39.7% · model_b 37.3% · tie 23.0% · tie (bothbad) 0.0%",
        "model pairs: 47 ordered, 26 unordered",
    ]


def summary(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> list[str]:
    result = build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o", **options)
    return build_summary(result).splitlines()


def test_a_limited_build_says_how_much_it_read(tmp_path: Path) -> None:
    lines = summary(tmp_path, TINY * 2, limit=3)
    assert lines[:2] == [
        "rows read 3 = written 3 + rejected 0",
        "read the first 3 rows of b.jsonl; it has more (--limit all for every row)",
    ]


def test_dropped_copies_are_counted_in_the_first_line(tmp_path: Path) -> None:
    lines = summary(tmp_path, TINY * 2, limit=None, duplicates="drop")
    assert lines[0] == "rows read 8 = written 4 + rejected 0 + dropped 4"
    assert (
        lines[5] == "duplicates: same_id 4, same_battle 0 (exact 0, normalized 0); votes differ 0"
    )
    assert lines[6] == "token cache: 50.0% of texts were repeats, counted once"
    assert "duplicates.jsonl" in lines[7]


def test_look_alike_model_names_are_noted_and_escaped(tmp_path: Path) -> None:
    rows = [battle("a", model_a="gpt-4", model_b="gpt\u20104"), battle("b")]
    lines = summary(tmp_path, rows)
    assert lines[4] == "quality flags: none"
    assert lines[-1].startswith("note: 1 group of model names differ only by case")
    assert lines[-1].endswith("kept as distinct models: 'gpt-4' / 'gpt\\u20104'")


def rendered(table: Any) -> str:
    out = Console(width=150, record=True, file=io.StringIO())
    out.print(table)
    return out.export_text()


def test_the_ratings_table_says_why_a_rating_or_interval_is_missing() -> None:
    row = ModelRow(
        model="m",
        battles=4000,
        online_elo=1001.5,
        bradley_terry=1010.0,
        bradley_terry_ci95=[990.2, 1030.7],
        bradley_terry_rank=1,
        length_controlled=1005.4,
        style_controlled=None,
        not_estimable={"style_controlled": "unbounded above: it never lost"},
    )
    text = rendered(ratings_table([row], "a title"))
    assert "a title" in text
    line = next(x for x in text.splitlines() if "│ m " in x)
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells == ["m", "4,000", "1010", "990–1031", "1", "unbounded", "", "", "1005", "1002"]
    assert "above" in text.split(line)[1]  # the reason's second word on the next line


def test_the_report_starts_with_its_counts_and_timings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    build(write_jsonl(tmp_path / "b.jsonl", TINY * 3), out=tmp_path / "o", duplicates="flag")
    report = build_report(read_built(tmp_path / "o"), rounds=0)
    print_report(report, "bootstrap", 0, 1.5)
    lines = capsys.readouterr().out.splitlines()
    # TINY: vicuna-13b against koala-13b three times, alpaca-13b against dolly-v2-12b once.
    assert lines[0] == "12 battles, 4 models, 2 ordered / 2 unordered pairs"
    assert re.fullmatch(r"ratings with 0 bootstrap rounds in \d+\.\d s; report in 1\.5 s", lines[1])
    assert any("style control (log-odds per sd)" in x for x in lines)
    assert any("the specification report, first 300 battles" in x for x in lines)
