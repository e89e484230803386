"""Compression strategies for `arenatok bench`: what one side of a battle sends instead of its
full messages, and what that costs.

A strategy maps one side's messages (the shared user messages and that side's answers) to what
is communicated: text, or a vector. Users plug their own in with `module:Class`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from arenatok.errors import OptionError
from arenatok.tokens import get_encoding


@dataclass(frozen=True)
class Side:
    """One side of a battle: the user messages and this side's answers, turn by turn."""

    users: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass
class Sent:
    """What one side communicated: text, or a vector; and what it cost."""

    text: str | None = None
    vector: np.ndarray | None = None
    tokens: int = 0
    bytes: int = 0


@runtime_checkable
class Strategy(Protocol):
    """Plug your own in with `--strategy my_module:MyStrategy` (a class made without
    arguments). `fit` sees the training split's sides (and may ignore them)."""

    name: str

    def fit(self, sides: Sequence[Side]) -> None: ...

    def send(self, side: Side) -> Sent: ...


def _tokens(text: str) -> list[int]:
    return get_encoding("cl100k_base").encode_ordinary(text)


def _text_sent(parts: Sequence[str]) -> Sent:
    text = "\n\n".join(parts)
    return Sent(
        text=text, tokens=sum(len(_tokens(p)) for p in parts), bytes=len(text.encode("utf-8"))
    )


class Full:
    """Everything: every user message and answer (the baseline)."""

    name = "full"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        return _text_sent([m for pair in zip(side.users, side.answers, strict=True) for m in pair])


class LastTurn:
    """Only the last turn: its user message and answer."""

    name = "last_turn"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        return _text_sent([side.users[-1], side.answers[-1]])


class Truncate:
    """The first (head) or last (tail) K tokens (cl100k_base) of each message."""

    def __init__(self, k: int, *, tail: bool = False) -> None:
        if k < 1:
            raise OptionError(f"truncation needs a positive number of tokens, got {k}")
        self.k, self.tail = k, tail
        self.name = f"truncate_{'tail' if tail else 'head'}:{k}"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        enc = get_encoding("cl100k_base")
        kept_tokens = 0
        parts = []
        for message in (m for pair in zip(side.users, side.answers, strict=True) for m in pair):
            ids = enc.encode_ordinary(message)
            kept = ids[-self.k :] if self.tail else ids[: self.k]
            kept_tokens += len(kept)
            parts.append(enc.decode(kept))
        text = "\n\n".join(parts)
        return Sent(text=text, tokens=kept_tokens, bytes=len(text.encode("utf-8")))


class LowRank:
    """Each message as a rank-R vector: TF-IDF fitted on the training split, then truncated
    SVD; a side sends one vector per message, summed. Cost: R numbers per message, counted as
    float16 bytes."""

    def __init__(self, rank: int, *, seed: int = 0) -> None:
        if rank < 1:
            raise OptionError(f"lowrank needs a positive rank, got {rank}")
        self.rank, self.seed = rank, seed
        self.name = f"lowrank:{rank}"

    def fit(self, sides: Sequence[Side]) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [m for s in sides for m in (*s.users, *s.answers)]
        self.vectorizer = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
        x = self.vectorizer.fit_transform(texts)
        rank = min(self.rank, x.shape[1] - 1, x.shape[0] - 1)
        self.svd = TruncatedSVD(n_components=max(1, rank), random_state=self.seed).fit(x)

    def send(self, side: Side) -> Sent:
        messages = [m for pair in zip(side.users, side.answers, strict=True) for m in pair]
        vectors = self.svd.transform(self.vectorizer.transform(messages))
        return Sent(vector=vectors.sum(axis=0), bytes=2 * self.rank * len(messages))


DEFAULT_STRATEGIES = (
    "full",
    "last_turn",
    "truncate_head:32,128",
    "truncate_tail:32,128",
    "lowrank:16,64",
)
"""What `arenatok bench` runs when no --strategy is given."""

BUILT_IN = ("full", "last_turn", "truncate_head", "truncate_tail", "lowrank")


def parse_strategies(specs: Sequence[str], *, seed: int = 0) -> list[Strategy]:
    """`full`, `last_turn`, `truncate_head:32,64`, `truncate_tail:K`, `lowrank:R[,R...]`, or
    `module:Class` for your own."""
    out: list[Strategy] = []
    for spec in specs:
        name, _, params = spec.partition(":")
        if name in ("full", "last_turn"):
            out.append(Full() if name == "full" else LastTurn())
        elif name in BUILT_IN:
            try:
                values = [int(v) for v in params.split(",") if v.strip()]
            except ValueError:
                raise OptionError(f"{spec}: {name} takes whole numbers, e.g. {name}:64") from None
            if not values:
                raise OptionError(f"{spec}: say how much, e.g. {name}:64")
            for v in values:
                if name == "lowrank":
                    out.append(LowRank(v, seed=seed))
                else:
                    out.append(Truncate(v, tail=name == "truncate_tail"))
        elif params:
            out.append(_user_strategy(name, params))
        else:
            raise OptionError(
                f"unknown strategy: {spec!r}",
                hint=f"built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out


def _user_strategy(module: str, attr: str) -> Strategy:
    try:
        cls = getattr(importlib.import_module(module), attr)
        strategy = cls()
    except (ImportError, AttributeError, TypeError) as e:
        raise OptionError(
            f"cannot load strategy {module}:{attr} ({type(e).__name__}: {e})",
            hint="the module must be importable (on PYTHONPATH) and the class made without "
            "arguments",
        ) from None
    if not isinstance(strategy, Strategy):
        raise OptionError(f"{module}:{attr} is not a strategy: it needs name, fit and send")
    return strategy


def checked_send(strategy: Strategy, side: Side) -> Sent:
    """`strategy.send(side)`, with a clear error when a strategy breaks the protocol."""
    sent = strategy.send(side)
    if not isinstance(sent, Sent):
        raise OptionError(
            f"strategy {strategy.name!r} broke the protocol: send() returned "
            f"{type(sent).__name__}, not Sent",
            hint="return arenatok.strategies.Sent(text=..., tokens=..., bytes=...) or "
            "Sent(vector=..., bytes=...)",
        )
    if (sent.text is None) == (sent.vector is None):
        raise OptionError(
            f"strategy {strategy.name!r} broke the protocol: send() must set exactly one of "
            "text and vector",
        )
    if sent.text is not None and not isinstance(sent.text, str):
        raise OptionError(
            f"strategy {strategy.name!r} broke the protocol: Sent.text is "
            f"{type(sent.text).__name__}, not str"
        )
    return sent
