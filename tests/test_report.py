from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.pipeline.driver import build
from arenatok.report import write_report
from arenatok.runtime.derived import REPORT_HTML, REPORT_JSON
from arenatok.sections import as_json
from tests.helpers import ROOT, battle, need_shared, write_jsonl

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
    report = as_json(write_report(small_build, rounds=200, seed=1))
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
    # The Bradley-Terry fit by hand: its score equations give x 70% against y and 50% against
    # z, so x - y = 400 log10(0.7 / 0.3) = 147.19 and x = z; the mean is 1000, hence x = z =
    # (3000 + 147.19) / 3 = 1049.06 and y = 901.87 (the fit's vanishing ridge moves them less
    # than 0.001).
    assert table["x"]["bradley_terry"] == pytest.approx(1049.0636, abs=1e-3)
    assert table["z"]["bradley_terry"] == pytest.approx(1049.0636, abs=1e-3)
    assert table["y"]["bradley_terry"] == pytest.approx(901.8729, abs=1e-3)
    assert all(
        r["bradley_terry_ci95"][0] <= r["bradley_terry"] <= r["bradley_terry_ci95"][1]
        for r in table.values()
    )
    assert saved == report  # the file is the report (its timing is for the terminal)
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
    report = as_json(write_report(small_build, rounds=0))
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
    as_json(write_report(small_build, rounds=100, seed=7))
    one = (small_build / REPORT_JSON).read_bytes(), (small_build / REPORT_HTML).read_bytes()
    as_json(write_report(small_build, rounds=100, seed=7))
    two = (small_build / REPORT_JSON).read_bytes(), (small_build / REPORT_HTML).read_bytes()
    assert one == two
    page = one[1].decode()
    assert "<script" not in page
    assert not re.search(r'(src|href)="https?:', page)
    # small_build has multi-turn battles: the history plot is drawn; its 3 models have 2 to 4
    # battles each, too few for the rating and pair plots (the page says so).
    assert page.count("<svg") == 5
    assert "The rating and pair plots are not drawn: 0 model(s) have 30 rated battles" in page
    assert "Thin data: 6 rated battles (under 300)." in page


def test_cli_report(small_build: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(small_build), "--rounds", "50"])
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


def test_spec_comparison_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    build(arena_parquet, out=tmp_path / "o", limit=None)
    report = as_json(write_report(tmp_path / "o", rounds=0))
    rows = {r["figure"]: r for r in report["specification_report"]}
    assert rows["winner shares, % (model_a / model_b / ties)"]["ours"] == "39.7 / 37.3 / 23.0"
    assert rows["mean tokens per battle"]["ours"] == "388.4"
    assert rows["unique model pairs"]["ours"] == "47 ordered, 26 unordered"


