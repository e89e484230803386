"""The bench at scale: the vectorised path agrees with the per-side protocol, the bootstrap on
counts agrees with resampling, the answer is what it says, and a signal stops a busy run."""

from __future__ import annotations

import os
import random
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

from arenatok.bench.corpus import plan_shards, read_shard
from arenatok.bench.predict import texts
from arenatok.bench.results import ResultRow
from arenatok.bench.shared import Shared
from arenatok.bench.strategies import Full, LastTurn, Truncate
from arenatok.bench.verdicts import answer, scores, weighted_auc
from arenatok.dataset.built import read_built
from arenatok.errors import OptionError
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.helpers import alive, battle, descendants, write_jsonl


def _shared(out: Path) -> Shared:
    corpus = read_shard(plan_shards(out, limit=None, seed=0)[0])
    every = np.arange(len(corpus))
    return Shared(corpus, every, every, np.ones(len(corpus)), 0)


@pytest.fixture(scope="module")
def unicode_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Multi-turn battles with emoji, accents and CJK, whose tokens split characters."""
    tmp = tmp_path_factory.mktemp("uni")
    pieces = ["héllo wörld", "日本語のテキスト", "🙂🙃 emoji ", "naïve café", "plain words here"]
    rows = []
    for i in range(40):
        turns = [
            (
                f"q{i} {pieces[(i + t) % 5] * (t + 1)}",
                pieces[i % 5] * (3 + i % 7),
                pieces[(i + 2) % 5] * (1 + t),
            )
            for t in range(1 + i % 3)
        ]
        rows.append(battle(f"u{i}", turns, winner="model_a" if i % 2 else "model_b"))
    out = tmp / "out"
    build(write_jsonl(tmp / "u.jsonl", rows), out=out, limit=None)
    return out


def test_corpus_token_counts_are_the_builds(unicode_build: Path) -> None:
    """The ids the bench reads count what the build counted, message by message."""
    shared = _shared(unicode_build)
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


@pytest.mark.parametrize(
    "strategy", [Full(), LastTurn(), Truncate(3), Truncate(3, tail=True), Truncate(20)]
)
def test_send_many_costs_equal_send(unicode_build: Path, strategy: Full) -> None:
    """Every side's tokens and bytes, in all and by turn, are what `send` says one side at a
    time (including cuts inside a character)."""
    shared = _shared(unicode_build)
    batch = strategy.send_many(shared)
    sides_a, sides_b = texts(shared.c)
    by_turn_tokens, by_turn_bytes = [], []
    for k, side in enumerate(sides_a + sides_b):
        sent = strategy.send(side)
        assert (batch.tokens[k], batch.bytes[k]) == (sent.tokens, sent.bytes)
        for t in range(1, len(side.users) + 1):
            part = strategy.send(type(side)(side.users[:t], side.answers[:t]))
            by_turn_tokens.append(part.tokens)
            by_turn_bytes.append(part.bytes)
    assert batch.by_turn_tokens.tolist() == by_turn_tokens
    assert batch.by_turn_bytes.tolist() == by_turn_bytes


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


# ---- what a coordinator really sends: quantised vectors, extracted sentences, hybrids --------


def test_quantise_hand_checked() -> None:
    from arenatok.bench.compress import quantise, vector_bytes

    scale = np.array([2.0])
    x = np.array([[-2.0], [-0.1], [0.1], [1.9]])
    # 1 bit: the sign, decoded as +-scale/2.
    assert quantise(x, scale, 1)[:, 0].tolist() == [-1.0, -1.0, 1.0, 1.0]
    # 2 bits: 4 levels over [-2, 2], decoded at their midpoints -1.5, -0.5, 0.5, 1.5.
    assert quantise(x, scale, 2)[:, 0].tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert quantise(x, scale, 16) is x
    assert [vector_bytes(16, b) for b in (1, 2, 4, 8, 16)] == [2, 4, 8, 16, 32]
    assert vector_bytes(5, 1) == 1  # ceil(5 / 8)


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=20), st.sampled_from([1, 2, 4, 8]))
def test_quantise_is_within_half_a_level(values: list[float], bits: int) -> None:
    from arenatok.bench.compress import quantise

    x = np.array(values)[:, None]
    decoded = quantise(x, np.array([1.0]), bits)
    assert np.all(np.abs(decoded - x) <= 1.0 / 2**bits + 1e-12)
    assert len(np.unique(decoded)) <= 2**bits


def test_parse_bits_extract_and_hybrids() -> None:
    from arenatok.bench.strategies import parse_strategies as parse

    names = [s.name for s in parse(["lowrank:16,64@4", "recurrent:16@1", "extract:32"])]
    assert names == ["lowrank:16@4", "lowrank:64@4", "recurrent:16@1", "extract:32"]
    [hybrid] = parse(["recurrent:16@4+extract:32"])
    assert hybrid.name == "recurrent:16@4+extract:32"
    for bad, says in (
        ("full@4", "only vector strategies take @BITS"),
        ("truncate_head:32@4", "only vector strategies take @BITS"),
        ("lowrank:16@3", "@BITS is 1, 2, 4, 8 or 16"),
        ("extract:16,32+full", "each part of a hybrid is one strategy"),
    ):
        with pytest.raises(OptionError, match=says):
            parse([bad])


def _vote(qid: str, turns: list[tuple[str, str, str]], a_wins: bool) -> dict[str, object]:
    """A battle of m1 against m2 that A wins or loses."""
    return battle(qid, turns, winner="model_a" if a_wins else "model_b", model_a="m1", model_b="m2")


def _sentences_rows(n: int, seed: int = 5) -> list[dict[str, object]]:
    """Long answers of ten sentences; the vote is planted in one sentence in the middle
    (the 3rd to the 8th), whose other words carry nothing."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]

    def sentence() -> str:
        return " ".join(rng.choices(words, k=8)) + "."

    def answer(word: str) -> str:
        parts = [sentence() for _ in range(10)]
        where = rng.randrange(2, 8)
        parts[where] = (
            f"{' '.join(rng.choices(words, k=4))} {word} {' '.join(rng.choices(words, k=3))}."
        )
        return " ".join(parts)

    rows = []
    for i in range(n):
        a_wins = rng.random() < 0.5
        a, b = (answer("good"), answer("bad")) if a_wins else (answer("bad"), answer("good"))
        rows.append(
            _vote(f"s{i}", [(f"question {i} {' '.join(rng.choices(words, k=3))}", a, b)], a_wins)
        )
    return rows


