"""The recurrent strategies: a rank-R state carried across turns, through the map learned from
the votes (`recurrent`) or the shared SVD basis (`recurrent_svd`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arenatok.bench.protocol import bits_suffix
from arenatok.bench.strategies.base import Family, Name, positive

if TYPE_CHECKING:
    import numpy as np

    from arenatok.bench.shared import Batch, Shared


def states(shared: Shared, projected: np.ndarray, bits: int = 16) -> Batch:
    """s_t = tanh(s_(t-1) + x_t) from s_0 = 0, per side, x_t the projections of turn t's user
    message and answer added, kept exact by the sender and sent each turn at `bits` a number
    (the scale fitted on the training sides' states); the receiver sees the last state sent;
    ceil(R x bits / 8) bytes a turn, R the numbers of the projection."""
    import numpy as np

    from arenatok.bench import compress
    from arenatok.bench.corpus import turn_numbers

    x = shared.per_turn(projected)
    sizes = shared.turns_per_side
    turn = turn_numbers(sizes)
    side = np.repeat(np.arange(2 * shared.n), sizes)
    state = np.zeros((2 * shared.n, x.shape[1]))
    states = np.zeros_like(x)
    for t in range(int(sizes.max(initial=0))):
        rows = np.flatnonzero(turn == t)
        state[side[rows]] = np.tanh(state[side[rows]] + x[rows])
        states[rows] = state[side[rows]]
    scale = compress.fit_scale(states[np.isin(side, shared.train_sides)])
    unit = np.full(len(side), compress.vector_bytes(x.shape[1], bits), dtype=np.int64)
    return shared.vector_costs(unit, compress.quantise(state, scale, bits))


class RecurrentLowRank:
    """A rank-R state carried across turns: s_t = tanh(s_(t-1) + P(user message t) + P(answer
    t)), with the map P of `lowrank_learned` (`recurrent`) or of `lowrank` (`recurrent_svd`).
    The sender keeps the exact state and sends it each turn at `bits` a number; the other end
    sees the last state sent. Cost: ceil(R x bits / 8) bytes a turn."""

    def __init__(self, rank: int, *, learned: bool = True, bits: int = 16) -> None:
        self.rank, self.learned, self.bits = rank, learned, bits
        self.name = f"recurrent{'' if learned else '_svd'}:{rank}{bits_suffix(bits)}"
        positive(rank, f"{self.name}: the rank must be positive", "recurrent:16")

    def send_many(self, shared: Shared) -> Batch:
        return states(shared, shared.projection(self.rank, learned=self.learned), self.bits)


def _make(name: str, rank: int | None, bits: int) -> RecurrentLowRank:
    assert rank is not None  # the registry asks for the number that the name takes
    return RecurrentLowRank(rank, learned=name == "recurrent", bits=bits)


FAMILY = Family(
    names=(Name("recurrent", "R"), Name("recurrent_svd", "R")),
    rows=(
        (
            "`recurrent_svd:R`",
            "a rank-R state carried across turns: s_t = tanh(s_(t-1) + P(user message t) + "
            "P(answer t)), P the map of `lowrank`; the other end sees the last state",
            "R float16 numbers a turn",
        ),
        (
            "`recurrent:R`",
            "the same state with the map of `lowrank_learned`",
            "R float16 numbers a turn",
        ),
    ),
    make=_make,
    order=2,
    defaults=("recurrent:16", "recurrent:16@4", "recurrent_svd:16"),
    vectors=True,
)
