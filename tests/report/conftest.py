"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.helpers import battle, write_jsonl


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
