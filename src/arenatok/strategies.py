"""Compression strategies for `arenatok bench`: what one side of a battle sends instead of its
full messages, and what that costs.

A strategy maps one side's messages (the shared user messages and that side's answers) to what
is communicated: text, or a vector. Users plug their own in with `module:Class`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from arenatok.errors import MissingExtraError, OptionError
from arenatok.tokens import get_encoding

if TYPE_CHECKING:  # numpy is imported where used: the command line starts without it
    import numpy as np


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


def _messages(side: Side) -> list[str]:
    """A side's messages in order: user message 1, answer 1, user message 2, ..."""
    return [m for pair in zip(side.users, side.answers, strict=True) for m in pair]


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
        return _text_sent(_messages(side))


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
        for message in _messages(side):
            ids = enc.encode_ordinary(message)
            kept = ids[-self.k :] if self.tail else ids[: self.k]
            kept_tokens += len(kept)
            parts.append(enc.decode(kept))
        text = "\n\n".join(parts)
        return Sent(text=text, tokens=kept_tokens, bytes=len(text.encode("utf-8")))


class _Cached:
    """A text -> vector map that computes what it has not seen in one batch, and remembers."""

    def __init__(self) -> None:
        self.cache: dict[str, np.ndarray] = {}

    def batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.cache.update(zip(missing, self.batch(missing), strict=True))
        return np.vstack([self.cache[t] for t in texts])


class _Svd(_Cached):
    """TF-IDF then truncated SVD, fitted on the training split's messages: text -> k numbers."""

    def __init__(self, texts: Sequence[str], k: int, seed: int) -> None:
        import numpy as np
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        super().__init__()
        self.vectorizer = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
        x = self.vectorizer.fit_transform(texts)
        k = max(1, min(k, x.shape[1] - 1, x.shape[0] - 1))
        svd = TruncatedSVD(n_components=k, random_state=seed).fit(x)
        self.components = np.ascontiguousarray(svd.components_.T, dtype=np.float32)

    def batch(self, texts: list[str]) -> np.ndarray:
        out: np.ndarray = self.vectorizer.transform(texts) @ self.components
        return out


class _Learned(_Cached):
    """A supervised rank-R map, fitted on the training split's votes: the texts' SVD basis
    (256 numbers), then partial least squares between the two sides' difference and the vote,
    which keeps the R directions that covary most with who won."""

    BASIS = 256

    def __init__(
        self,
        sides_a: Sequence[Side],
        sides_b: Sequence[Side],
        votes: np.ndarray,
        rank: int,
        seed: int,
        unit: Callable[[Side], list[str]],
    ) -> None:
        import numpy as np
        from sklearn.cross_decomposition import PLSRegression

        super().__init__()
        texts = [t for s in (*sides_a, *sides_b) for t in unit(s)]
        self.basis = _Svd(texts, self.BASIS, seed)
        self.basis(texts)  # every training text in one batch
        diff = np.vstack(
            [
                self.basis(unit(a)).sum(axis=0) - self.basis(unit(b)).sum(axis=0)
                for a, b in zip(sides_a, sides_b, strict=True)
            ]
        )
        self.basis.cache.clear()
        k = max(1, min(rank, diff.shape[1], len(votes) - 1))
        self.pls = PLSRegression(n_components=k, scale=False).fit(diff, 2.0 * votes - 1.0)

    def batch(self, texts: list[str]) -> np.ndarray:
        """texts -> rank numbers each (the PLS x-rotations applied to their SVD basis)."""
        out: np.ndarray = self.basis.batch(texts) @ self.pls.x_rotations_
        return out


def _float16_bytes(numbers: int) -> int:
    return 2 * numbers


class _Projected:
    """What the low-rank strategies share: a map P from a unit of text (a message, or a turn)
    to R numbers, fitted on the training split: TF-IDF + SVD, or learned from the votes."""

    unit: Callable[[Side], list[str]]

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = False) -> None:
        self.rank, self.seed, self.learned = rank, seed, learned
        self.name = self._name()
        if rank < 1:
            raise OptionError(f"{self.name}: the rank must be positive")

    def _name(self) -> str:
        raise NotImplementedError

    def fit(self, sides: Sequence[Side]) -> None:
        self.project: Callable[[Sequence[str]], np.ndarray] = _Svd(
            [t for s in sides for t in self.unit(s)], self.rank, self.seed
        )

    def fit_pairs(
        self, sides_a: Sequence[Side], sides_b: Sequence[Side], votes: np.ndarray
    ) -> None:
        """Called instead of `fit`, with the votes (1 = A won)."""
        if self.learned:
            self.project = _Learned(sides_a, sides_b, votes, self.rank, self.seed, self.unit)
        else:
            self.fit([*sides_a, *sides_b])

    def prepare(self, sides: Sequence[Side]) -> None:
        """Map every unit of `sides` in one batch (what `send` or `step` will ask for)."""
        self.project([t for s in sides for t in self.unit(s)])


class LowRank(_Projected):
    """Each message as a rank-R vector: TF-IDF fitted on the training split, then truncated
    SVD (`lowrank`), or a supervised map fitted on the training split's votes
    (`lowrank_learned`, see `_Learned`); a side sends one vector per message, summed. Cost: R
    numbers per message, counted as float16 bytes."""

    unit = staticmethod(_messages)

    def _name(self) -> str:
        return f"lowrank{'_learned' if self.learned else ''}:{self.rank}"

    def send(self, side: Side) -> Sent:
        messages = _messages(side)
        vectors = self.project(messages)
        return Sent(vector=vectors.sum(axis=0), bytes=_float16_bytes(self.rank * len(messages)))


