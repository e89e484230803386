"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from arenatok.pipeline.driver import build
from tests.helpers import battle, write_jsonl

if TYPE_CHECKING:
    from arenatok.dataset.built import Battles
    from arenatok.report.results import Report


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


@pytest.fixture(scope="module")
def three_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Battles]:
    """The report (no bootstrap) of 120 battles among three models, 80 each, and its battles."""
    from arenatok.dataset.built import read_built
    from arenatok.report import build_report

    tmp = tmp_path_factory.mktemp("three")
    winners = ["model_a", "model_b", "tie"]
    rows = [
        battle(
            f"q{i}",
            [(f"Hi {i}", "Hello " * (i % 7 + 1), "Hey")],
            model_a=f"m{i % 3}",
            model_b=f"m{(i + 1) % 3}",
            winner=winners[i * 7 % 3 if i % 5 else 1],
        )
        for i in range(120)
    ]
    build(write_jsonl(tmp / "b.jsonl", rows), out=tmp / "o", limit=None)
    built = read_built(tmp / "o")
    return build_report(built, rounds=0), built.battles
