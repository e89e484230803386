"""`bench.verdicts` where the numbers cannot tell: too few rounds refused, no rounds (numbers
without intervals, verdicts or power), paired differences without variance (`last_turn` on
single-turn battles), constant predictions, one outcome, tiny test splits. Each says what it
cannot tell: never a verdict without an interval, a detectable difference of 0 or 0 votes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.bench import run_bench, write_bench
from arenatok.bench.corpus import in_test_split
from arenatok.bench.predict import REFERENCES
from arenatok.bench.strategies import parse_strategies
from arenatok.bench.verdicts import MIN_VOTES, answer, bootstrap, point, power, verdict_rows
from arenatok.cli import cli
from arenatok.errors import OptionError, SourceError
from arenatok.options import MIN_ROUNDS
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.bench.planted import planted
from tests.helpers import battle, write_jsonl

VERDICTS = ("non_inferior_to_full", "uses_content", "detectable_difference_vs_full")


def test_too_few_rounds_are_refused_by_the_python_api_as_on_the_command_line(
    tmp_path: Path,
) -> None:
    out = planted(tmp_path, signal=True, n=200)
    for rounds in (1, 99):
        with pytest.raises(OptionError) as caught:
            run_bench(out, parse_strategies(["full"]), rounds=rounds)
        assert caught.value.message == (
            f"--rounds must be 0 (no intervals) or a whole number, 100 or more, got {rounds}"
        )
        with pytest.raises(OptionError):
            write_bench(out, parse_strategies(["full"]), rounds=rounds)
    assert not (out / "bench.json").exists()
    bench = run_bench(out, parse_strategies(["full"]), rounds=MIN_ROUNDS)
    assert bench.results[3].strategy == "full"
    assert bench.results[3].auc_ci95 == [1.0, 1.0]


def test_no_rounds_gives_the_numbers_without_intervals_verdicts_or_power(tmp_path: Path) -> None:
    out = planted(tmp_path, signal=True, n=200)
    args = ["bench", str(out), "--strategy", "truncate_tail:2", "--rounds", "0", "--jobs", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    bench = json.loads((out / "bench.json").read_text())
    rows = {r["strategy"]: r for r in bench["results"]}
    assert (rows["full"]["auc"], rows["truncate_tail:2"]["auc"]) == (1.0, 0.5)
    assert rows["truncate_tail:2"]["auc_minus_full"] == -0.5  # the point difference stays
    for row in rows.values():
        assert [k for k in row if k.endswith("_ci95") or k in VERDICTS] == []
    why = "no bootstrap rounds were run (--rounds 0)"
    assert bench["power"] == {
        "test_votes": 37,
        "cannot_tell": f"{why}, so there is no standard error to measure a difference by",
    }
    assert bench["answer"]["cheapest_non_inferior_to_full"] is None
    assert bench["answer"]["cheapest_using_content"] is None
    assert bench["answer"]["cannot_tell"] == f"{why}, so no strategy has an interval to judge it by"
    said = [
        f"No verdicts: {why}, so no strategy has an interval to judge it by.",
        f"With 37 test votes the test cannot tell a difference from full: {why}, so there is no "
        "standard error to measure a difference by.",
    ]
    printed = " ".join(result.output.split())
    page = " ".join((out / "bench.html").read_text().split())
    for sentence in said:
        assert sentence in printed
        assert sentence in page
    assert "Cost-quality frontier (bytes a side, auc): truncate_tail:2 (13 B, 0.500)" in printed


def _single_turn_says_it_cannot_tell(out: Path, where: Path, votes: int) -> dict[str, object]:
    """bench with last_turn alone on single-turn battles (it sends what full sends): the
    terminal, bench.json and bench.html say the test cannot tell a difference."""
    args = ["bench", str(out), "--strategy", "last_turn", "--rounds", "100", "--out", str(where)]
    result = CliRunner().invoke(cli, [*args, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    bench = json.loads((where / "bench.json").read_text())
    why = (
        "last_turn has the same auc difference from full in every bootstrap resample (no "
        "variance), so there is no standard error to measure a difference by"
    )
    assert bench["power"] == {"test_votes": votes, "cannot_tell": why}
    rows = {r["strategy"]: r for r in bench["results"]}
    assert rows["last_turn"]["auc_minus_full_ci95"] == [0.0, 0.0]
    assert "detectable_difference_vs_full" not in rows["last_turn"]
    said = f"With {votes:,} test votes the test cannot tell a difference from full: {why}."
    assert said in " ".join(result.output.split())
    assert said in " ".join((where / "bench.html").read_text().split())
    assert "0 test votes" not in result.output
    return bench


def test_last_turn_on_single_turn_battles_cannot_tell_a_difference(tmp_path: Path) -> None:
    _single_turn_says_it_cannot_tell(planted(tmp_path, signal=True, n=200), tmp_path / "b", 37)


def test_last_turn_on_the_real_single_turn_battles(arena_parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(arena_parquet, out=out, limit=None)
    _single_turn_says_it_cannot_tell(out, tmp_path / "b", 271)


def test_a_binary_test_split_of_one_outcome_is_refused(tmp_path: Path) -> None:
    """AUC needs both outcomes among the test votes: without them nothing can be told."""
    rows = []
    for i in range(300):
        prompt = f"Tell me about item {i}"
        a_wins = in_test_split(prompt, seed=0) or i % 2 == 0
        rows.append(
            battle(
                f"q{i}",
                [(prompt, f"good answer {i}", f"bad answer {i}")],
                winner="model_a" if a_wins else "model_b",
            )
        )
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out, limit=None)
    with pytest.raises(SourceError) as caught:
        run_bench(out, parse_strategies(["full"]), rounds=100)
    assert (caught.value.message, caught.value.hint) == (
        f"{out}: every decisive vote of the test split has one outcome (model_a): an AUC needs "
        "both",
        "bench builds whose votes go both ways (both models win some battles)",
    )
    three = as_json(run_bench(out, parse_strategies(["full"]), rounds=100, outcome="three-way"))
    assert three["results"][3]["log_loss_ci95"]  # log-loss needs no second outcome


LEVELS = [0.1, 0.3, 0.5, 0.8]
ROWS3 = [[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]]


def _predictions(data: st.DataObject, n: int, three_way: bool) -> tuple[np.ndarray, np.ndarray]:
    """full's predictions and another strategy's: the same, a monotone map of them (binary:
    the same AUC in every resample), constant, or any."""
    level = st.sampled_from(ROWS3 if three_way else LEVELS)
    full = np.array(data.draw(st.lists(level, min_size=n, max_size=n)))
    kinds = ["same", "constant", "any"] + ([] if three_way else ["monotone"])
    kind = data.draw(st.sampled_from(kinds))
    other = {
        "same": full.copy(),
        "monotone": full**2,
        "constant": np.tile(full[0], (n, 1)) if three_way else np.full(n, 0.5),
        "any": np.array(data.draw(st.lists(level, min_size=n, max_size=n))),
    }[kind]
    return full, other


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_degenerate_inputs_say_what_they_cannot_tell(data: st.DataObject) -> None:
    three_way = data.draw(st.booleans())
    n = data.draw(st.integers(1, 30))
    y = np.array(data.draw(st.lists(st.integers(0, 2 if three_way else 1), min_size=n, max_size=n)))
    full, other = _predictions(data, n, three_way)
    rounds = data.draw(st.sampled_from([0, MIN_ROUNDS, 150]))
    metric, better = ("log_loss", -1.0) if three_way else ("auc", 1.0)
    constant = np.tile(ROWS3[1], (n, 1)) if three_way else np.full(n, 0.5)
    predictions = {**{ref: constant for ref in REFERENCES}, "full": full, "other": other}
    boot = bootstrap(y, predictions, three_way, rounds, seed=data.draw(st.integers(0, 9)))
    points = {name: point(y, p, three_way) for name, p in predictions.items()}
    rows = verdict_rows(points, boot, metric, better, 0.02)
    for row in rows:
        for ci in (row.accuracy_ci95, row.log_loss_ci95, row.auc_ci95, row.minus_full_ci95):
            assert ci is None or (len(ci) == 2 and all(math.isfinite(x) for x in ci))
        if row.is_reference:
            continue
        assert (row.uses_content is None) == (row.minus_length_only_ci95 is None)
        assert (row.non_inferior_to_full is None) == (row.minus_full_ci95 is None)
        if rounds == 0:
            assert [getattr(row, k) for k in VERDICTS] == [None] * 3
        detectable = row.detectable_difference_vs_full
        assert detectable is None or (math.isfinite(detectable) and detectable > 0)
        same = np.array_equal(other, full) or (not three_way and np.array_equal(other, full**2))
        if row.strategy == "other" and same:
            assert detectable is None  # no variance: nothing to scale a difference by
    said = power(rows, metric, n, rounds)
    if said.cannot_tell is None:
        assert (said.detectable_difference or 0) > 0
        assert min((said.votes_needed or {"": 0}).values()) >= MIN_VOTES
    else:
        assert (said.detectable_difference, said.votes_needed) == (None, None)
    judged = any(
        r.non_inferior_to_full is not None or r.uses_content is not None
        for r in rows
        if not r.is_reference
    )
    assert (answer(rows, metric, better, rounds).cannot_tell is None) == judged


def test_power_never_claims_fewer_votes_than_a_bench_tests_on() -> None:
    """A strategy that swaps one pair of 18,360 (one negative just above one positive): a
    standard error so small that the extrapolation asks for under one vote; the bench tests
    on no fewer than MIN_VOTES."""
    y = np.array([0, 1] * 135 + [1])
    full = np.empty(271)
    full[y == 0] = np.linspace(0.1, 0.4, 135)
    full[y == 1] = np.linspace(0.45, 0.9, 136)
    other = np.where(full == 0.4, 0.452, full)  # above 0.45, below the next positive
    predictions = {**{ref: np.full(271, 0.5) for ref in REFERENCES}, "full": full, "other": other}
    points = {name: point(y, p, False) for name, p in predictions.items()}
    rows = verdict_rows(points, bootstrap(y, predictions, False, 1000, seed=0), "auc", 1.0, 0.02)
    said = power(rows, "auc", 271, 1000)
    assert 0 < (said.detectable_difference or 0) < 0.02
    assert (said.votes_needed or {})["0.05"] == MIN_VOTES
    assert (said.rule or "").endswith(
        f"; a difference the test split detects with fewer than {MIN_VOTES} test votes is "
        f"given {MIN_VOTES}, the fewest a bench tests on"
    )