def test_report_html_renders_in_a_real_browser(arena_parquet: Path, tmp_path: Path) -> None:
    """Open report.html in Debian's chromium (driven by Playwright): every plot drawn, no error
    logged; a screenshot is kept in test-output/."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extra is missing")
    from tests.helpers import need_chromium

    chromium = need_chromium()
    build(arena_parquet, out=tmp_path / "o", limit=None)
    as_json(write_report(tmp_path / "o", rounds=200))
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
        finally:
            browser.close()
    assert errors == []
    assert (TEST_OUTPUT / "report.png").stat().st_size > 10_000


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


# ---- ratings: order, filters, slices, pairwise, style -----------------------------------------


def test_online_elo_follows_the_timestamps_not_the_source_order(
    arena_parquet: Path, tmp_path: Path
) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    table = pq.read_table(arena_parquet)
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(shuffled, tmp_path / "shuffled.parquet")
    build(arena_parquet, out=tmp_path / "sorted", limit=None)
    build(tmp_path / "shuffled.parquet", out=tmp_path / "shuffled", limit=None)
    elo = {}
    for name in ("sorted", "shuffled"):
        report = as_json(build_report(read_built(tmp_path / name), rounds=0))
        elo[name] = {r["model"]: r["online_elo"] for r in report["ratings"]["models"]}
    assert elo["sorted"] == elo["shuffled"]  # exactly: the same battles in the same order
    # Source order would differ: the online Elo depends on the order.
    from arenatok.report import ratings

    c = read_built(tmp_path / "shuffled").battles
    in_source_order = ratings.online_elo(c.model_a, c.model_b, [ratings.score(w) for w in c.winner])
    assert in_source_order != elo["shuffled"]


def test_pairwise_hand_checked(small_build: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    report = as_json(build_report(read_built(small_build), rounds=0))
    pairs = {(p["model"], p["opponent"]): p for p in report["ratings"]["pairwise"]}
    assert set(pairs) == {("x", "y"), ("x", "z")}
    # x against y: battles 1-5. x wins 1, 2, 3 (as model_b), loses 4, ties 5: 3.5 of 5.
    xy = pairs[("x", "y")]
    assert (xy["battles"], xy["observed_score"]) == (5, 0.7)
    # y meets only x, so the fit's score equation for y makes its predicted score the observed
    # one: 3.5 of 5 (an oracle of the maximum-likelihood fit, not of the report's formula).
    assert xy["predicted_score"] == pytest.approx(0.7, abs=1e-5)
    assert pairs[("x", "z")]["observed_score"] == 0.5  # one tie
    assert pairs[("x", "z")]["predicted_score"] == pytest.approx(0.5, abs=1e-5)


def test_filters_and_their_record(small_build: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.errors import OptionError
    from arenatok.report import build_report

    built = read_built(small_build)
    report = as_json(build_report(built, rounds=0, exclude=["z"]))
    assert {r["model"] for r in report["ratings"]["models"]} == {"x", "y"}
    assert report["ratings"]["filters"]["battles_after"] == 5
    assert report["counts"]["battles"] == 6  # the counts still describe every battle
    # z has one battle: --min-battles 2 drops it (and that battle).
    report = as_json(build_report(built, rounds=0, min_battles=2))
    assert report["ratings"]["filters"]["models_below_min_battles"] == ["z"]
    assert report["ratings"]["filters"]["battles_after"] == 5
    with pytest.raises(OptionError, match="no such model"):
        as_json(build_report(built, rounds=0, exclude=["nobody"]))
    with pytest.raises(OptionError, match="no battles are left"):
        as_json(build_report(built, rounds=0, min_battles=100))


def test_slices_by_language_turns_and_flag(arena_parquet: Path, tmp_path: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.errors import OptionError
    from arenatok.report import build_report
    from arenatok.report.slices import MIN_SLICE_BATTLES

    build(arena_parquet, out=tmp_path / "o", limit=None)
    built = read_built(tmp_path / "o")
    by_flag = as_json(build_report(built, rounds=20, by="flag:duplicate"))["slices"]
    sizes = {s["slice"]: s["battles"] for s in by_flag["slices"]}
    flagged = sum("duplicate" in f for f in built.battles.quality_flags)
    assert sizes == {"not duplicate": 2008 - flagged, "duplicate": flagged}
    assert 0 < flagged < MIN_SLICE_BATTLES
    small = next(s for s in by_flag["slices"] if s["slice"] == "duplicate")
    assert small["too_few_battles"] is True
    assert "models" not in small
    big = next(s for s in by_flag["slices"] if s["slice"] == "not duplicate")
    assert all("style_controlled_ci95" in r for r in big["models"])
    assert sum(r["battles"] for r in big["models"]) == 2 * big["battles"]
    by_language = as_json(build_report(built, rounds=0, by="language"))["slices"]["slices"]
    assert [(s["slice"], s["battles"]) for s in by_language] == [("English", 2008)]
    with pytest.raises(OptionError, match="no category labels"):
        as_json(build_report(built, rounds=0, by="category"))
    with pytest.raises(OptionError, match="unknown slice"):
        as_json(build_report(built, rounds=0, by="colour"))
    with pytest.raises(OptionError, match="no such flag"):
        as_json(build_report(built, rounds=0, by="flag:shiny"))


def test_slices_by_category_of_a_release(tmp_path: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    rows = []
    for k in range(120):
        row = battle(
            str(k),
            [("Write code", "```x```\n# Title\n- a\n- b" if k % 3 else "plain", "plain")],
            model_a=["p", "q", "r"][k % 3],
            model_b=["q", "r", "p"][k % 3],
            winner=["model_a", "model_b", "tie"][k % 4 % 3],
        )
        row |= {"judge_hash": "h", "is_code": k % 2 == 0, "dedup_tag": {"high_freq": k < 10}}
        rows.append(row)
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "r.jsonl", rows), out=out, limit=None)
    slices = as_json(build_report(read_built(out), rounds=10, by="category"))["slices"]["slices"]
    assert [(s["slice"], s["battles"], s.get("too_few_battles", False)) for s in slices] == [
        ("is_code", 60, False),
        ("dedup_tag.high_freq", 10, True),
    ]


def test_style_control_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    """The 2,008 real battles: every rating has an interval that holds it, ranks are 1-based,
    and the length effect the arena reports (longer answers win) is there."""
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    build(arena_parquet, out=tmp_path / "o", limit=None)
    rat = as_json(build_report(read_built(tmp_path / "o"), rounds=200))["ratings"]
    coef = rat["coefficients"]["style_controlled"]
    assert list(coef) == ["length", "header_count", "list_count", "bold_count"]
    assert coef["length"]["ci95"][0] > 0
    for r in rat["models"]:
        for name in ("bradley_terry", "length_controlled", "style_controlled"):
            lo, hi = r[f"{name}_ci95"]
            assert lo - 1 <= r[name] <= hi + 1
            assert 1 <= r[f"{name}_rank"] <= len(rat["models"])
    assert min(r["bradley_terry_rank"] for r in rat["models"]) == 1


def test_cli_report_with_slices_and_filters(small_build: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["report", str(small_build), "--rounds", "20", "--by", "turns", "--exclude-model", "z"],
    )
    assert result.exit_code == 0, result.output
    assert "rated 5 of 6 battles after the filters" in result.stdout
    assert "turns = 1 turn: 4 battles (too few to rate)" in result.stdout
    report = json.loads((small_build / REPORT_JSON).read_text())
    assert report["slices"]["by"] == "turns"
    assert report["ratings"]["filters"]["excluded_models"] == ["z"]
    bad = CliRunner().invoke(cli, ["report", str(small_build), "--by", "flag:shiny"])
    assert bad.exit_code == 2
    assert "no such flag" in bad.output


def test_report_on_a_55k_layout_build(tmp_path: Path) -> None:
    """The Kaggle 55k layout (999 real rows, 131 multi-turn, no timestamps, 64 models): every
    leaderboard has intervals, slices by turns are rated or marked, the page has every plot."""
    src = need_shared() / "data" / "khaaliswooden-max_llm-kaggle-comp" / "train_sample.csv"
    out = tmp_path / "o"
    build(src, out=out, limit=None, allow_null_turns=True, on_bad_row="reject")
    result = CliRunner().invoke(
        cli, ["report", str(out), "--rounds", "30", "--by", "turns", "--min-battles", "5"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / REPORT_JSON).read_text())
    rat = report["ratings"]
    assert rat["filters"]["models_below_min_battles"]
    assert all("style_controlled_ci95" in r for r in rat["models"])
    assert "by timestamp" in rat["method"]["online_elo"]
    slices = report["slices"]["slices"]
    assert [s["slice"] for s in slices][:2] == ["1 turn", "2 turns"]
    assert sum(s["battles"] for s in slices) == rat["filters"]["battles_after"]
    assert any(s.get("too_few_battles") for s in slices)
    page = (out / REPORT_HTML).read_text()
    assert page.count("<svg") == 8  # multi-turn: the history plot is drawn too


def test_report_on_a_build_without_style_says_build_again(small_build: Path) -> None:
    """A build made before context.style existed: a clear error, not a traceback."""
    path = small_build / "data_out.jsonl"
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        del record["context"]["style"]
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["report", str(small_build), "--rounds", "0"])
    assert result.exit_code == 2
    assert "build it again" in result.output


def test_the_reports_head_names_its_build_by_value(small_build: Path) -> None:
    """The fields that say what a report describes, each from the build's metadata."""
    import importlib.metadata

    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    built = read_built(small_build)
    meta = json.loads((small_build / "artifact_metadata.json").read_text())
    report = as_json(build_report(built, rounds=0))
    assert report["arenatok_version"] == importlib.metadata.version("arenatok")
    assert report["build"] == meta["files"]["data_out.jsonl"]["sha256"]
    assert report["dataset"] == meta["dataset"]
    assert report["source"] == meta["source"]
    assert report["source"]["file_type"] == "jsonl"
    assert report["tokenizer"] == "cl100k_base"
    assert "source_token_agreement" in report
    assert report["source_token_agreement"] == meta.get("source_token_agreement")
    assert "slices" not in report  # no --by: no slices key at all


