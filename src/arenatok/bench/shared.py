"""What the strategies share, made once per run (`Shared`), and what a strategy sends for
every side at once (`Batch`). What one family of strategies alone computes is in its module
of `bench.strategies`."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from scipy import sparse

from arenatok.bench import represent as rep
from arenatok.bench.corpus import Corpus, spans
from arenatok.bench.protocol import SEPARATOR

T = TypeVar("T")


@dataclass
class Batch:
    """What every side sent (side A of battle i is row i, its side B row n + i): token bags
    (text) or vectors, with the cost per side and cumulative by turn (flat, side by side,
    turn by turn)."""

    tokens: np.ndarray
    bytes: np.ndarray
    by_turn_tokens: np.ndarray
    by_turn_bytes: np.ndarray
    bags: Any = None
    vectors: np.ndarray | None = None
    parts: list[Batch] | None = None
    """A hybrid's batches, one a strategy it combines."""

    @classmethod
    def combined(cls, parts: list[Batch]) -> Batch:
        """What a side sends when it sends every part: the costs added up."""
        return cls(
            tokens=sum((p.tokens for p in parts), np.zeros_like(parts[0].tokens)),
            bytes=sum((p.bytes for p in parts), np.zeros_like(parts[0].bytes)),
            by_turn_tokens=sum(
                (p.by_turn_tokens for p in parts), np.zeros_like(parts[0].by_turn_tokens)
            ),
            by_turn_bytes=sum(
                (p.by_turn_bytes for p in parts), np.zeros_like(parts[0].by_turn_bytes)
            ),
            parts=parts,
        )