def test_extract_finds_a_sentence_anywhere(tmp_path: Path) -> None:
    from arenatok.bench import run_bench
    from arenatok.bench.strategies import parse_strategies as parse

    out = tmp_path / "sentences"
    build(write_jsonl(tmp_path / "s.jsonl", _sentences_rows(500)), out=out, limit=None)
    specs = ["full", "extract:16", "extract_lead:16", "truncate_head:16", "truncate_tail:16"]
    got = {r["strategy"]: r for r in as_json(run_bench(out, parse(specs), rounds=200))["results"]}
    assert got["full"]["uses_content"] is True
    assert got["extract:16"]["uses_content"] is True  # the learned importance finds it
    assert got["extract:16"]["auc"] > 0.9
    for blunt in ("extract_lead:16", "truncate_head:16", "truncate_tail:16"):
        assert got[blunt]["uses_content"] is False, blunt
    # Whole sentences only: at most 16 tokens a message, and cost as for text.
    assert got["extract:16"]["tokens_per_side"] <= 2 * 16


def _graded_rows(n: int, seed: int = 9) -> list[dict[str, object]]:
    """Two turns; each answer holds 0 to 6 planted words; the side with more in all wins: the
    signal is in how many, which a sign alone cannot carry. Every word is one token, so length
    tells nothing."""
    rng = random.Random(seed)
    words = [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "you",
        "that",
        "it",
        "he",
        "was",
        "for",
        "on",
        "are",
        "as",
        "with",
        "his",
        "they",
        "at",
        "be",
        "this",
        "have",
        "from",
        "or",
        "one",
        "had",
        "by",
        "word",
        "but",
        "not",
        "what",
        "all",
        "were",
        "we",
        "when",
        "your",
        "can",
        "said",
        "there",
        "use",
        "an",
        "each",
        "which",
        "she",
        "do",
        "how",
        "their",
        "if",
        "will",
        "up",
    ]
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        counts = [[rng.randrange(7) for _ in range(2)] for _ in range(2)]  # side, turn
        if sum(counts[0]) == sum(counts[1]):
            continue
        i = len(rows)

        def answer(k: int) -> str:  # the same length whatever k
            return " ".join(["good"] * k + rng.choices(words, k=18 - k))

        turns = [
            (f"question {i} turn {t}", answer(counts[0][t]), answer(counts[1][t])) for t in range(2)
        ]
        a_wins = sum(counts[0]) > sum(counts[1])
        rows.append(_vote(f"g{i}", turns, a_wins))
    return rows