def test_the_library_defaults_are_the_command_lines(small_build: Path) -> None:
    """build_report() without options is `arenatok report` without options (sandwich
    intervals, seed 0, every battle); jobs only changes speed."""
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    rows = [json.loads(x) for x in (small_build / "data_out.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    visible = battle("7", [("Q", "A", "B")], model_a="x", model_b="y", winner="model_a")
    visible["anony"] = False  # model names shown: only --anony-only leaves it out
    src = write_jsonl(small_build.parent / "with_visible.jsonl", [visible])
    out = small_build.parent / "visible"
    build([small_build.parent / "b.jsonl", src], out=out)
    built = read_built(out)
    ours = as_json(build_report(built))
    explicit = as_json(
        build_report(
            built, rounds=1000, seed=0, anony_only=False, min_battles=0, exclude=(), jobs=1
        )
    )
    assert ours == explicit  # the timings are not part of the report's numbers
    assert ours["ratings"]["filters"]["battles_after"] == 7  # anonymous or not, every battle
    anonymous = as_json(build_report(built, rounds=0, anony_only=True))
    assert anonymous["ratings"]["filters"]["battles_after"] == 6


def test_report_errors_by_value(small_build: Path, tmp_path: Path) -> None:
    from arenatok.dataset.built import read_built
    from arenatok.errors import OptionError, SourceError
    from arenatok.report import build_report

    built = read_built(small_build)
    with pytest.raises(OptionError) as e:
        as_json(build_report(built, rounds=-1))
    assert (e.value.message, e.value.hint) == (
        "--rounds must be a whole number, 0 or more, got -1",
        "for example --rounds 1000",
    )
    with pytest.raises(OptionError) as e:
        as_json(build_report(built, rounds=0, min_battles=100))
    assert (e.value.message, e.value.hint) == (
        "no battles are left to rate after the filters",
        "loosen --anony-only / --min-battles / --exclude-model",
    )
    out = tmp_path / "none"
    bad = [{"question_id": "q", "model_a": "x"}]
    build(write_jsonl(tmp_path / "bad.jsonl", bad), out=out, on_bad_row="reject", allow_empty=True)
    with pytest.raises(SourceError) as e:
        as_json(build_report(read_built(out), rounds=0))
    assert (e.value.message, e.value.hint) == (
        f"{out / 'data_out.jsonl'}: no battles to report on",
        "build from a source with usable rows (see rejects.jsonl)",
    )


def test_caveats_at_their_boundaries() -> None:
    from arenatok.report.numbers import PLOT_MIN_BATTLES, THIN_BATTLES, caveats
    from arenatok.report.results import ModelRow, Ratings

    def rating(per_model: list[int]) -> Ratings:
        models = [
            ModelRow(
                model=f"m{i}",
                battles=n,
                online_elo=1000.0,
                bradley_terry=1000.0,
                length_controlled=1000.0,
                style_controlled=1000.0,
            )
            for i, n in enumerate(per_model)
        ]
        return Ratings(
            method={},
            length_coefficient=0.0,
            length_coefficient_definition="",
            battles=0,
            coefficients={},
            models=models,
            pairwise=[],
        )

    assert caveats(rating([PLOT_MIN_BATTLES, PLOT_MIN_BATTLES]), THIN_BATTLES) == []
    thin, rough = caveats(rating([PLOT_MIN_BATTLES - 1, 400]), THIN_BATTLES - 1)
    assert thin.startswith("Thin data: 299 rated battles (under 300).")
    assert rough.startswith("1 of 2 models have fewer than 30 rated battles")


def test_slices_by_value(tmp_path: Path) -> None:
    """Every kind of slice on hand-made battles: names, members, order, and the messages."""
    from arenatok.dataset.built import read_built
    from arenatok.errors import OptionError
    from arenatok.report.leaderboards import leaderboard
    from arenatok.report.slices import MIN_SLICE_BATTLES, slice_members, slices_section

    rows = []
    for i in range(MIN_SLICE_BATTLES + 3):
        row = battle(str(i), model_a="x", model_b="y", winner=("model_a", "model_b")[i % 3 == 0])
        row["language"] = "English" if i < MIN_SLICE_BATTLES else None
        row["openai_moderation"] = {"flagged": i == 0}
        rows.append(row)
    rows.append(battle("two", [("Q", "A", "B"), ("Q2", "A2", "B2")], model_a="x", model_b="y"))
    rows[-1]["language"] = "German"
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    c = read_built(out).battles
    n = MIN_SLICE_BATTLES
    assert slice_members(c, "language") == {
        "English": list(range(n)),
        "(none)": [n, n + 1, n + 2],
        "German": [n + 3],
    }
    assert slice_members(c, "turns") == {"1 turn": list(range(n + 3)), "2 turns": [n + 3]}
    assert slice_members(c, "flag:openai_moderation") == {
        "not openai_moderation": list(range(1, n + 4)),
        "openai_moderation": [0],
    }
    assert list(slice_members(c, "flag:toxic_chat")) == ["toxic_chat"]  # t5-large flags all
    assert list(slice_members(c, "flag:multi_turn")) == ["not multi_turn", "multi_turn"]
    for by, message, hint in [
        (
            "category",
            "--by category: this dataset has no category labels",
            "only the 100k and 140k releases carry them (is_code, dedup_tag, category_tag); "
            "try --by language or --by turns",
        ),
        ("flag:nope", "--by flag:nope: no such flag", "flags: openai_moderation, toxic_chat, "),
        ("colour", "--by colour: unknown slice", "one of: language, turns, category, flag:NAME"),
    ]:
        with pytest.raises(OptionError) as e:
            slice_members(c, by)
        assert e.value.message == message
        assert e.value.hint is not None
        assert e.value.hint.startswith(hint)
    section = as_json(slices_section(c, "language", rounds=20, seed=3))
    assert section["by"] == "language"
    assert section["min_battles_per_slice"] == MIN_SLICE_BATTLES
    english, none, german = section["slices"]
    assert english["battles"] == MIN_SLICE_BATTLES  # exactly the minimum: rated
    assert "too_few_battles" not in english
    assert (
        english["models"]
        == as_json(leaderboard(c.take(list(range(n))), rounds=20, seed=3))["models"]
    )
    assert (none["too_few_battles"], german["too_few_battles"]) == (True, True)
    from arenatok.report import build_report

    report = as_json(build_report(read_built(out), rounds=20, seed=3, by="language"))
    assert report["slices"] == section  # the report's own seed and rounds reach its slices


def test_min_battles_counts_both_sides_and_keeps_the_minimum(small_build: Path) -> None:
    """x plays in all 6 battles (as A or B), y in 5, z in 1: --min-battles 5 leaves z out only."""
    from arenatok.dataset.built import read_built
    from arenatok.errors import OptionError
    from arenatok.report.slices import select

    c = read_built(small_build).battles
    rated, filters = select(c, anony_only=False, min_battles=5, exclude=())
    assert filters.models_below_min_battles == ["z"]
    assert len(rated) == 5
    with pytest.raises(OptionError) as e:
        select(c, anony_only=False, min_battles=0, exclude=["w"])
    assert (e.value.message, e.value.hint) == (
        "--exclude-model w: no such model in this dataset",
        "the models are listed in report.json (counts.per_model)",
    )


def test_interval95_by_value() -> None:
    import numpy as np

    from arenatok.report.leaderboards import interval95

    assert interval95(np.arange(101.0)) == [2.5, 97.5]
    assert interval95(np.array([np.nan, *np.arange(101.0)])) == [2.5, 97.5]  # NaN left out
