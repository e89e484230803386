"""Fixtures of the configs' tests: tiny battles built once, a config's rows of them, and a
config of the real battles' card as `datasets` loads it offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, write_jsonl

MULTI = battle(
    "q4",
    [("Name a color", "Red", "Blue"), ("Another?", "Green", "Teal"), ("Last one", "Pink", "")],
    winner="model_b",
)
"""A decisive battle of three turns (B wins), after the four tiny ones."""


def records(out: Path) -> list[Any]:
    """The records of a build, as data_out.jsonl holds them."""
    return [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def tiny_records(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    d = tmp_path_factory.mktemp("tiny")
    build(write_jsonl(d / "b.jsonl", [*TINY, MULTI]), out=d / "out")
    return records(d / "out")


@pytest.fixture
def rows_of(tiny_records: list[Any]) -> Callable[[Any], list[Any]]:
    """A config's rows of the tiny battles, battle after battle."""
    return lambda config: [row for i, r in enumerate(tiny_records) for row in config.rows(i, r)]


@pytest.fixture
def real_records(real_card: Path) -> list[Any]:
    return records(real_card)


@pytest.fixture
def load(real_card: Path, offline: Path) -> Callable[[str], Any]:
    """A config of the real battles' card, loaded by `datasets` offline."""
    import datasets

    return lambda name: datasets.load_dataset(
        str(real_card), name, split="train", cache_dir=str(offline)
    )
