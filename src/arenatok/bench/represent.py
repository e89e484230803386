"""Representations shared by the strategies: bags of token ids, one vocabulary, one TF-IDF
weighting rule, and one low-rank basis.

Every text is represented by its cl100k_base token ids (made once per message, see
`corpus.read_shard`). A text strategy's side is the bag of the ids it sends (a truncation keeps
the first or last K ids of each message: exact, no re-tokenising). The predictor sees the
TF-IDF of that bag over one vocabulary, chosen on the training split of `full`. The low-rank
strategies share one basis: the truncated SVD of the messages' TF-IDF.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from arenatok.bench.corpus import Corpus

N_IDS = 100_277
"""cl100k_base's ids (its ordinary tokens and special tokens)."""
VOCABULARY = 30_000
"""At most this many ids are features: those in 2 or more training texts of `full`, the most
frequent first."""
BASIS = 256
"""Dimensions of the shared low-rank basis."""
BASIS_SAMPLE = 20_000
"""The basis is fitted on at most this many training messages (a seeded sample)."""


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, ... start+length-1 of every span, one after another."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def bag(ids: np.ndarray, rows: np.ndarray, n_rows: int, width: int = N_IDS) -> Any:
    """Counts of `ids` per row (rows sorted ascending; ids of -1 left out): a rows x width
    sparse matrix."""
    if ids.size and ids.min() < 0:
        keep = ids >= 0
        ids, rows = ids[keep], rows[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    m = sparse.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr), shape=(n_rows, width))
    m.sum_duplicates()
    return m


def side_messages(c: Corpus, *, last_turn: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What each side sends, as (side, message) pairs in order: side A of battle i is side i,
    its side B side n + i; each sends user message 1, its answer 1, user message 2, ...
    (`last_turn`: only the last turn's two)."""
    n = len(c)
    turns = c.turns.astype(np.int64)
    battle = np.repeat(np.arange(n), turns)
    turn = np.arange(len(battle)) - np.repeat(np.cumsum(turns) - turns, turns)
    if last_turn:
        keep = turn == turns[battle] - 1
        battle, turn = battle[keep], turn[keep]
    user = c.first_message[battle] + 3 * turn
    side = np.concatenate([np.repeat(battle, 2), np.repeat(battle + n, 2)])
    message = np.concatenate(
        [np.column_stack([user, user + 1]).ravel(), np.column_stack([user, user + 2]).ravel()]
    )
    return side, message


def kept(c: Corpus, messages: np.ndarray, k: int | None, tail: bool) -> tuple[np.ndarray, ...]:
    """(first id, how many ids) kept of each message: all, or the first/last k."""
    lengths = c.lengths[messages]
    starts = c.starts[messages]
    if k is None:
        return starts, lengths
    keep = np.minimum(lengths, k)
    return (starts + lengths - keep if tail else starts), keep


def side_bags(c: Corpus, side: np.ndarray, starts: np.ndarray, keep: np.ndarray) -> Any:
    """The bag of ids each side sends (2n rows)."""
    positions = spans(starts, keep)
    return bag(c.ids[positions], np.repeat(side, keep), 2 * len(c))


def choose_vocabulary(ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The ids that are features: in 2 or more training texts (`rows`: the text of each id),
    the VOCABULARY most frequent (by total count; ties by id). Returns, for every id, its
    feature number or -1."""
    tf = np.bincount(ids, minlength=N_IDS)
    df = np.bincount(bag(ids, rows, int(rows[-1]) + 1 if len(rows) else 0).indices, minlength=N_IDS)
    candidates = np.flatnonzero(df >= 2)
    order = np.lexsort((candidates, -tf[candidates]))
    chosen = np.sort(candidates[order[:VOCABULARY]])
    feature = np.full(N_IDS, -1, dtype=np.int32)
    feature[chosen] = np.arange(len(chosen), dtype=np.int32)
    return feature


def tfidf(bags: Any, train_rows: np.ndarray) -> Any:
    """Sublinear TF-IDF of `bags` (over the vocabulary), rows L2-normalised: tf = 1 +
    ln(count), idf = ln((1 + n) / (1 + df)) + 1 with df over `train_rows` (scikit-learn's
    definition)."""
    x = bags.copy()
    x.data = 1.0 + np.log(x.data)
    train = x[train_rows]
    df = np.bincount(train.indices, minlength=x.shape[1])
    idf = np.log((1.0 + train.shape[0]) / (1.0 + df)) + 1.0
    x = x @ sparse.diags(idf.astype(np.float32))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags((1.0 / norms).astype(np.float32)) @ x


def fit_basis(x: Any, rows: np.ndarray, seed: int) -> np.ndarray:
    """The first BASIS right singular vectors (vocabulary x BASIS, float32) of the TF-IDF rows
    `rows` of `x` (a seeded sample of at most BASIS_SAMPLE), by randomised SVD."""
    from sklearn.utils.extmath import randomized_svd

    rng = np.random.default_rng(seed)
    if len(rows) > BASIS_SAMPLE:
        rows = np.sort(rng.choice(rows, BASIS_SAMPLE, replace=False))
    sample = x[rows]
    k = max(1, min(BASIS, sample.shape[0] - 1, sample.shape[1] - 1))
    _, _, vt = randomized_svd(sample, k, n_iter=3, random_state=seed)
    return np.ascontiguousarray(vt.T, dtype=np.float32)
