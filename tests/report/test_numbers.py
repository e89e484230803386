"""`report.numbers` and the report's figures: against independent counts, by value at their
boundaries, deterministic and offline; the report on other layouts."""

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
from tests.helpers import battle, need_shared, write_jsonl


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]


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
        for r in (table["x"], table["y"])
    )
    # z's one battle is a tie with x, its equal: scored exactly as predicted, it gives the
    # sandwich nothing to estimate z's variance from.
    assert table["z"]["bradley_terry_ci95"] is None
    assert table["z"]["not_estimable"]["bradley_terry_ci95"].startswith("not estimable: ")
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
    assert (
        "The rating and pair plots are not drawn: 0 model(s) with a rating have 30 rated battles"
        in page
    )
    assert "Thin data: 6 rated battles (under 300)." in page


def test_spec_comparison_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    build(arena_parquet, out=tmp_path / "o", limit=None)
    report = as_json(write_report(tmp_path / "o", rounds=0))
    rows = {r["figure"]: r for r in report["specification_report"]}
    assert rows["winner shares, % (model_a / model_b / ties)"]["ours"] == "39.7 / 37.3 / 23.0"
    assert rows["mean tokens per battle"]["ours"] == "388.4"
    assert rows["unique model pairs"]["ours"] == "47 ordered, 26 unordered"


def test_report_on_a_55k_layout_build(tmp_path: Path) -> None:
    """The Kaggle 55k layout (999 real rows, 131 multi-turn, no timestamps, 64 models): every
    leaderboard has intervals, slices by turns are rated or marked, the page has every plot."""
    src = need_shared() / "data" / "khaaliswooden-max_llm-kaggle-comp" / "train_sample.csv"
    out = tmp_path / "o"
    build(src, out=out, limit=None, allow_null_turns=True, on_bad_row="reject")
    result = CliRunner().invoke(
        cli, ["report", str(out), "--rounds", "100", "--by", "turns", "--min-battles", "5"]
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
    for rounds in (-1, 1, 99):  # the command line's rule: 0 (no intervals), or 100 or more
        for intervals in ("sandwich", "bootstrap"):
            with pytest.raises(OptionError) as e:
                as_json(build_report(built, rounds=rounds, intervals=intervals))
            assert e.value.message == (
                f"--rounds must be 0 (no intervals) or a whole number, 100 or more, got {rounds}"
            )
        with pytest.raises(OptionError):
            write_report(small_build, rounds=rounds)
    assert not (small_build / "report.json").exists()
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
