"""The text strategies: every message (`full`, the baseline), the last turn's (`last_turn`), or
the first or last K tokens of each (`truncate_head`, `truncate_tail`). Each also answers the
per-side protocol (`send`), with the same costs, for use one side at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from arenatok.bench.protocol import SEPARATOR, Sent, Side, messages
from arenatok.bench.strategies.base import Family, Name, positive
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


def send_text(shared: Shared, *, k: int | None, tail: bool, last_turn: bool) -> Batch:
    """What every side sends: all, or the first/last k tokens, of each message (of every turn,
    or of the last: whole messages); its bags over the vocabulary; cost: the tokens and their
    bytes, with 2-byte separators between messages."""
    import numpy as np

    from arenatok.bench import represent as rep

    side, message = shared.sides
    starts, keep = rep.kept(shared.c, message, k, tail)
    if last_turn:
        last = shared.last_turns
        pairs = np.column_stack([2 * last, 2 * last + 1]).ravel()
        bags, _ = shared.bags(side[pairs], starts[pairs], keep[pairs])
        size = shared.c.sizes[message]
        # what it sends for the first t turns: turn t
        by_tokens = keep[0::2] + keep[1::2]
        by_bytes = size[0::2] + size[1::2] + len(SEPARATOR)
        return shared.batch(by_tokens, by_bytes, bags)
    bags, size = shared.bags(side, starts, keep)
    return shared.joined(keep, shared.c.sizes[message] if k is None else size, bags)


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
        return send_text(shared, k=self.k, tail=self.tail, last_turn=self.last_turn)


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
        positive(k, f"truncation needs a positive number of tokens, got {k}", "truncate_tail:64")
        self.k, self.tail = k, tail
        self.name = f"truncate_{'tail' if tail else 'head'}:{k}"


def _make(name: str, k: int | None, bits: int) -> _Text:
    if name == "full":
        return Full()
    if name == "last_turn":
        return LastTurn()
    assert k is not None  # the registry asks for the number that the name takes
    return Truncate(k, tail=name == "truncate_tail")


FAMILY = Family(
    names=(
        Name("full"),
        Name("last_turn"),
        Name("truncate_head", "K"),
        Name("truncate_tail", "K"),
    ),
    rows=(
        (
            "`full`",
            "every user message and answer",
            "their tokens, and their UTF-8 bytes with a 2-byte separator between messages",
        ),
        ("`last_turn`", "the last turn's user message and answer", "the same"),
        (
            "`truncate_head:K`, `truncate_tail:K`",
            "the first / last K tokens (cl100k_base) of each message",
            "the kept tokens and their bytes (a cut inside a character costs the bytes of the "
            "tokens kept)",
        ),
    ),
    make=_make,
    order=0,
    defaults=("full", "last_turn", "truncate_head:32,128", "truncate_tail:32,128"),
)
