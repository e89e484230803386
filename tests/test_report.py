from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.pipeline import build
from arenatok.report_page import REPORT_HTML, REPORT_JSON, write_report
from tests.helpers import ROOT, battle, write_jsonl

TEST_OUTPUT = ROOT / "test-output"


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]


@pytest.fixture
def small_build(tmp_path: Path) -> Path:
    rows = [
        battle(
            "1", [("Hi", "Hello there, friend", "Hey")], model_a="x", model_b="y", winner="model_a"
        ),
        battle("2", [("Hi", "Hello", "Hey")], model_a="x", model_b="y", winner="model_a"),
        battle("3", [("Hi", "Hello", "Hey")], model_a="y", model_b="x", winner="model_b"),
        battle("4", [("Hi", "Hello", "Hey")], model_a="x", model_b="y", winner="model_b"),
        battle(
            "5",
            [("Q", "A one two", "B"), ("Q2", "A2", "B2")],
            model_a="y",
            model_b="x",
            winner="tie (bothbad)",
        ),
        battle("6", [("Q", "A", "B")], model_a="x", model_b="z", winner="tie"),
    ]
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    return out


def test_report_numbers_against_independent_counts(small_build: Path) -> None:
    report = write_report(small_build, rounds=200, seed=1)
    saved = json.loads((small_build / REPORT_JSON).read_text())
    recs = records(small_build)
    winners = Counter(r["context"]["winner"] for r in recs)
    assert {w: d["count"] for w, d in saved["counts"]["winner_distribution"].items()} == winners
    assert saved["counts"]["battles"] == 6
    assert saved["counts"]["model_pairs"] == {"ordered": 3, "unordered": 2}
    assert saved["counts"]["per_model"]["x"] == {
        "battles": 6,
        "wins": 3,
        "losses": 1,
        "tie": 1,
        "tie (bothbad)": 1,
    }
    assert saved["counts"]["turns_per_battle"] == {"1": 5, "2": 1}
    # x against y: x scores 3 (wins) + 0.5 (the both-bad tie) out of 5; x against z: 0.5 of 1.
    table = {r["model"]: r for r in saved["ratings"]["models"]}
    assert table["x"]["bradley_terry"] > table["y"]["bradley_terry"]
    assert all(r["bt_ci95"][0] <= r["bradley_terry"] <= r["bt_ci95"][1] for r in table.values())
    assert "_ratings_seconds" in report
    assert saved == {k: v for k, v in report.items() if not k.startswith("_")}
    meta = json.loads((small_build / "artifact_metadata.json").read_text())
    assert saved["build"] == meta["files"]["data_out.jsonl"]["sha256"]
    hist = saved["tokens"]["histograms"]["prompt_tokens_per_message"]
    assert sum(hist.values()) == 7  # 5 one-turn battles and one two-turn battle
    assert hist["[1, 2)"] == sum(
        1 for r in recs for t in r["context"]["token_usage"]["turns"] if t["input_tokens"] == 1
    )
    # Full state: the 2-turn battle resends turn 1.
    by_turns = saved["tokens"]["full_state_vs_plain_input_by_turns"]
    two = recs[4]["context"]["token_usage"]
    assert by_turns["2"]["mean_plain_input"] == two["total_input_tokens"]
    fs = two["full_state"]
    assert (
        by_turns["2"]["mean_full_state_input"]
        == (fs["full_state_input_tokens_a"] + fs["full_state_input_tokens_b"]) / 2
    )


def test_length_bias_against_a_loop(small_build: Path) -> None:
    report = write_report(small_build, rounds=0)
    decisive = longer = 0
    for r in records(small_build):
        u = r["context"]["token_usage"]
        a, b, w = u["total_output_tokens_a"], u["total_output_tokens_b"], r["context"]["winner"]
        if a != b and abs(a - b) < 10 and w in ("model_a", "model_b"):
            decisive += 1
            longer += (a > b) == (w == "model_a")
    first = report["length_bias"][0]
    assert first["token_difference"] == "[0, 10)"
    assert first["decisive"] == decisive
    assert first["longer_won_rate"] == longer / decisive


def test_report_is_deterministic_and_offline(small_build: Path) -> None:
    write_report(small_build, rounds=100, seed=7)
    one = (small_build / REPORT_JSON).read_bytes(), (small_build / REPORT_HTML).read_bytes()
    write_report(small_build, rounds=100, seed=7)
    two = (small_build / REPORT_JSON).read_bytes(), (small_build / REPORT_HTML).read_bytes()
    assert one == two
    page = one[1].decode()
    assert "<script" not in page
    assert not re.search(r'(src|href)="https?:', page)
    assert page.count("<svg") == 6


def test_cli_report(small_build: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(small_build), "--rounds", "50"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("6 battles, 3 models, 3 ordered / 2 unordered pairs;")
    assert result.stdout.endswith(f"wrote {small_build}/report.json, {small_build}/report.html\n")


def test_cli_report_without_a_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path}: no artifact_metadata.json here (not a finished build)\n"
        "Hint: run arenatok build --out DIR first\n",
    )


def test_spec_comparison_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    build(arena_parquet, out=tmp_path / "o", limit=None)
    report = write_report(tmp_path / "o", rounds=0)
    rows = {r["figure"]: r for r in report["specification_report"]}
    assert rows["winner shares, % (model_a / model_b / ties)"]["ours"] == "39.7 / 37.3 / 23.0"
    assert rows["mean tokens per battle"]["ours"] == "388.4"
    assert rows["unique model pairs"]["ours"] == "47 ordered, 26 unordered"


def test_report_html_renders_in_a_real_browser(arena_parquet: Path, tmp_path: Path) -> None:
    """Open report.html in Debian's chromium (driven by Playwright): every plot drawn, no error
    logged; a screenshot is kept in test-output/."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extra is missing")
    chromium = Path(os.environ.get("ARENATOK_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        reason = f"no browser at {chromium} (.ci/run installs Debian's chromium)"
        if os.environ.get("ARENATOK_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    build(arena_parquet, out=tmp_path / "o", limit=None)
    write_report(tmp_path / "o", rounds=200)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto((tmp_path / "o" / REPORT_HTML).as_uri())
            plots = page.locator("figure.plot svg")
            assert plots.count() == 6
            for k in range(plots.count()):
                box = plots.nth(k).bounding_box()
                assert box is not None
                assert box["width"] > 100
                assert box["height"] > 100
                assert plots.nth(k).locator("path").count() > 5  # something was drawn
            assert page.locator("h2").count() >= 7
            TEST_OUTPUT.mkdir(exist_ok=True)
            page.screenshot(path=str(TEST_OUTPUT / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (TEST_OUTPUT / "report.png").stat().st_size > 10_000


def test_a_rebuild_removes_the_report_and_validate_finds_a_stale_one(
    small_build: Path, tmp_path: Path
) -> None:
    write_report(small_build, rounds=0)
    stale = {n: (small_build / n).read_bytes() for n in (REPORT_JSON, REPORT_HTML)}
    build(write_jsonl(tmp_path / "other.jsonl", [battle("9")]), out=small_build)
    assert not (small_build / REPORT_JSON).exists()
    assert not (small_build / REPORT_HTML).exists()
    for name, data in stale.items():
        (small_build / name).write_bytes(data)
    from arenatok.validate import validate_dir

    assert validate_dir(small_build) == [
        f"{name}: was made from another build (or names none): run arenatok report "
        f"{small_build} again"
        for name in (REPORT_JSON, REPORT_HTML)
    ]
    write_report(small_build, rounds=0)
    assert validate_dir(small_build) == []
