"""The bench at scale: the corpus reads what the build counted, the bootstrap on counts agrees
with resampling, the answer is what it says, and a signal stops a busy run. The vectorised path
of each strategy against the per-side protocol: tests/bench/strategies/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.bench.predict import texts
from arenatok.bench.results import ResultRow
from arenatok.bench.verdicts import answer, scores, weighted_auc
from arenatok.dataset.built import read_built
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.bench.planted import shared_of
from tests.helpers import alive, descendants


def test_corpus_token_counts_are_the_builds(unicode_build: Path) -> None:
    """The ids the bench reads count what the build counted, message by message."""
    shared = shared_of(unicode_build)
    battles = read_built(unicode_build).battles
    expected = [
        n
        for users, a, b in zip(
            battles.turn_input_tokens, battles.turn_a_tokens, battles.turn_b_tokens, strict=True
        )
        for t in zip(users, a, b, strict=True)
        for n in t
    ]
    assert shared.c.lengths.tolist() == expected
    sides_a, sides_b = texts(shared.c)
    assert [s.users for s in sides_a] == battles.users  # decoded exactly
    assert [s.answers for s in sides_b] == battles.answers_b


def _pairs_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """AUC written out over every (positive, negative) pair, weighted."""
    num = den = 0.0
    for i in np.flatnonzero(y == 1):
        for j in np.flatnonzero(y == 0):
            pair = w[i] * w[j]
            den += pair
            num += pair * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return num / den if den else float("nan")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_weighted_auc_is_the_pairwise_definition(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 25))
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    p = np.array(data.draw(st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.9]), min_size=n, max_size=n)))
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    got = weighted_auc(y, p, w[None, :])[0]
    want = _pairs_auc(y, p, w)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


def test_counts_equal_resampling() -> None:
    """A round's scores on counts are the scores of the resampled votes themselves."""
    from arenatok.bench.verdicts import auc

    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 300), rng.random(300)
    idx = rng.integers(0, 300, 300)
    counts = np.bincount(idx, minlength=300)[None, :].astype(float)
    got = scores(y, p, False, counts)
    q = np.clip(p[idx], 1e-12, 1 - 1e-12)
    assert got["auc"][0] == pytest.approx(auc(y[idx], p[idx]))
    assert got["accuracy"][0] == pytest.approx(np.mean((p[idx] > 0.5) == (y[idx] == 1)))
    assert got["log_loss"][0] == pytest.approx(
        -np.mean(y[idx] * np.log(q) + (1 - y[idx]) * np.log(1 - q))
    )


def _row(metric: str = "auc", **fields: Any) -> ResultRow:
    """A result row with only the fields a rule reads (the rest empty)."""
    empty = {"accuracy": 0.0, "log_loss": 0.0, "accuracy_ci95": [], "log_loss_ci95": []}
    return ResultRow(metric=metric, minus_length_only_ci95=[], **{**empty, **fields})


def test_answer_hand_checked() -> None:
    rows = [
        {"strategy": "reference: length only", "auc": 0.6},
        {"strategy": "full", "bytes_per_side": 1000.0, "auc": 0.70, "non_inferior_to_full": True},
        {"strategy": "a", "bytes_per_side": 100.0, "auc": 0.69, "non_inferior_to_full": True},
        {"strategy": "b", "bytes_per_side": 50.0, "auc": 0.65, "uses_content": True},
        {"strategy": "c", "bytes_per_side": 60.0, "auc": 0.64},  # b is cheaper and better
        {"strategy": "d", "bytes_per_side": 10.0, "auc": 0.55},
    ]
    got = as_json(answer([_row(**r) for r in rows], "auc", 1.0, 1000))
    assert got["cheapest_non_inferior_to_full"] == {
        "strategy": "a",
        "bytes_per_side": 100.0,
        "auc": 0.69,
        "share_of_full_bytes": 0.1,
    }
    assert got["cheapest_using_content"]["strategy"] == "b"
    assert [r["strategy"] for r in got["frontier"]] == ["d", "b", "a", "full"]
    # For log-loss, lower is better: the frontier turns around.
    three = [_row("log_loss", **dict(r, log_loss=1 - r["auc"])) for r in rows]
    assert [r.strategy for r in answer(three, "log_loss", -1.0, 1000).frontier] == [
        "d",
        "b",
        "a",
        "full",
    ]


