"""Deterministic arena-schema corpora of any size, composed from real arena texts.

The texts come from the Parquet that ../shared/tools/elobench_to_arena.py writes (2,008 real
battles). Each generated battle:

- has 1 turn with probability 0.86, else 2-5 turns (0.08, 0.03, 0.02, 0.01): 1.24 turns on
  average, as arena data is mostly single-turn;
- reuses an earlier popular prompt (Zipf-weighted over 300 real prompts) with probability 0.2,
  as real arena prompts repeat ("hi", well-known questions); other prompts and every answer are
  fresh: the middle of one real message spliced onto the middle of another at word
  boundaries, so lengths stay realistic and texts do not repeat by accident;
- takes its models and human winner from a random real battle.

The same (source, n, seed) always gives the same file.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TURN_WEIGHTS = {1: 0.86, 2: 0.08, 3: 0.03, 4: 0.02, 5: 0.01}
P_REPEAT = 0.2
POPULAR = 300
CHUNK = 10_000


def _splice(x: str, y: str, rng: random.Random) -> str:
    """The middle of x joined to the middle of y, cut at whitespace (about one message long)."""

    def cut(s: str, lo: float, hi: float) -> int:
        i = int(len(s) * rng.uniform(lo, hi))
        j = s.find(" ", i)
        return j if j != -1 else len(s)

    return x[: cut(x, 0.25, 0.75)] + y[cut(y, 0.25, 0.75) :]


def _rows(source: Path, n: int, seed: int) -> Iterator[dict[str, Any]]:
    table = pq.read_table(source)
    battles = table.to_pylist()
    rng = random.Random(seed)
    prompts = [b["conversation_a"][0]["content"] for b in battles]
    answers = [b["conversation_a"][1]["content"] for b in battles] + [
        b["conversation_b"][1]["content"] for b in battles
    ]
    popular = list(dict.fromkeys(prompts))[:POPULAR]
    popular_cum = list(accumulate(1 / (r + 1) for r in range(len(popular))))
    turn_values = list(TURN_WEIGHTS)
    turn_cum = list(accumulate(TURN_WEIGHTS.values()))
    template = battles[0]
    for i in range(n):
        base = battles[rng.randrange(len(battles))]
        n_turns = rng.choices(turn_values, cum_weights=turn_cum)[0]
        conv_a: list[dict[str, str]] = []
        conv_b: list[dict[str, str]] = []
        for t in range(n_turns):
            if t == 0 and rng.random() < P_REPEAT:
                prompt = rng.choices(popular, cum_weights=popular_cum)[0]
            else:
                prompt = _splice(rng.choice(prompts), rng.choice(prompts), rng)
            a = _splice(rng.choice(answers), rng.choice(answers), rng)
            b = _splice(rng.choice(answers), rng.choice(answers), rng)
            conv_a += [{"content": prompt, "role": "user"}, {"content": a, "role": "assistant"}]
            conv_b += [{"content": prompt, "role": "user"}, {"content": b, "role": "assistant"}]
        yield {
            **template,
            "question_id": f"bench-{i:07d}",
            "model_a": base["model_a"],
            "model_b": base["model_b"],
            "winner": base["winner"],
            "conversation_a": conv_a,
            "conversation_b": conv_b,
            "turn": n_turns,
            "tstamp": 1682351591.1322 + 60 * i,
        }


def make_corpus(source: Path, n: int, out: Path, *, seed: int = 0) -> Path:
    """Write n generated battles to `out` (Parquet, arena schema), CHUNK rows per row group."""
    schema = pq.read_schema(source)
    chunk: list[dict[str, Any]] = []
    with pq.ParquetWriter(out, schema) as writer:
        for row in _rows(source, n, seed):
            chunk.append(row)
            if len(chunk) == CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="elobench_to_arena.py output")
    ap.add_argument("-n", type=int, required=True, help="number of battles")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    make_corpus(args.source, args.n, args.out, seed=args.seed)
    print(f"wrote {args.n:,} battles to {args.out}")


if __name__ == "__main__":
    main()