def test_fewer_bits_keep_less_and_cost_what_they_send(tmp_path: Path) -> None:
    from arenatok.bench import run_bench
    from arenatok.bench.strategies import parse_strategies as parse

    out = tmp_path / "graded"
    rows = _graded_rows(800)
    build(write_jsonl(tmp_path / "t.jsonl", rows), out=out, limit=None)
    specs = [
        "recurrent:8@1",
        "recurrent:8@8",
        "recurrent:8",
        "lowrank:8@2",
        "recurrent:8@1+extract:8",
    ]
    got = {r["strategy"]: r for r in as_json(run_bench(out, parse(specs), rounds=100))["results"]}
    # Every battle has two turns: a state of 8 numbers a turn; a message vector of 8 a message.
    assert got["recurrent:8@1"]["bytes_per_side"] == 2 * 1  # ceil(8 x 1 / 8) a turn
    assert got["recurrent:8@8"]["bytes_per_side"] == 2 * 8
    assert got["recurrent:8"]["bytes_per_side"] == 2 * 16
    assert got["lowrank:8@2"]["bytes_per_side"] == 4 * 2  # 4 messages, 2 bytes each
    assert [c["bytes"] for c in got["recurrent:8@1"]["cost_by_turn"]] == [1.0, 2.0]
    hybrid = got["recurrent:8@1+extract:8"]
    assert hybrid["bytes_per_side"] > got["recurrent:8@1"]["bytes_per_side"]
    assert got["recurrent:8@8"]["uses_content"] is True
    assert got["recurrent:8@1"]["auc"] < got["recurrent:8@8"]["auc"]


def test_take_keeps_each_battle_whole(unicode_build: Path) -> None:
    """Leaving battles out keeps the others' messages and ids together."""
    corpus = _shared(unicode_build).c
    keep = np.arange(len(corpus)) % 3 != 1
    sides_a, sides_b = texts(corpus)
    taken_a, taken_b = texts(corpus.take(keep))
    assert taken_a == [s for s, k in zip(sides_a, keep, strict=True) if k]
    assert taken_b == [s for s, k in zip(sides_b, keep, strict=True) if k]
    assert corpus.take(keep).key.tolist() == corpus.key[keep].tolist()


def test_low_rank_strategies_bill_the_numbers_they_send(tmp_path: Path) -> None:
    """On a vocabulary of a handful of tokens the SVD gives fewer directions than asked for:
    each message then costs what is sent (2 bytes a float16 number), not the rank asked."""
    from arenatok.bench.strategies import LowRank, RecurrentLowRank

    rows = [
        battle(f"v{i}", [("a b", "a b c", "b c")], winner=("model_a", "model_b")[i % 2])
        for i in range(30)
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "v.jsonl", rows), out=out)
    shared = _shared(out)
    for strategy in (LowRank(64), RecurrentLowRank(64, learned=False)):
        sent = strategy.send_many(shared)
        assert sent.vectors is not None
        width = sent.vectors.shape[1]
        assert width < 64
        # One turn a side: lowrank sends its 2 messages, the recurrent state 1 vector a turn.
        messages = 1 if isinstance(strategy, RecurrentLowRank) else 2
        assert set(sent.bytes.tolist()) == {messages * 2 * width}


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