def _stop_when_busy(args: list[str], sig: int) -> tuple[subprocess.Popen[str], list[int], str]:
    """Start `arenatok ARGS` in its own process group, wait until its workers run, send `sig`
    to the group; the process, its workers and its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "arenatok.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT: every thread's stack
    )
    deadline = time.monotonic() + 60
    while len(descendants(proc.pid)) < 3 and time.monotonic() < deadline:  # fork server, 2 workers
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are busy now
    workers = descendants(proc.pid)
    assert len(workers) >= 3, "no workers started"
    os.killpg(proc.pid, sig)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # stuck: say where, then fail
        os.kill(proc.pid, signal.SIGABRT)
        _, stderr = proc.communicate(timeout=30)
        pytest.fail(f"still running 30 s after the signal; its threads:\n{stderr[-8000:]}")
    deadline = time.monotonic() + 5  # the fork server leaves when it sees its parent gone
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, workers, stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_busy_bench(slow_source: Path, tmp_path: Path, sig: int) -> None:
    """A real signal to the process group while the workers read and tokenise: the bench
    ends at once, 128 + signal, nothing written, no worker left."""
    out = tmp_path / "slow"
    build(slow_source, out=out, limit=None)
    proc, workers, stderr = _stop_when_busy(["bench", str(out), "--jobs", "2"], sig)
    assert proc.returncode == 128 + sig, stderr
    assert "no output was changed" in stderr
    assert not (out / "bench.json").exists()
    assert [w for w in workers if alive(w)] == []


def test_a_signal_stops_a_busy_report(arena_parquet: Path, tmp_path: Path) -> None:
    """The report's bootstrap runs in worker processes: SIGTERM to the group while they work
    ends it at once, exit 143, nothing written, no worker left."""
    out = tmp_path / "real"
    build(arena_parquet, out=out, limit=None)
    args = ["report", str(out), "--intervals", "bootstrap", "--rounds", "20000", "--jobs", "2"]
    proc, workers, stderr = _stop_when_busy(args, signal.SIGTERM)
    assert proc.returncode == 143, stderr
    assert not (out / "report.json").exists()
    assert [w for w in workers if alive(w)] == []


def test_take_keeps_each_battle_whole(unicode_build: Path) -> None:
    """Leaving battles out keeps the others' messages and ids together."""
    corpus = shared_of(unicode_build).c
    keep = np.arange(len(corpus)) % 3 != 1
    sides_a, sides_b = texts(corpus)
    taken_a, taken_b = texts(corpus.take(keep))
    assert taken_a == [s for s, k in zip(sides_a, keep, strict=True) if k]
    assert taken_b == [s for s, k in zip(sides_b, keep, strict=True) if k]
    assert corpus.take(keep).key.tolist() == corpus.key[keep].tolist()


def test_power_hand_checked() -> None:
    from arenatok.bench.verdicts import power

    rows = [
        _row(strategy=s, minus_full=0.0, detectable_difference_vs_full=d)
        for s, d in (("a", 0.08), ("b", 0.06))
    ]
    got = as_json(power(rows, "auc", 271, 1000))
    assert got["detectable_difference"] == pytest.approx(0.07)  # the median of 0.06 and 0.08
    # 271 x (0.07 / d)^2 votes, rounded up: 0.02 needs 271 x 12.25 = 3,319.75, so 3,320.
    assert got["votes_needed"] == {"0.005": 53116, "0.01": 13279, "0.02": 3320, "0.05": 532}
