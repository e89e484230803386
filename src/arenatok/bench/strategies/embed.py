"""The `embed` strategies: each message as a WordLlama static embedding (the `embed` extra),
through the per-side protocol."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arenatok.bench.protocol import Sent, Side, bits_suffix, messages
from arenatok.bench.strategies.base import Family, Name
from arenatok.errors import MissingExtraError, OptionError, missing_extra

if TYPE_CHECKING:
    import numpy as np


class Embed:
    """Each message as a WordLlama static embedding (256 numbers, or the first R: its
    Matryoshka dimensions), summed per side; no network (the weights ship in the wheel). Cost:
    R float16 numbers a message. Needs the `embed` extra. Runs through the per-side protocol."""

    DIM = 256

    def __init__(self, rank: int | None = None, *, bits: int = 16) -> None:
        if rank is not None and not 1 <= rank <= self.DIM:
            raise OptionError(
                f"embed takes 1 to {self.DIM} dimensions, got {rank}", hint="for example embed:64"
            )
        self.rank, self.bits = rank or self.DIM, bits
        self.name = ("embed" if rank is None else f"embed:{rank}") + bits_suffix(bits)
        if importlib.util.find_spec("wordllama") is None:
            raise MissingExtraError("the embed strategies", "embed", "wordllama", need="need")
        self.cache: dict[str, np.ndarray] = {}

    def fit(self, sides: Sequence[Side]) -> None:
        """Load the model; the quantiser's scale from the training messages."""
        import numpy as np

        from arenatok.bench.compress import fit_scale

        self.model = load_wordllama(self.rank)
        texts = list(dict.fromkeys(m for s in sides for m in messages(s)))
        self.scale = fit_scale(np.asarray(self.model.embed(texts), dtype=np.float32))

    def prepare(self, sides: Sequence[Side]) -> None:
        import numpy as np

        from arenatok.bench.compress import quantise

        texts = list(dict.fromkeys(m for s in sides for m in messages(s)))
        vectors = quantise(
            np.asarray(self.model.embed(texts), dtype=np.float32), self.scale, self.bits
        )
        self.cache = dict(zip(texts, vectors, strict=True))

    def send(self, side: Side) -> Sent:
        import numpy as np

        from arenatok.bench.compress import vector_bytes

        parts = messages(side)
        vector = np.sum([self.cache[m] for m in parts], axis=0)
        return Sent(
            vector=vector, bytes=vector_bytes(self.rank, self.bits) * len(parts), bits=self.bits
        )


def load_wordllama(dim: int) -> Any:
    """WordLlama, loaded from the files in its wheel (its default `load()` looks for the
    tokenizer in the wrong folder and goes to the network)."""
    try:
        import wordllama
    except ImportError as e:
        raise missing_extra(
            e, "the embed strategies", "embed", "wordllama", "wordllama", need="need"
        ) from e
    return wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=dim
    )


def _make(name: str, rank: int | None, bits: int) -> Embed:
    return Embed(rank, bits=bits)


FAMILY = Family(
    names=(Name("embed", "R", optional=True, note="the embed extra"),),
    rows=(
        (
            "`embed`, `embed:R`",
            "each message as its WordLlama embedding (256 dimensions, or the first R: "
            "Matryoshka), summed",
            "R float16 numbers a message",
        ),
    ),
    make=_make,
    order=3,
    vectors=True,
    per_side=True,
)
