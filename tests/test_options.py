"""`arenatok.options`: each vocabulary once (click, mypy and the checks read the same words),
and the checks at their boundaries."""

from __future__ import annotations

import math

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arenatok.cli.params import choice
from arenatok.errors import OptionError
from arenatok.options import (
    MIN_ROUNDS,
    SEED_MAX,
    BadRowPolicy,
    Engine,
    Intervals,
    check_choice,
    check_count,
    check_margin,
    check_rounds,
    check_seed,
    choices,
    is_whole,
)


def test_a_vocabulary_is_its_words_in_order_for_click_too() -> None:
    assert choices(Engine) == ("local", "ray")
    assert choices(BadRowPolicy) == ("error", "reject")
    assert choices(Intervals) == ("sandwich", "bootstrap")
    assert tuple(choice(Engine).choices) == choices(Engine)
    with pytest.raises(click.BadParameter):
        choice(Engine).convert("dask", None, None)


def test_a_word_not_in_the_vocabulary_lists_the_known_ones() -> None:
    check_choice("ray", Engine, "engine")
    with pytest.raises(OptionError, match="unknown engine: 'dask'") as caught:
        check_choice("dask", Engine, "engine")
    assert caught.value.hint == "known: local, ray"


@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text(max_size=3), st.none()))
def test_whole_numbers_are_ints_not_bools(value: object) -> None:
    assert is_whole(value) == (type(value) is int)


@pytest.mark.parametrize("bad", [0, -3, True, 2.0, "4", None])
def test_a_count_is_a_positive_whole_number(bad: object) -> None:
    check_count(1, "--limit", example="--limit 10")
    with pytest.raises(OptionError, match=rf"--limit must be a positive whole number, got {bad!r}"):
        check_count(bad, "--limit", example="--limit 10")


@pytest.mark.parametrize("bad", [1, 2, 39, 99, -1, True, 100.0, "100", None])
def test_rounds_are_none_or_enough_for_a_95_percent_interval(bad: object) -> None:
    for good in (0, MIN_ROUNDS, 1000, 10**6):
        check_rounds(good)
    with pytest.raises(OptionError) as caught:
        check_rounds(bad)
    assert (caught.value.message, caught.value.hint) == (
        f"--rounds must be 0 (no intervals) or a whole number, 100 or more, got {bad!r}",
        "a 95% interval's ends are the 2.5th and 97.5th percentiles of the resamples, which "
        "fewer than 100 place too roughly; for example --rounds 1000",
    )


@pytest.mark.parametrize("bad", [-1, SEED_MAX + 1, True, 1.5])
def test_seeds_from_zero_to_the_largest_the_generators_take(bad: object) -> None:
    check_seed(0)
    check_seed(SEED_MAX)
    with pytest.raises(OptionError, match="--seed must be a whole number from 0 to"):
        check_seed(bad)


@pytest.mark.parametrize("bad", [0, -0.1, 1.01, math.nan, math.inf, True, "0.1"])
def test_a_margin_is_above_zero_and_at_most_one(bad: object) -> None:
    check_margin(1)
    check_margin(0.02)
    with pytest.raises(OptionError, match="--margin must be a number above 0 and at most 1"):
        check_margin(bad)
