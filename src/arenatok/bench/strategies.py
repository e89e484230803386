"""The built-in compression strategies, and `parse_strategies`.

Each built-in has `send_many(shared)`: what every side of every battle sends, at once, from the
shared representations (`shared.Shared`). `full`, `last_turn` and the truncations also answer
the per-side protocol (`send`), with the same costs, for use one side at a time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arenatok.bench.protocol import Recurrent, Sent, Side, Strategy, load
from arenatok.errors import MissingExtraError, OptionError
from arenatok.tokens import get_encoding

if TYPE_CHECKING:
    import numpy as np

    from arenatok.bench.shared import Batch, Shared

SEPARATOR = "\n\n"
"""Between the messages of a text that a side sends (2 bytes)."""


def messages(side: Side) -> list[str]:
    """A side's messages in order: user message 1, answer 1, user message 2, ..."""
    return [m for pair in zip(side.users, side.answers, strict=True) for m in pair]


def _kept_text(parts: Sequence[list[int]]) -> Sent:
    """The text of token ids, message by message; cost: the ids and their bytes, with the
    separators."""
    enc = get_encoding("cl100k_base")
    text = SEPARATOR.join(enc.decode(p) for p in parts)
    size = sum(len(enc.decode_bytes(p)) for p in parts) + len(SEPARATOR) * (len(parts) - 1)
    return Sent(text=text, tokens=sum(map(len, parts)), bytes=size)


class _Text:
    """A text strategy: some or all of each message's tokens."""

    name: str
    k: int | None = None
    tail = False
    last_turn = False

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        enc = get_encoding("cl100k_base")
        side = Side(side.users[-1:], side.answers[-1:]) if self.last_turn else side
        ids = [enc.encode_ordinary(m) for m in messages(side)]
        if self.k is not None:
            ids = [i[-self.k :] if self.tail else i[: self.k] for i in ids]
        return _kept_text(ids)

    def send_many(self, shared: Shared) -> Batch:
        return shared.text(k=self.k, tail=self.tail, last_turn=self.last_turn)


class Full(_Text):
    """Everything: every user message and answer (the baseline)."""

    name = "full"


class LastTurn(_Text):
    """Only the last turn: its user message and answer (whole)."""

    name = "last_turn"
    last_turn = True


class Truncate(_Text):
    """The first (head) or last (tail) K tokens (cl100k_base) of each message."""

    def __init__(self, k: int, *, tail: bool = False) -> None:
        if k < 1:
            raise OptionError(f"truncation needs a positive number of tokens, got {k}")
        self.k, self.tail = k, tail
        self.name = f"truncate_{'tail' if tail else 'head'}:{k}"


class LowRank:
    """Each message as R numbers: its TF-IDF times the shared SVD basis (`lowrank`), or times
    a map learned from the training votes (`lowrank_learned`: partial least squares on the
    basis); a side sends one vector per message, summed. Cost: R float16 numbers a message."""

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = False) -> None:
        self.rank, self.seed, self.learned = rank, seed, learned
        self.name = f"lowrank{'_learned' if learned else ''}:{rank}"
        if rank < 1:
            raise OptionError(f"{self.name}: the rank must be positive")

    def send_many(self, shared: Shared) -> Batch:
        return shared.summed(shared.projection(self.rank, learned=self.learned), self.rank)


class RecurrentLowRank(LowRank):
    """A rank-R state carried across turns: s_t = tanh(s_(t-1) + P(user message t) + P(answer
    t)), with the map P of `lowrank_learned` (`recurrent`) or of `lowrank` (`recurrent_svd`).
    A side sends its R numbers a turn (float16); the other end sees the last state."""

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = True) -> None:
        super().__init__(rank, seed=seed, learned=learned)
        self.name = f"recurrent{'' if learned else '_svd'}:{rank}"

    def send_many(self, shared: Shared) -> Batch:
        return shared.recurrent(shared.projection(self.rank, learned=self.learned), self.rank)


