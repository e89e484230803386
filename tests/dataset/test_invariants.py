"""`dataset.invariants`: what must hold between the fields of one record. A record the build
made holds every one; each kind of tampering is named, with the field and what it should be."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from arenatok.dataset.invariants import invariants
from arenatok.pipeline.driver import build
from arenatok.pipeline.records import Record, loads
from tests.helpers import TINY, write_jsonl


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> list[Record]:
    tmp = tmp_path_factory.mktemp("inv")
    build(write_jsonl(tmp / "b.jsonl", TINY), out=tmp / "out")
    return [loads(x) for x in (tmp / "out" / "data_out.jsonl").read_bytes().splitlines()]


def test_every_record_the_build_made_holds(made: list[Record]) -> None:
    assert len(made) == len(TINY)
    assert [invariants(r) for r in made] == [[]] * len(made)


def _usage(r: Any) -> Any:
    return r["context"]["token_usage"]


TAMPERED: list[tuple[Callable[[Any], None], str]] = [
    (
        lambda r: _usage(r).update(total_tokens=_usage(r)["total_tokens"] + 1),
        "token_usage.total_tokens is",
    ),
    (
        lambda r: _usage(r)["turns"][0].update(turn_number=2),
        "token_usage.turns[0].turn_number is 2, not 1",
    ),
    (
        lambda r: _usage(r)["communication_efficiency"].update(input_output_ratio=1.5),
        "input_output_ratio = 1.5 is outside [0, 1]",
    ),
    (
        lambda r: _usage(r)["turns"].append(_usage(r)["turns"][0]),
        "token_usage.turns and conversation differ in length",
    ),
    (
        lambda r: r["context"]["style"]["total_a"].update(header_count=99),
        "style.total_a is not the sum of its turns",
    ),
    (lambda r: r["context"].update(winner="nobody"), "winner 'nobody' is not a vote"),
    (lambda r: r.update(output="Winner: tie (bothbad)"), "does not name the winner"),
    (
        lambda r: r.update(input="something else"),
        "input / response_a / response_b are not the first turn",
    ),
]


@pytest.mark.parametrize(("tamper", "said"), TAMPERED)
def test_each_tampering_is_named(
    made: list[Record], tamper: Callable[[Any], None], said: str
) -> None:
    record = copy.deepcopy(made[0])
    tamper(record)
    wrong = invariants(record)
    assert wrong, said
    assert any(said in w for w in wrong), wrong
