"""`bench.strategies.extract`: the learned weights find the one sentence that carries the vote,
wherever it is; the unlearned control and the truncations do not."""

from __future__ import annotations

import random
from pathlib import Path

from arenatok.bench import run_bench
from arenatok.bench.strategies import parse_strategies
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.helpers import battle, write_jsonl


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
        turns = [(f"question {i} {' '.join(rng.choices(words, k=3))}", a, b)]
        winner = "model_a" if a_wins else "model_b"
        rows.append(battle(f"s{i}", turns, winner=winner, model_a="m1", model_b="m2"))
    return rows


def test_extract_finds_a_sentence_anywhere(tmp_path: Path) -> None:
    out = tmp_path / "sentences"
    build(write_jsonl(tmp_path / "s.jsonl", _sentences_rows(500)), out=out, limit=None)
    specs = ["full", "extract:16", "extract_lead:16", "truncate_head:16", "truncate_tail:16"]
    bench = as_json(run_bench(out, parse_strategies(specs), rounds=200))
    got = {r["strategy"]: r for r in bench["results"]}
    assert got["full"]["uses_content"] is True
    assert got["extract:16"]["uses_content"] is True  # the learned importance finds it
    assert got["extract:16"]["auc"] > 0.9
    for blunt in ("extract_lead:16", "truncate_head:16", "truncate_tail:16"):
        assert got[blunt]["uses_content"] is False, blunt
    # Whole sentences only: at most 16 tokens a message, and cost as for text.
    assert got["extract:16"]["tokens_per_side"] <= 2 * 16
