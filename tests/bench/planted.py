"""Planted signals: builds whose votes follow a rule the bench must find (or not); and what
the strategies share, made from a build or from two battles by hand."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.helpers import battle, write_jsonl

if TYPE_CHECKING:
    from arenatok.bench.shared import Shared


def shared_of(out: Path) -> Shared:
    """What the strategies share on a build, every battle in the training split."""
    import numpy as np

    from arenatok.bench.corpus import plan_shards, read_shard
    from arenatok.bench.shared import Shared

    corpus = read_shard(plan_shards(out, limit=None, seed=0)[0])
    every = np.arange(len(corpus))
    return Shared(corpus, every, every, np.ones(len(corpus)), 0)


def two_battles() -> Shared:
    """One battle of two turns (messages 0 to 5: user 1, answer A 1, answer B 1, user 2, answer
    A 2, answer B 2), one of one turn (messages 6, 7, 8); one token each."""
    import numpy as np

    from arenatok.bench.corpus import Corpus
    from arenatok.bench.shared import Shared

    corpus = Corpus(
        vote=np.array([1, 0], np.int8),
        test=np.array([False, False]),
        turns=np.array([2, 1], np.int32),
        model_a=["m1", "m1"],
        model_b=["m2", "m2"],
        style_a=np.zeros((2, 4)),
        style_b=np.zeros((2, 4)),
        lengths=np.ones(9, np.int64),
        sizes=np.ones(9, np.int64),
        ids=np.arange(9, dtype=np.int32),
        key=np.arange(2, dtype=np.uint64),
    )
    return Shared(corpus, np.array([0, 1]), np.array([0, 1]), np.array([1.0, 0.0]), 0)


def bench_planted(tmp_path: Path, kind: str, specs: list[str]) -> dict[str, dict[str, object]]:
    """bench.json's rows by strategy, on 500 battles of `planted_rows(kind)`."""
    from arenatok.bench import run_bench
    from arenatok.bench.strategies import parse_strategies

    out = tmp_path / kind
    build(write_jsonl(tmp_path / f"{kind}.jsonl", planted_rows(kind, 500)), out=out, limit=None)
    bench = as_json(run_bench(out, parse_strategies(specs), rounds=200))
    return {r["strategy"]: r for r in bench["results"]}


def planted(tmp_path: Path, *, signal: bool, n: int = 400) -> Path:
    rng = random.Random(1)
    rows = []
    topics = [f"topic{i}" for i in range(60)]
    for i in range(n):
        prompt = f"Tell me about {rng.choice(topics)} number {i}"
        filler = " ".join(rng.choices(topics, k=6))
        # The same number of tokens either way: only the words tell the winner.
        good, bad = f"good answer {filler}", f"bad answer {filler}"
        a_wins = rng.random() < 0.5
        if signal:
            a, b = (good, bad) if a_wins else (bad, good)
        else:
            a, b = (good, bad) if rng.random() < 0.5 else (bad, good)
        rows.append(
            battle(
                f"q{i}",
                [(prompt, a, b)],
                winner="model_a" if a_wins else "model_b",
                model_a=rng.choice(["m1", "m2"]),
                model_b="m3",
            )
        )
    out = tmp_path / ("signal" if signal else "noise")
    build(write_jsonl(tmp_path / f"{out.name}.jsonl", rows), out=out, limit=None)
    return out


def planted_rows(kind: str, n: int, seed: int = 2, flip: float = 0.0) -> list[dict[str, object]]:
    """Battles whose vote depends only on a planted word. `end`: the last word of a long answer
    (the same length either way). `turn1`: the first answer of a two-turn battle; the second
    turn carries no signal. `flip`: the share of votes that go against the signal."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    rows = []
    for i in range(n):
        a_wins = rng.random() < 0.5
        win, lose = "good", "bad"  # one token each, at the start or after a space

        def filler(k: int) -> str:
            return " ".join(rng.choices(words, k=k))

        if kind == "end":
            a = f"{filler(150)} {win if a_wins else lose}"
            b = f"{filler(150)} {lose if a_wins else win}"
            turns = [(f"question {i} {filler(3)}", a, b)]
        else:
            a = f"{win if a_wins else lose} {filler(20)}"
            b = f"{lose if a_wins else win} {filler(20)}"
            turns = [
                (f"question {i} {filler(3)}", a, b),
                (f"and then {filler(3)}", filler(20), filler(20)),
            ]
        if rng.random() < flip:
            a_wins = not a_wins
        rows.append(
            battle(
                f"q{i}",
                turns,
                winner="model_a" if a_wins else "model_b",
                model_a="m1",
                model_b="m2",
            )
        )
    return rows
