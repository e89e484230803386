"""The strategy protocol: what one side of a battle sends, and what it costs.

A side (`Side`) is the battle's user messages and that side's answers, turn by turn. A strategy
maps it to what is communicated (`Sent`): text, or a vector; with its cost in tokens and bytes.

Your own strategy (plugged in with `--strategy module:Class`, made without arguments) has:

- `name`, and `fit(sides)`: it sees the training split's sides (and may ignore them); or
  `fit_pairs(sides_a, sides_b, votes)` instead, to learn from the decisive training votes
  (1 where A won, 0 where B did);
- `send(side) -> Sent`; or, for a state carried across turns (`Recurrent`), `start()` (the
  state before turn 1) and `step(state, user, answer) -> (new_state, Sent)`: what the side
  sends at turn t. The predictor sees the last turn's `Sent`; the cost is summed over turns;
- optionally `prepare(sides)`: sees every side before `send` or `step` (for batch work).

Text is read by the predictor as the bag of its cl100k_base tokens; a vector as it is. The
built-in strategies (`arenatok.bench.strategies`) do the same work on whole batches of sides at
once (`send_many`).
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from arenatok.errors import OptionError

if TYPE_CHECKING:  # numpy is imported where used: the command line starts without it
    import numpy as np

SEPARATOR = "\n\n"
"""Between the messages of a text that a side sends (2 bytes)."""


@dataclass(frozen=True)
class Side:
    """One side of a battle: the user messages and this side's answers, turn by turn."""

    users: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass
class Sent:
    """What one side communicated: text, or a vector; and what it cost. `bits`: the width a
    vector's numbers were sent at (16: float16), for the record: the vector is what the
    receiver decoded, and `bytes` what was sent."""

    text: str | None = None
    vector: np.ndarray | None = None
    tokens: int = 0
    bytes: int = 0
    bits: int = 16


def messages(side: Side) -> list[str]:
    """A side's messages in order: user message 1, answer 1, user message 2, ..."""
    return [m for pair in zip(side.users, side.answers, strict=True) for m in pair]


BITS = (1, 2, 4, 8, 16)
"""Widths a vector can be sent at, bits a number (16: float16, the default)."""


def bits_suffix(bits: int) -> str:
    """How a strategy's name says the width its numbers are sent at: "@4"; nothing for 16."""
    return "" if bits == 16 else f"@{bits}"


@runtime_checkable
class Strategy(Protocol):
    """A strategy without state: `fit` on the training split's sides, then `send` per side."""

    name: str

    def fit(self, sides: Sequence[Side]) -> None: ...

    def send(self, side: Side) -> Sent: ...


@runtime_checkable
class Recurrent(Protocol):
    """A strategy with a state carried across turns: `start()` gives the state before turn 1;
    `step(state, user, answer)` gets the previous state and turn t's messages and returns the
    new state and what the side sends at turn t."""

    name: str

    def fit(self, sides: Sequence[Side]) -> None: ...

    def start(self) -> Any: ...

    def step(self, state: Any, user: str, answer: str) -> tuple[Any, Sent]: ...


