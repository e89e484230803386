"""Planted signals: builds whose votes follow a rule the bench must find (or not)."""

from __future__ import annotations

import random
from pathlib import Path

from arenatok.pipeline.driver import build
from tests.helpers import battle, write_jsonl


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
