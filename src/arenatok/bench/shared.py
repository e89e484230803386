"""What the strategies share, made once per run (`Shared`), and what a strategy sends for
every side at once (`Batch`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import sparse

from arenatok.bench import compress
from arenatok.bench import represent as rep
from arenatok.bench.corpus import Corpus, spans, turn_numbers
from arenatok.bench.protocol import SEPARATOR


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
    TF-IDF, the SVD bases and the learned maps. What a strategy sends depends on the data, the
    split, the seed and the strategy only, never on which other strategies run: what is shared
    is made by one rule for all of them."""

    def __init__(
        self, corpus: Corpus, train: np.ndarray, learn: np.ndarray, votes: np.ndarray, seed: int
    ) -> None:
        self.c, self.train, self.learn, self.votes, self.seed = corpus, train, learn, votes, seed
        self.n = len(corpus)
        self._learned: dict[int, np.ndarray] = {}
        self._bases: dict[int, np.ndarray] = {}

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

    def text(self, *, k: int | None, tail: bool, last_turn: bool) -> Batch:
        """A text strategy: all, or the first/last k tokens, of each message (of every turn, or
        of the last: whole messages); its bags over the vocabulary; cost: the tokens and their
        bytes, with 2-byte separators between messages."""
        side, message = self.sides
        starts, keep = rep.kept(self.c, message, k, tail)
        ids, lookup, token_bytes = self.c.ids, self.lookup, self.token_bytes
        if last_turn:
            last = self.last_turns
            pairs = np.column_stack([2 * last, 2 * last + 1]).ravel()
            bags, _ = rep.span_bags(
                ids, side[pairs], starts[pairs], keep[pairs], lookup, token_bytes
            )
            size = self.c.sizes[message]
            # what it sends for the first t turns: turn t
            by_tokens = keep[0::2] + keep[1::2]
            by_bytes = size[0::2] + size[1::2] + len(SEPARATOR)
            return self._batch(by_tokens, by_bytes, bags)
        bags, size = rep.span_bags(ids, side, starts, keep, lookup, token_bytes)
        return self._joined(keep, self.c.sizes[message] if k is None else size, bags)

    def _joined(self, keep: np.ndarray, size: np.ndarray, bags: Any) -> Batch:
        """Costs of sending, by turn t, the text of the first t turns: `keep` tokens and `size`
        bytes a message (in the order of `sides`), 2t messages and 2t - 1 separators."""
        by_tokens = grouped_cumsum(keep[0::2] + keep[1::2], self.turns_per_side)
        pair_bytes = size[0::2] + size[1::2] + 2 * len(SEPARATOR)
        by_bytes = grouped_cumsum(pair_bytes, self.turns_per_side) - len(SEPARATOR)
        return self._batch(by_tokens, by_bytes, bags)

    def _batch(
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

    def extract(self, k: int, *, learned: bool) -> Batch:
        """Whole sentences of each message up to k tokens (see `strategies.Extract`): the
        heaviest first (`learned`) or the first ones, while they fit; sent in their order."""
        sentence = self.sentences
        order_key = -self.sentence_weight if learned else np.zeros(len(sentence.start))
        order = np.lexsort((sentence.start, order_key, sentence.message))
        total = grouped_cumsum(
            sentence.length[order], sentence.per_message[sentence.per_message > 0]
        )
        kept = np.sort(order[total <= k])  # in message order, then position
        n_messages = len(self.c.lengths)
        kept_tokens = np.bincount(sentence.message[kept], sentence.length[kept], n_messages)
        kept_bytes = np.bincount(sentence.message[kept], sentence.size[kept], n_messages)
        first = np.searchsorted(sentence.message[kept], np.arange(n_messages))
        count = np.bincount(sentence.message[kept], minlength=n_messages)
        side, message = self.sides
        pick = spans(first[message], count[message])  # every kept sentence of each pair
        bags, _ = rep.span_bags(
            self.c.ids,
            np.repeat(side, count[message]),
            sentence.start[kept][pick],
            sentence.length[kept][pick],
            self.lookup,
            self.token_bytes,
        )
        keep = kept_tokens[message].astype(np.int64)
        return self._joined(keep, kept_bytes[message].astype(np.int64), bags)

    @cached_property
    def sentences(self) -> compress.Sentences:
        return compress.sentences(self.c.ids, self.c.starts, self.c.lengths, self.token_bytes)

    @cached_property
    def sentence_weight(self) -> np.ndarray:
        """Per sentence: the mean |weight| of its tokens (0 outside the vocabulary) in a
        logistic regression of the decisive training votes on `full`'s TF-IDF differences
        (fitted here, whatever else runs)."""
        from arenatok.bench.classifier import fit

        x = rep.tfidf(self.text(k=None, tail=False, last_turn=False).bags, self.train_sides)
        w = fit(rep.differences(x, self.learn, self.n), self.votes, self.seed).coef_[0]
        weight = np.zeros(rep.N_IDS)
        known = self.lookup >= 0
        weight[known] = np.abs(w)[self.lookup[known]]
        sentence = self.sentences
        total = compress.span_sums(self.c.ids, sentence.start, sentence.length, weight)
        out: np.ndarray = total / np.maximum(sentence.length, 1)
        return out

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
        bags, _ = rep.span_bags(
            self.c.ids,
            np.arange(len(lengths)),
            self.c.starts,
            lengths,
            self.lookup,
            self.token_bytes,
        )
        return rep.tfidf(bags, self.train_messages)

    @cached_property
    def train_messages(self) -> np.ndarray:
        first = self.c.first_message[self.train]
        return spans(first, 3 * self.c.turns[self.train].astype(np.int64))

    def basis(self, rank: int) -> np.ndarray:
        """The SVD basis of the training messages' TF-IDF that a rank-`rank` strategy uses
        (vocabulary x max(BASIS, rank)): one basis for every rank up to BASIS."""
        size = max(rep.BASIS, rank)
        if size not in self._bases:
            sample = self.message_tfidf[rep.basis_sample(self.train_messages, self.seed)]
            self._bases[size] = rep.fit_basis(sample, size, self.seed)
        return self._bases[size]

    def projection(self, rank: int, *, learned: bool) -> np.ndarray:
        """Every message as `rank` numbers (messages x rank): its TF-IDF times the basis's
        first `rank` directions, or times the map learned from the votes."""
        if not learned:
            return np.asarray(self.message_tfidf @ self.basis(rank)[:, :rank])
        if rank not in self._learned:
            self._learned[rank] = self._learn(rank)
        return np.asarray(self.message_tfidf @ self._learned[rank])

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

    def _per_turn(self, projected: np.ndarray) -> np.ndarray:
        """Per side and turn: the projection of the user message plus that of the answer."""
        _, message = self.sides
        out: np.ndarray = projected[message[0::2]] + projected[message[1::2]]
        return out

    def _vector_costs(self, unit_bytes: np.ndarray, vectors: np.ndarray) -> Batch:
        """`unit_bytes` sent per side and turn (cumulative)."""
        by_turn = grouped_cumsum(unit_bytes, self.turns_per_side)
        return self._batch(np.zeros_like(by_turn), by_turn, vectors=vectors)

    def summed(self, projected: np.ndarray, bits: int = 16) -> Batch:
        """One vector a message (sent at `bits` a number, the scale fitted on the training
        messages), summed per side by the receiver; ceil(R x bits / 8) bytes a message, R the
        numbers the projection gives (the rank asked for, or fewer on a small vocabulary)."""
        scale = compress.fit_scale(projected[self.train_messages])
        per_turn = self._per_turn(compress.quantise(projected, scale, bits))
        side = np.repeat(np.arange(2 * self.n), self.turns_per_side)
        by_side = sparse.csr_matrix(
            (np.ones(len(side)), (side, np.arange(len(side)))), shape=(2 * self.n, len(side))
        )
        vectors = np.asarray(by_side @ per_turn)
        width = projected.shape[1]
        unit = np.full(len(side), 2 * compress.vector_bytes(width, bits), dtype=np.int64)
        return self._vector_costs(unit, vectors)

    def recurrent(self, projected: np.ndarray, bits: int = 16) -> Batch:
        """s_t = tanh(s_(t-1) + x_t) from s_0 = 0, per side, kept exact by the sender and sent
        each turn at `bits` a number (the scale fitted on the training sides' states); the
        receiver sees the last state sent; ceil(R x bits / 8) bytes a turn, R the numbers of
        the projection."""
        x = self._per_turn(projected)
        sizes = self.turns_per_side
        turn = turn_numbers(sizes)
        side = np.repeat(np.arange(2 * self.n), sizes)
        state = np.zeros((2 * self.n, x.shape[1]))
        states = np.zeros_like(x)
        for t in range(int(sizes.max(initial=0))):
            rows = np.flatnonzero(turn == t)
            state[side[rows]] = np.tanh(state[side[rows]] + x[rows])
            states[rows] = state[side[rows]]
        scale = compress.fit_scale(states[np.isin(side, self.train_sides)])
        unit = np.full(len(side), compress.vector_bytes(x.shape[1], bits), dtype=np.int64)
        return self._vector_costs(unit, compress.quantise(state, scale, bits))
