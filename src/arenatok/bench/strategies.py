"""The built-in compression strategies, and `parse_strategies`.

Each built-in has `send_many(shared)`: what every side of every battle sends, at once, from the
shared representations (`shared.Shared`). `full`, `last_turn` and the truncations also answer
the per-side protocol (`send`), with the same costs, for use one side at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arenatok.bench.embed import Embed
from arenatok.bench.protocol import (
    BITS,
    SEPARATOR,
    Recurrent,
    Sent,
    Side,
    Strategy,
    bits_suffix,
    load,
    messages,
)
from arenatok.errors import OptionError
from arenatok.pipeline.encodings import get_encoding

if TYPE_CHECKING:
    from arenatok.bench.shared import Batch, Shared


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


def _positive(n: int, message: str, example: str) -> None:
    """An OptionError (`message`, and `example` as the hint) unless n is 1 or more."""
    if n < 1:
        raise OptionError(message, hint=f"for example {example}")


class Truncate(_Text):
    """The first (head) or last (tail) K tokens (cl100k_base) of each message."""

    def __init__(self, k: int, *, tail: bool = False) -> None:
        _positive(k, f"truncation needs a positive number of tokens, got {k}", "truncate_tail:64")
        self.k, self.tail = k, tail
        self.name = f"truncate_{'tail' if tail else 'head'}:{k}"


class LowRank:
    """Each message as R numbers: its TF-IDF times the shared SVD basis (`lowrank`), or times
    a map learned from the training votes (`lowrank_learned`: partial least squares on the
    basis); a side sends one vector per message, summed by the receiver. Each number is sent
    at `bits` (16: float16; 8, 4, 2, 1: quantised, see `compress.quantise`). Cost:
    ceil(R x bits / 8) bytes a message."""

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = False, bits: int = 16) -> None:
        self.rank, self.seed, self.learned, self.bits = rank, seed, learned, bits
        self.name = f"lowrank{'_learned' if learned else ''}:{rank}{bits_suffix(bits)}"
        _positive(rank, f"{self.name}: the rank must be positive", "lowrank:16")

    def send_many(self, shared: Shared) -> Batch:
        projected = shared.projection(self.rank, learned=self.learned)
        return shared.summed(projected, self.bits)


class RecurrentLowRank(LowRank):
    """A rank-R state carried across turns: s_t = tanh(s_(t-1) + P(user message t) + P(answer
    t)), with the map P of `lowrank_learned` (`recurrent`) or of `lowrank` (`recurrent_svd`).
    The sender keeps the exact state and sends it each turn at `bits` a number; the other end
    sees the last state sent. Cost: ceil(R x bits / 8) bytes a turn."""

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = True, bits: int = 16) -> None:
        super().__init__(rank, seed=seed, learned=learned, bits=bits)
        self.name = f"recurrent{'' if learned else '_svd'}:{rank}{bits_suffix(bits)}"

    def send_many(self, shared: Shared) -> Batch:
        projected = shared.projection(self.rank, learned=self.learned)
        return shared.recurrent(projected, self.bits)


class Extract:
    """Whole sentences of each message, up to K tokens, sent in their original order: the
    sentences whose tokens weigh most, on average, in a logistic regression of the training
    votes on `full` (`extract`), or the first ones (`extract_lead`, the unlearned control);
    taken in that order while they fit in K together. A sentence ends after a token that ends
    with . ! or ? (spaces aside) or holds a line break, and at the end of the message. Cost:
    the kept tokens and their bytes, with the separators of `full`."""

    def __init__(self, k: int, *, lead: bool = False) -> None:
        _positive(k, f"extraction needs a positive number of tokens, got {k}", "extract:32")
        self.k, self.lead = k, lead
        self.name = f"extract{'_lead' if lead else ''}:{k}"

    def send_many(self, shared: Shared) -> Batch:
        return shared.extract(self.k, learned=not self.lead)


class Hybrid:
    """`A+B`: a side sends what A sends and what B sends, and pays for both; the predictor
    sees both."""

    def __init__(self, parts: Sequence[Any]) -> None:
        for p in parts:
            if not hasattr(p, "send_many"):
                raise OptionError(
                    f"{p.name}: only built-in strategies combine with +",
                    hint="combine full, last_turn, truncate_*, extract*, lowrank*, recurrent*",
                )
        self.parts = list(parts)
        self.name = "+".join(p.name for p in parts)
        self.rank = max((getattr(p, "rank", 0) for p in parts), default=0)

    def send_many(self, shared: Shared) -> Batch:
        from arenatok.bench.shared import Batch

        return Batch.combined([p.send_many(shared) for p in self.parts])


DEFAULT_STRATEGIES = (
    "full",
    "last_turn",
    "truncate_head:32,128",
    "truncate_tail:32,128",
    "lowrank:16,64",
    "lowrank_learned:16",
    "recurrent:16",
    "recurrent:16@4",
    "recurrent_svd:16",
    "extract:32",
    "extract_lead:32",
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
    "extract",
    "extract_lead",
)
VECTORS = ("lowrank", "lowrank_learned", "recurrent", "recurrent_svd", "embed")
"""The strategies that send vectors, and so take @BITS."""

AnyStrategy = Strategy | Recurrent | _Text | LowRank | Extract | Hybrid


def _one(name: str, v: int, seed: int, bits: int) -> AnyStrategy:
    if name.startswith("lowrank"):
        return LowRank(v, seed=seed, learned=name == "lowrank_learned", bits=bits)
    if name.startswith("recurrent"):
        return RecurrentLowRank(v, seed=seed, learned=name == "recurrent", bits=bits)
    if name == "embed":
        return Embed(v, bits=bits)
    if name.startswith("extract"):
        return Extract(v, lead=name == "extract_lead")
    return Truncate(v, tail=name == "truncate_tail")


def _bits(spec: str, name: str, params: str) -> tuple[str, int]:
    """`params` without its @BITS, and the bits (16 without)."""
    params, at, bits = params.partition("@")
    if not at:
        return params, 16
    if name not in VECTORS:
        raise OptionError(
            f"{spec}: only vector strategies take @BITS", hint=f"{', '.join(VECTORS)}"
        )
    if bits not in {str(b) for b in BITS}:
        raise OptionError(f"{spec}: @BITS is 1, 2, 4, 8 or 16", hint=f"for example {name}:16@4")
    return params, int(bits)


def parse_strategies(specs: Sequence[str], *, seed: int = 0) -> list[AnyStrategy]:
    """`full`, `last_turn`, `truncate_head:32,64`, `truncate_tail:K`, `extract:K`,
    `extract_lead:K`, `lowrank:R[,R...]`, `lowrank_learned:R`, `recurrent:R`,
    `recurrent_svd:R`, `embed[:R]` (a vector strategy takes @BITS: `recurrent:16@4`), `A+B`
    (both sent), or `module:Class` for your own."""
    out: list[AnyStrategy] = []
    for spec in specs:
        if "+" in spec:
            parts = [parse_strategies([p], seed=seed) for p in spec.split("+")]
            if any(len(p) != 1 for p in parts):
                raise OptionError(
                    f"{spec}: each part of a hybrid is one strategy (no sweeps)",
                    hint="for example recurrent:16@4+extract:32",
                )
            out.append(Hybrid([p[0] for p in parts]))
            continue
        name, _, params = spec.partition(":")
        if "@" in name:  # full@4
            name, _, width = name.partition("@")
            params = f"{params}@{width}"
        params, bits = _bits(spec, name, params) if name in BUILT_IN else (params, 16)
        if name in ("full", "last_turn"):
            out.append(Full() if name == "full" else LastTurn())
        elif name == "embed" and not params:
            out.append(Embed(bits=bits))
        elif name in BUILT_IN:
            try:
                values = [int(v) for v in params.split(",") if v.strip()]
            except ValueError as e:
                raise OptionError(
                    f"{spec}: {name} takes whole numbers, e.g. {name}:64",
                    hint=f"for example --strategy {name}:64",
                ) from e
            if not values:
                raise OptionError(
                    f"{spec}: say how much, e.g. {name}:64", hint=f"--strategy {name}:64"
                )
            out.extend(_one(name, v, seed, bits) for v in values)
        elif params:
            out.append(load(name, params))
        else:
            raise OptionError(
                f"unknown strategy: {spec!r}",
                hint=f"built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out