def grouped_cumsum(x: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Cumulative sums of x restarting at every group (consecutive groups of `sizes` >= 1)."""
    total = np.cumsum(x)
    starts = np.cumsum(sizes) - sizes
    out: np.ndarray = total - np.repeat(total[starts] - x[starts], sizes)
    return out


class Shared:
    """The corpus, the split, and the representations the strategies share (each made on
    first use): the sides' messages, the token byte lengths, the vocabulary, the messages'
    TF-IDF, the SVD bases and the learned maps; and what the strategies of one family share
    (`once`). What a strategy sends depends on the data, the split, the seed and the strategy
    only, never on which other strategies run: what is shared is made by one rule for all of
    them."""

    def __init__(
        self, corpus: Corpus, train: np.ndarray, learn: np.ndarray, votes: np.ndarray, seed: int
    ) -> None:
        self.c, self.train, self.learn, self.votes, self.seed = corpus, train, learn, votes, seed
        self.n = len(corpus)
        self._made: dict[Hashable, Any] = {}

    @cached_property
    def sides(self) -> tuple[np.ndarray, np.ndarray]:
        """(side, message) of every message each side sends, in order (pairs: user, answer)."""
        return rep.side_messages(self.c)

    @cached_property
    def turns_per_side(self) -> np.ndarray:
        return np.concatenate([self.c.turns, self.c.turns]).astype(np.int64)

    @cached_property
    def token_bytes(self) -> np.ndarray:
        """The UTF-8 length of every cl100k_base token."""
        return np.array([len(b) for b in rep.token_strings()], dtype=np.float64)

    @cached_property
    def last_turns(self) -> np.ndarray:
        """Per side: the number of its last (side, turn) row."""
        out: np.ndarray = np.cumsum(self.turns_per_side) - 1
        return out

    @cached_property
    def train_sides(self) -> np.ndarray:
        return np.concatenate([self.train, self.train + self.n])

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        """What `make` returns, made on the first call with `key` and kept for the run: what
        the strategies of one family share (one rule, whichever of them run)."""
        if key not in self._made:
            self._made[key] = make()
        made: T = self._made[key]
        return made

    def bags(
        self, side: np.ndarray, starts: np.ndarray, keep: np.ndarray
    ) -> tuple[Any, np.ndarray]:
        """Per side: the bag over the vocabulary of the spans of token ids (`starts`, `keep`
        ids) of its rows of `side`; and the UTF-8 bytes of each span."""
        return rep.span_bags(self.c.ids, side, starts, keep, self.lookup, self.token_bytes)

    def joined(self, keep: np.ndarray, size: np.ndarray, bags: Any) -> Batch:
        """Costs of sending, by turn t, the text of the first t turns: `keep` tokens and `size`
        bytes a message (in the order of `sides`), 2t messages and 2t - 1 separators."""
        by_tokens = grouped_cumsum(keep[0::2] + keep[1::2], self.turns_per_side)
        pair_bytes = size[0::2] + size[1::2] + 2 * len(SEPARATOR)
        by_bytes = grouped_cumsum(pair_bytes, self.turns_per_side) - len(SEPARATOR)
        return self.batch(by_tokens, by_bytes, bags)

    def batch(
        self,
        by_tokens: np.ndarray,
        by_bytes: np.ndarray,
        bags: Any = None,
        vectors: np.ndarray | None = None,
    ) -> Batch:
        """What each side sent by its last turn, from the costs by (side, turn)."""
        return Batch(
            tokens=by_tokens[self.last_turns],
            bytes=by_bytes[self.last_turns],
            by_turn_tokens=by_tokens,
            by_turn_bytes=by_bytes,
            bags=bags,
            vectors=vectors,
        )

    @cached_property
    def lookup(self) -> np.ndarray:
        """Every id's feature number (-1: not in the vocabulary, chosen once on `full`'s
        training sides for every strategy)."""
        side, message = self.sides
        starts, keep = rep.kept(self.c, message, None, False)
        train = np.zeros(2 * self.n, dtype=bool)
        train[self.train_sides] = True
        return rep.choose_vocabulary(self.c.ids, side, starts, keep, train)

    @cached_property
    def message_tfidf(self) -> Any:
        """Every message's TF-IDF over the vocabulary (idf from the training messages)."""
        lengths = self.c.lengths
        bags, _ = self.bags(np.arange(len(lengths)), self.c.starts, lengths)
        return rep.tfidf(bags, self.train_messages)

    @cached_property
    def train_messages(self) -> np.ndarray:
        first = self.c.first_message[self.train]
        return spans(first, 3 * self.c.turns[self.train].astype(np.int64))

    def basis(self, rank: int) -> np.ndarray:
        """The SVD basis of the training messages' TF-IDF that a rank-`rank` strategy uses
        (vocabulary x max(BASIS, rank)): one basis for every rank up to BASIS."""
        size = max(rep.BASIS, rank)

        def fit() -> np.ndarray:
            sample = self.message_tfidf[rep.basis_sample(self.train_messages, self.seed)]
            return rep.fit_basis(sample, size, self.seed)

        return self.once(("basis", size), fit)

    def projection(self, rank: int, *, learned: bool) -> np.ndarray:
        """Every message as `rank` numbers (messages x rank): its TF-IDF times the basis's
        first `rank` directions, or times the map learned from the votes."""
        if not learned:
            return np.asarray(self.message_tfidf @ self.basis(rank)[:, :rank])
        learned_map = self.once(("learned", rank), lambda: self._learn(rank))
        return np.asarray(self.message_tfidf @ learned_map)

    def _learn(self, rank: int) -> np.ndarray:
        """A supervised rank-R map: partial least squares between the two sides' difference
        (summed messages, in the basis) and the vote, on the decisive training battles; the R
        directions that covary most with who won, as vocabulary x R."""
        from sklearn.cross_decomposition import PLSRegression

        side, message = self.sides
        n = self.n
        sign = np.where(side < n, 1.0, -1.0).astype(np.float32)
        battle = side % n
        pick = np.isin(battle, self.learn)
        row = np.searchsorted(self.learn, battle[pick])
        diff = sparse.csr_matrix(
            (sign[pick], (row, message[pick])), shape=(len(self.learn), self.c.lengths.size)
        )
        basis = self.basis(rank)
        x = (diff @ self.message_tfidf) @ basis
        k = max(1, min(rank, x.shape[1], len(self.learn) - 1))
        pls = PLSRegression(n_components=k, scale=False).fit(x, 2.0 * self.votes - 1.0)
        return np.ascontiguousarray(basis @ pls.x_rotations_, dtype=np.float32)

    def per_turn(self, projected: np.ndarray) -> np.ndarray:
        """Per side and turn: the projection of the user message plus that of the answer."""
        _, message = self.sides
        out: np.ndarray = projected[message[0::2]] + projected[message[1::2]]
        return out

    def vector_costs(self, unit_bytes: np.ndarray, vectors: np.ndarray) -> Batch:
        """`unit_bytes` sent per side and turn (cumulative)."""
        by_turn = grouped_cumsum(unit_bytes, self.turns_per_side)
        return self.batch(np.zeros_like(by_turn), by_turn, vectors=vectors)
