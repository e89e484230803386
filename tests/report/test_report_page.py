"""`report.report_page` and the report command: report.json and report.html written together,
the page in a real browser (a name reversed by a bidirectional control shown as its escape), a
rebuild that removes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.pipeline.driver import build
from arenatok.report import write_report
from arenatok.runtime.derived import REPORT_HTML, REPORT_JSON
from arenatok.sections import as_json
from tests.helpers import ROOT, battle, write_jsonl

TEST_OUTPUT = ROOT / "test-output"


def test_cli_report(small_build: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(small_build), "--rounds", "100"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("6 battles, 3 models, 3 ordered / 2 unordered pairs\n")
    assert result.stdout.endswith(f"wrote {small_build}/report.json, {small_build}/report.html\n")


def test_cli_report_without_a_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path}: no artifact_metadata.json here (not a finished build)\n"
        "Hint: run arenatok build --out DIR first\n",
    )


@contextmanager
def browser_page(errors: list[str]) -> Iterator[Any]:
    """A page of Debian's chromium (driven by Playwright) that notes every error it logs."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extra is missing")
    from tests.helpers import need_chromium

    chromium = need_chromium()
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
            yield page
        finally:
            browser.close()


def test_report_html_renders_in_a_real_browser(arena_parquet: Path, tmp_path: Path) -> None:
    """Open report.html in Debian's chromium (driven by Playwright): every plot drawn, no error
    logged; a screenshot is kept in test-output/."""
    build(arena_parquet, out=tmp_path / "o", limit=None)
    as_json(write_report(tmp_path / "o", rounds=200))
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto((tmp_path / "o" / REPORT_HTML).as_uri())
        plots = page.locator("figure.plot svg")
        assert plots.count() == 7
        captions = page.locator("figure.plot figcaption").all_inner_texts()
        for new in (
            "Ratings with 95% intervals: plain and style-controlled",
            "Pairs: observed score minus",
            "Style control: each feature's coefficient",
            "Length bias",
        ):
            assert any(c.startswith(new) for c in captions), new
        # Single-turn battles: the history plot would be one dot; the page says why not.
        assert page.get_by_text("every battle here has one turn").count() == 1
        for k in range(plots.count()):
            box = plots.nth(k).bounding_box()
            assert box is not None
            assert box["width"] > 100
            assert box["height"] > 100
            assert plots.nth(k).locator("path").count() > 5  # something was drawn
        assert page.locator("h2").count() >= 7
        TEST_OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(TEST_OUTPUT / "report.png"), full_page=True)
    assert errors == []
    assert (TEST_OUTPUT / "report.png").stat().st_size > 10_000


def test_a_name_reversed_by_a_bidi_control_reads_as_its_escape_in_a_browser(
    tmp_path: Path,
) -> None:
    """A right-to-left override makes "\\u202eb31-anuciv" look like vicuna-13b: the browser
    shows its escape instead, in the leaderboard and in the caveat that names the pair."""
    names = ["\u202eb31-anuciv", "vicuna-13b"]
    rows = [battle(f"q{i}", model_a=names[i % 2], winner="model_a") for i in range(6)]
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o")
    write_report(tmp_path / "o", rounds=0)
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto((tmp_path / "o" / REPORT_HTML).as_uri())
        leaderboard = page.locator("table").first.locator("td.w").all_inner_texts()
        assert sorted(leaderboard) == ["\\u202eb31-anuciv", "koala-13b", "vicuna-13b"]
        [caveat] = page.locator("p.note").filter(has_text="text direction").all_inner_texts()
        assert caveat.endswith("distinct models: 'vicuna-13b' / '\\u202eb31-anuciv'.")
        assert "\u202e" not in page.locator("body").inner_text()
    assert errors == []


def test_a_rebuild_removes_the_report_and_validate_finds_a_stale_one(
    small_build: Path, tmp_path: Path
) -> None:
    as_json(write_report(small_build, rounds=0))
    stale = {n: (small_build / n).read_bytes() for n in (REPORT_JSON, REPORT_HTML)}
    build(write_jsonl(tmp_path / "other.jsonl", [battle("9")]), out=small_build)
    assert not (small_build / REPORT_JSON).exists()
    assert not (small_build / REPORT_HTML).exists()
    for name, data in stale.items():
        (small_build / name).write_bytes(data)
    from arenatok.dataset.validate import validate_dir

    assert validate_dir(small_build) == [
        f"{name}: was made from another build (or names none): run arenatok report "
        f"{small_build} again"
        for name in (REPORT_JSON, REPORT_HTML)
    ]
    as_json(write_report(small_build, rounds=0))
    assert validate_dir(small_build) == []


def test_the_page_opens_on_the_ratings_and_names_no_path_of_the_machine(
    small_build: Path,
) -> None:
    import re

    write_report(small_build, rounds=0)
    page = (small_build / "report.html").read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[0] == "Ratings"
    assert headings[-1] == "Against the specification report"
    assert page.index("Style control: each feature") < page.index("<h2>Votes</h2>")  # its plots
    # the leaderboard first, then its plot (here a note: too few battles to plot)
    after = page.split("<h2>Ratings</h2>\n", 1)[1]
    assert after.startswith('<div class="table"><table><thead><tr><th>model</th>')
    assert after.split("</table></div>\n", 1)[1].startswith(
        '<p class="note">The rating and pair plots are not drawn'
    )
    intro = page[page.index("<h2>Against the specification report</h2>") :]
    assert "the document that first defined this dataset" in intro
    root = str(small_build.parent)
    assert root.startswith("/")
    assert root not in page  # file names only
    assert "b.jsonl" in page  # the source, by its name
    # model names stay on one line in the ratings tables
    ratings = page[page.index("<h2>Ratings</h2>") : page.index("<h2>Pairs")]
    assert sorted(re.findall(r'<td class="w">([^<]*)</td>', ratings)[:3]) == ["x", "y", "z"]
    assert "td.w{white-space:nowrap}" in page
