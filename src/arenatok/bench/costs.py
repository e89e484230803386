"""What a side sends, turn by turn: the mean tokens and bytes sent by turn t, for a strategy
and for resending the whole history each turn."""

from __future__ import annotations

import numpy as np

from arenatok.bench.corpus import turn_numbers
from arenatok.bench.shared import Shared, grouped_cumsum

MAX_TURN_SHOWN = 10
"""Cost by turn is given for turns 1 to this (later turns are rare)."""


def by_turn(tokens: np.ndarray, size: np.ndarray, turns: np.ndarray) -> list[dict[str, float]]:
    """Per turn t: over the sides of battles with at least t turns, the mean tokens and bytes
    one side has sent by turn t (flat arrays: side by side, turn by turn)."""
    turn = turn_numbers(turns)
    out = []
    for t in range(MAX_TURN_SHOWN):
        k = turn == t
        if not k.any():
            break
        out.append(
            {
                "turn": t + 1,
                "battles": int(k.sum()) // 2,
                "tokens": float(tokens[k].mean()),
                "bytes": float(size[k].mean()),
            }
        )
    return out


def full_state_by_turn(shared: Shared) -> list[dict[str, float]]:
    """`by_turn` for resending the whole history each turn: at turn t a side sends its
    context (`context_tokens` of the Metrics: every earlier user message and its own answers,
    plus user message t) and its answer t, so turn t costs the messages of turns 1 to t
    (quadratic in the turns; bytes without separators)."""
    _, message = shared.sides
    sizes = shared.turns_per_side
    tokens, size = (
        grouped_cumsum(grouped_cumsum(m[message[0::2]] + m[message[1::2]], sizes), sizes)
        for m in (shared.c.lengths, shared.c.sizes)
    )
    return by_turn(tokens, size, sizes)