class Embed:
    """Each message as a WordLlama static embedding (256 numbers, or the first R: its
    Matryoshka dimensions), summed per side; no network (the weights ship in the wheel). Cost:
    R float16 numbers a message. Needs the `embed` extra. Runs through the per-side protocol."""

    DIM = 256

    def __init__(self, rank: int | None = None) -> None:
        if rank is not None and not 1 <= rank <= self.DIM:
            raise OptionError(f"embed takes 1 to {self.DIM} dimensions, got {rank}")
        self.rank = rank or self.DIM
        self.name = "embed" if rank is None else f"embed:{rank}"
        if importlib.util.find_spec("wordllama") is None:
            raise MissingExtraError("the embed strategies", "embed", "wordllama")
        self.cache: dict[str, np.ndarray] = {}

    def fit(self, sides: Sequence[Side]) -> None:
        self.model = load_wordllama(self.rank)  # here, not in __init__: workers load their own

    def prepare(self, sides: Sequence[Side]) -> None:
        import numpy as np

        texts = list(dict.fromkeys(m for s in sides for m in messages(s)))
        vectors = np.asarray(self.model.embed(texts), dtype=np.float32)
        self.cache = dict(zip(texts, vectors, strict=True))

    def send(self, side: Side) -> Sent:
        import numpy as np

        parts = messages(side)
        vector = np.sum([self.cache[m] for m in parts], axis=0)
        return Sent(vector=vector, bytes=2 * self.rank * len(parts))


def load_wordllama(dim: int) -> Any:
    """WordLlama, loaded from the files in its wheel (its default `load()` looks for the
    tokenizer in the wrong folder and goes to the network)."""
    try:
        import wordllama
    except ImportError:
        raise MissingExtraError("the embed strategies", "embed", "wordllama") from None
    return wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=dim
    )


DEFAULT_STRATEGIES = (
    "full",
    "last_turn",
    "truncate_head:32,128",
    "truncate_tail:32,128",
    "lowrank:16,64",
    "lowrank_learned:16",
    "recurrent:16",
    "recurrent_svd:16",
)
"""What `arenatok bench` runs when no --strategy is given."""

BUILT_IN = (
    "full",
    "last_turn",
    "truncate_head",
    "truncate_tail",
    "lowrank",
    "lowrank_learned",
    "recurrent",
    "recurrent_svd",
    "embed",
)

AnyStrategy = Strategy | Recurrent | _Text | LowRank


def _one(name: str, v: int, seed: int) -> AnyStrategy:
    if name.startswith("lowrank"):
        return LowRank(v, seed=seed, learned=name == "lowrank_learned")
    if name.startswith("recurrent"):
        return RecurrentLowRank(v, seed=seed, learned=name == "recurrent")
    if name == "embed":
        return Embed(v)
    return Truncate(v, tail=name == "truncate_tail")


def parse_strategies(specs: Sequence[str], *, seed: int = 0) -> list[AnyStrategy]:
    """`full`, `last_turn`, `truncate_head:32,64`, `truncate_tail:K`, `lowrank:R[,R...]`,
    `lowrank_learned:R`, `recurrent:R`, `recurrent_svd:R`, `embed[:R]`, or `module:Class` for
    your own."""
    out: list[AnyStrategy] = []
    for spec in specs:
        name, _, params = spec.partition(":")
        if name in ("full", "last_turn"):
            out.append(Full() if name == "full" else LastTurn())
        elif name == "embed" and not params:
            out.append(Embed())
        elif name in BUILT_IN:
            try:
                values = [int(v) for v in params.split(",") if v.strip()]
            except ValueError:
                raise OptionError(
                    f"{spec}: {name} takes whole numbers, e.g. {name}:64",
                    hint=f"for example --strategy {name}:64",
                ) from None
            if not values:
                raise OptionError(
                    f"{spec}: say how much, e.g. {name}:64", hint=f"--strategy {name}:64"
                )
            out.extend(_one(name, v, seed) for v in values)
        elif params:
            out.append(load(name, params))
        else:
            raise OptionError(
                f"unknown strategy: {spec!r}",
                hint=f"built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out
