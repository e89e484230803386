"""The low-rank strategies: each message as R numbers, its TF-IDF times the shared SVD basis
(`lowrank`) or times a map learned from the training votes (`lowrank_learned`), summed per
side by the receiver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arenatok.bench.protocol import bits_suffix
from arenatok.bench.strategies.base import Family, Name, positive

if TYPE_CHECKING:
    import numpy as np

    from arenatok.bench.shared import Batch, Shared


def summed(shared: Shared, projected: np.ndarray, bits: int = 16) -> Batch:
    """One vector a message (sent at `bits` a number, the scale fitted on the training
    messages), summed per side by the receiver; ceil(R x bits / 8) bytes a message, R the
    numbers the projection gives (the rank asked for, or fewer on a small vocabulary)."""
    import numpy as np
    from scipy import sparse

    from arenatok.bench import compress

    scale = compress.fit_scale(projected[shared.train_messages])
    per_turn = shared.per_turn(compress.quantise(projected, scale, bits))
    side = np.repeat(np.arange(2 * shared.n), shared.turns_per_side)
    by_side = sparse.csr_matrix(
        (np.ones(len(side)), (side, np.arange(len(side)))), shape=(2 * shared.n, len(side))
    )
    vectors = np.asarray(by_side @ per_turn)
    width = projected.shape[1]
    unit = np.full(len(side), 2 * compress.vector_bytes(width, bits), dtype=np.int64)
    return shared.vector_costs(unit, vectors)


class LowRank:
    """Each message as R numbers: its TF-IDF times the shared SVD basis (`lowrank`), or times
    a map learned from the training votes (`lowrank_learned`: partial least squares on the
    basis); a side sends one vector per message, summed by the receiver. Each number is sent
    at `bits` (16: float16; 8, 4, 2, 1: quantised, see `compress.quantise`). Cost:
    ceil(R x bits / 8) bytes a message."""

    def __init__(self, rank: int, *, learned: bool = False, bits: int = 16) -> None:
        self.rank, self.learned, self.bits = rank, learned, bits
        self.name = f"lowrank{'_learned' if learned else ''}:{rank}{bits_suffix(bits)}"
        positive(rank, f"{self.name}: the rank must be positive", "lowrank:16")

    def send_many(self, shared: Shared) -> Batch:
        return summed(shared, shared.projection(self.rank, learned=self.learned), self.bits)


def _make(name: str, rank: int | None, bits: int) -> LowRank:
    assert rank is not None  # the registry asks for the number that the name takes
    return LowRank(rank, learned=name == "lowrank_learned", bits=bits)


FAMILY = Family(
    names=(Name("lowrank", "R"), Name("lowrank_learned", "R")),
    rows=(
        (
            "`lowrank:R`",
            "each message as R numbers: its TF-IDF times the first R directions of the shared "
            "basis (a truncated SVD of the training messages' TF-IDF, 128 directions, or R if "
            "more), summed",
            "R float16 numbers a message",
        ),
        (
            "`lowrank_learned:R`",
            "the same with a supervised map: partial least squares between the two sides' "
            "difference in the basis and the training votes (the R directions that covary most "
            "with who won)",
            "R float16 numbers a message",
        ),
    ),
    make=_make,
    order=1,
    defaults=("lowrank:16,64", "lowrank_learned:16"),
    vectors=True,
)