@contextmanager
def user_code(who: str, what: str) -> Iterator[None]:
    """Runs a strategy's own code: whatever it raises (SystemExit too) becomes one OptionError
    that names the strategy and the call; Ctrl-C and SIGTERM pass."""
    try:
        yield
    except (OptionError, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise OptionError(
            f"strategy {who}: {what} raised {type(e).__name__}: {str(e)[:200]}",
            hint="fix the strategy (run it on a few sides in Python first), or leave it out",
        ) from e


def load(module: str, attr: str) -> Strategy | Recurrent:
    """Your strategy `module:attr`, made without arguments, checked to be one."""
    who = f"{module}:{attr}"
    try:
        with user_code(who, "import"):
            cls = getattr(importlib.import_module(module), attr)
    except OptionError as e:
        raise OptionError(
            f"cannot load strategy {who} ({str(e.__cause__)[:200] or type(e.__cause__).__name__})",
            hint="the module must be importable (on PYTHONPATH) and define the class",
        ) from e
    with user_code(who, "making it without arguments"):
        strategy = cls()
    if not isinstance(strategy, Strategy | Recurrent):
        raise OptionError(
            f"{who} is not a strategy: it needs name, fit and send (or start and step, for a "
            "recurrent one)",
            hint="see the README, bench: your own strategy",
        )
    name = strategy.name
    if not isinstance(name, str) or not name.strip():
        raise OptionError(
            f"strategy {who}: its name is {name!r}, not a text", hint='set name = "my_strategy"'
        )
    return strategy


SENT_HINT = (
    "return arenatok.bench.strategies.Sent(text=..., tokens=..., bytes=...) or "
    "Sent(vector=..., bytes=...)"
)


def _broke(name: object, what: str, hint: str = SENT_HINT) -> OptionError:
    return OptionError(f"strategy {name!r} broke the protocol: {what}", hint=hint)


def _checked(strategy: Any, sent: object) -> Sent:
    """`sent`, with a clear error when a strategy broke the protocol."""
    name = strategy.name
    if not isinstance(sent, Sent):
        raise _broke(name, f"send() returned {type(sent).__name__}, not Sent")
    if (sent.text is None) == (sent.vector is None):
        raise _broke(name, "send() must set exactly one of text and vector")
    if sent.text is not None and not isinstance(sent.text, str):
        raise _broke(name, f"Sent.text is {type(sent.text).__name__}, not str")
    for field in ("tokens", "bytes"):
        n = getattr(sent, field)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or int(n) < 0:
            raise _broke(name, f"Sent.{field} is {n!r}, not a whole number, 0 or more")
    if sent.bits not in BITS:
        raise _broke(name, f"Sent.bits is {sent.bits!r}, not one of {', '.join(map(str, BITS))}")
    if sent.vector is not None:
        _check_vector(name, sent.vector)
    return sent


def _check_vector(name: str, vector: object) -> None:
    """A vector must be one row of finite numbers."""
    import numpy as np

    try:
        v = np.asarray(vector, dtype=float)
    except (TypeError, ValueError):
        v = None
    if v is None or v.ndim != 1 or not v.size:
        shape = "not numbers" if v is None else f"of shape {v.shape}"
        raise _broke(name, f"Sent.vector is {shape}, not one row of numbers")
    if not np.isfinite(v).all():
        raise _broke(name, "Sent.vector holds NaN or infinity")


def checked_send(strategy: Strategy, side: Side) -> Sent:
    """`strategy.send(side)`, with a clear error when a strategy breaks the protocol."""
    return _checked(strategy, strategy.send(side))


def run_side(strategy: Strategy | Recurrent, side: Side) -> tuple[Sent, list[tuple[int, int]]]:
    """What one side sends under `strategy` (for a recurrent one: the last turn's `Sent`, its
    cost the sum over turns), and the cumulative (tokens, bytes) it has sent by each turn. For
    a strategy without state, "sent by turn t" is what it sends for the first t turns."""
    if isinstance(strategy, Recurrent):
        state = strategy.start()
        tokens = size = 0
        by_turn = []
        for user, answer in zip(side.users, side.answers, strict=True):
            state, sent = strategy.step(state, user, answer)
            sent = _checked(strategy, sent)
            tokens, size = tokens + sent.tokens, size + sent.bytes
            by_turn.append((tokens, size))
        return Sent(text=sent.text, vector=sent.vector, tokens=tokens, bytes=size), by_turn
    by_turn = [
        (s.tokens, s.bytes)
        for s in (
            checked_send(strategy, Side(side.users[:t], side.answers[:t]))
            for t in range(1, len(side.users))
        )
    ]
    final = checked_send(strategy, side)
    return final, [*by_turn, (final.tokens, final.bytes)]
