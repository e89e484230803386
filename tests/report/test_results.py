"""`report.results`: the report's typed sections, whose fields are report.json's keys in order;
a leaderboard row's null ratings, intervals and ranks, kept as null where `not_estimable` says
why and left out where they were not made."""

from __future__ import annotations

import dataclasses
import json

from arenatok.dataset.built import Battles
from arenatok.report.results import FITS, ModelRow, Report
from arenatok.sections import as_json

WHY = "not estimable: every bootstrap round gave the same value (zero width)"


def row(**change: object) -> ModelRow:
    base = ModelRow(
        model="m",
        battles=40,
        online_elo=1001.5,
        bradley_terry=1010.0,
        length_controlled=1005.0,
        style_controlled=1002.0,
    )
    return dataclasses.replace(base, **change)


def test_a_rows_fields_follow_the_fits() -> None:
    names = [f.name for f in dataclasses.fields(ModelRow)]
    assert names[3:-1] == [f"{fit}{end}" for fit in FITS for end in ("", "_ci95", "_rank")]


def test_intervals_not_made_are_left_out_of_the_json() -> None:
    plain = row()
    assert list(plain.to_json()) == [
        "model",
        "battles",
        "online_elo",
        "bradley_terry",
        "length_controlled",
        "style_controlled",
    ]
    assert [plain.rating(f) for f in FITS] == [1010.0, 1005.0, 1002.0]
    assert [plain.interval(f) for f in FITS] == [None, None, None]
    assert not plain.not_rated()
    assert not plain.flat_intervals()
    assert plain.why_not("bradley_terry_ci95") is None


def test_an_interval_not_estimable_is_null_with_its_rank_and_says_why() -> None:
    flat = row(
        bradley_terry_ci95=[990.0, 1030.0],
        bradley_terry_rank=1,
        length_controlled_ci95=None,
        length_controlled_rank=None,
        style_controlled_ci95=[995.0, 1009.0],
        style_controlled_rank=2,
        not_estimable={"length_controlled_ci95": WHY},
    )
    data = flat.to_json()
    assert data["length_controlled_ci95"] is None
    assert data["length_controlled_rank"] is None
    assert data["not_estimable"] == {"length_controlled_ci95": WHY}
    assert (flat.interval("bradley_terry"), flat.rank("style_controlled")) == ([990.0, 1030.0], 2)
    assert flat.flat_intervals()
    assert flat.why_not("length_controlled_ci95") == "not estimable"


def test_a_model_without_a_rating_is_not_rated() -> None:
    unbounded = row(
        bradley_terry=None,
        not_estimable={"bradley_terry": "unbounded above: it never lost"},
    )
    assert unbounded.not_rated()
    assert unbounded.to_json()["bradley_terry"] is None
    assert unbounded.why_not("bradley_terry") == "unbounded above"
    assert not unbounded.flat_intervals()


def test_report_json_has_the_reports_fields_in_order(
    three_models: tuple[Report, Battles],
) -> None:
    report, _ = three_models
    data = as_json(report)
    fields = [f.name for f in dataclasses.fields(Report)]
    assert list(data) == [f for f in fields if f not in ("slices", "ratings_seconds")]
    assert list(data["ratings"]["models"][0])[:3] == ["model", "battles", "online_elo"]
    assert json.loads(json.dumps(data)) == data  # plain JSON all the way down
