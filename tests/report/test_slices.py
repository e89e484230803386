"""`report.slices`: the filters and their record, the slices (language, turns, flags,
categories), --min-battles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import REPORT_JSON
from arenatok.sections import as_json
from tests.helpers import battle, write_jsonl


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
    by_flag = as_json(build_report(built, rounds=100, by="flag:duplicate"))["slices"]
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
    slices = as_json(build_report(read_built(out), rounds=100, by="category"))["slices"]["slices"]
    assert [(s["slice"], s["battles"], s.get("too_few_battles", False)) for s in slices] == [
        ("is_code", 60, False),
        ("dedup_tag.high_freq", 10, True),
    ]


def test_cli_report_with_slices_and_filters(small_build: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["report", str(small_build), "--rounds", "100", "--by", "turns", "--exclude-model", "z"],
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
    section = as_json(slices_section(c, "language", rounds=100, seed=3))
    assert section["by"] == "language"
    assert section["min_battles_per_slice"] == MIN_SLICE_BATTLES
    english, none, german = section["slices"]
    assert english["battles"] == MIN_SLICE_BATTLES  # exactly the minimum: rated
    assert "too_few_battles" not in english
    assert (
        english["models"]
        == as_json(leaderboard(c.take(list(range(n))), rounds=100, seed=3))["models"]
    )
    assert (none["too_few_battles"], german["too_few_battles"]) == (True, True)
    from arenatok.report import build_report

    report = as_json(build_report(read_built(out), rounds=100, seed=3, by="language"))
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