@runtime_checkable
class Recurrent(Protocol):
    """A strategy with a state carried across turns: `start()` gives the state before turn 1;
    `step(state, user, answer)` gets the previous state and turn t's messages and returns the
    new state and what the side sends at turn t (a `Sent`). What the predictor sees is the last
    turn's `Sent`; the cost is the sum over turns. `fit` (or `fit_pairs`) as for any strategy."""

    name: str

    def fit(self, sides: Sequence[Side]) -> None: ...

    def start(self) -> Any: ...

    def step(self, state: Any, user: str, answer: str) -> tuple[Any, Sent]: ...


def _turn_text(user: str, answer: str) -> str:
    """One turn as the recurrent strategies map it: the user message, a blank line, the
    answer."""
    return f"{user}\n\n{answer}"


def _turns(side: Side) -> list[str]:
    return [_turn_text(u, a) for u, a in zip(side.users, side.answers, strict=True)]


class RecurrentLowRank(_Projected):
    """A rank-R state carried across turns: s_t = tanh(s_(t-1) + P(turn t)), where P maps the
    turn's text (user message and answer) to R numbers: learned from the training split's
    votes (`recurrent`, see `_Learned`) or TF-IDF + SVD (`recurrent_svd`). A side sends its R
    numbers per turn (float16) instead of resending the history; the last state is what the
    other end sees."""

    unit = staticmethod(_turns)

    def __init__(self, rank: int, *, seed: int = 0, learned: bool = True) -> None:
        super().__init__(rank, seed=seed, learned=learned)

    def _name(self) -> str:
        return f"recurrent{'' if self.learned else '_svd'}:{self.rank}"

    def start(self) -> np.ndarray:
        import numpy as np

        return np.zeros(self.rank)

    def step(self, state: np.ndarray, user: str, answer: str) -> tuple[np.ndarray, Sent]:
        import numpy as np

        x = self.project([_turn_text(user, answer)])[0]
        new = np.tanh(state[: len(x)] + x)
        return new, Sent(vector=new, bytes=_float16_bytes(self.rank))


class Embed(LowRank):
    """Each message as a WordLlama static embedding (256 numbers, or the first R: its
    Matryoshka dimensions), summed per side; no network (the weights ship in the wheel). Cost:
    R float16 numbers per message. Needs the `embed` extra."""

    DIM = 256

    def __init__(self, rank: int | None = None) -> None:
        if rank is not None and not 1 <= rank <= self.DIM:
            raise OptionError(f"embed takes 1 to {self.DIM} dimensions, got {rank}")
        self.given = rank
        super().__init__(rank or self.DIM)
        if importlib.util.find_spec("wordllama") is None:
            raise MissingExtraError("the embed strategies", "embed", "wordllama")

    def _name(self) -> str:
        return "embed" if self.given is None else f"embed:{self.given}"

    def fit(self, sides: Sequence[Side]) -> None:
        # Loaded here, not in __init__: worker processes load their own.
        self.project = _Embedded(load_wordllama(self.rank))


class _Embedded(_Cached):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        return np.asarray(self.model.embed(texts), dtype=np.float32)


def load_wordllama(dim: int) -> Any:
    """WordLlama, loaded from the files in its wheel (its default `load()` looks for the
    tokenizer in the wrong folder and goes to the network)."""
    try:
        import wordllama
    except ImportError:
        raise MissingExtraError("the embed strategies", "embed", "wordllama") from None
    from pathlib import Path

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


def _one(name: str, v: int, seed: int) -> Strategy | Recurrent:
    if name.startswith("lowrank"):
        return LowRank(v, seed=seed, learned=name == "lowrank_learned")
    if name.startswith("recurrent"):
        return RecurrentLowRank(v, seed=seed, learned=name == "recurrent")
    if name == "embed":
        return Embed(v)
    return Truncate(v, tail=name == "truncate_tail")


def parse_strategies(specs: Sequence[str], *, seed: int = 0) -> list[Strategy | Recurrent]:
    """`full`, `last_turn`, `truncate_head:32,64`, `truncate_tail:K`, `lowrank:R[,R...]`,
    `lowrank_learned:R`, `recurrent:R`, `recurrent_svd:R`, `embed[:R]`, or `module:Class` for
    your own."""
    out: list[Strategy | Recurrent] = []
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
                raise OptionError(f"{spec}: {name} takes whole numbers, e.g. {name}:64") from None
            if not values:
                raise OptionError(f"{spec}: say how much, e.g. {name}:64")
            out.extend(_one(name, v, seed) for v in values)
        elif params:
            out.append(_user_strategy(name, params))
        else:
            raise OptionError(
                f"unknown strategy: {spec!r}",
                hint=f"built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out


def _user_strategy(module: str, attr: str) -> Strategy | Recurrent:
    try:
        cls = getattr(importlib.import_module(module), attr)
        strategy = cls()
    except (ImportError, AttributeError, TypeError) as e:
        raise OptionError(
            f"cannot load strategy {module}:{attr} ({type(e).__name__}: {e})",
            hint="the module must be importable (on PYTHONPATH) and the class made without "
            "arguments",
        ) from None
    if not isinstance(strategy, Strategy | Recurrent):
        raise OptionError(
            f"{module}:{attr} is not a strategy: it needs name, fit and send (or start and "
            "step, for a recurrent one)"
        )
    return strategy


def _checked(strategy: Any, sent: object) -> Sent:
    """`sent`, with a clear error when a strategy broke the protocol."""
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
