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
BASIS = 128
"""Dimensions of the shared low-rank basis (more if a strategy asks for a higher rank)."""
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
    """Counts of `ids` per row (rows sorted ascending): a rows x width sparse matrix."""
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    m = sparse.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr), shape=(n_rows, width))
    m.sum_duplicates()
    return m


def side_messages(c: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """What each side sends, as (side, message) pairs in order: side A of battle i is side i,
    its side B side n + i; each sends user message 1, its answer 1, user message 2, ..."""
    n = len(c)
    turns = c.turns.astype(np.int64)
    battle = np.repeat(np.arange(n), turns)
    turn = np.arange(len(battle)) - np.repeat(np.cumsum(turns) - turns, turns)
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


def choose_vocabulary(bags: Any, train_rows: np.ndarray) -> np.ndarray:
    """The ids that are features: in 2 or more training texts (the rows `train_rows` of
    `bags`, texts x ids), the VOCABULARY most frequent (by total count; ties by id). Returns,
    for every id, its feature number or -1."""
    in_train = np.zeros(bags.shape[0], dtype=bool)
    in_train[train_rows] = True
    entries = np.repeat(in_train, np.diff(bags.indptr))
    ids = bags.indices[entries]
    df = np.bincount(ids, minlength=N_IDS)
    tf = np.bincount(ids, weights=bags.data[entries], minlength=N_IDS)
    candidates = np.flatnonzero(df >= 2)
    order = np.lexsort((candidates, -tf[candidates]))
    chosen = np.sort(candidates[order[:VOCABULARY]])
    lookup = np.full(N_IDS, -1, dtype=np.int32)
    lookup[chosen] = np.arange(len(chosen), dtype=np.int32)
    return lookup


def restrict(bags: Any, lookup: np.ndarray) -> Any:
    """`bags` (texts x ids) with only the ids of the vocabulary, as its features (texts x
    vocabulary); `lookup` from `choose_vocabulary`."""
    feature = lookup[bags.indices]
    keep = feature >= 0
    kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    width = int(lookup.max(initial=-1)) + 1
    return sparse.csr_matrix(
        (bags.data[keep], feature[keep], kept[bags.indptr]), shape=(bags.shape[0], width)
    )


def tfidf(x: Any, train_rows: np.ndarray) -> Any:
    """Sublinear TF-IDF of the counts `x` (texts x features), in place, rows L2-normalised: tf =
    1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1 with df over `train_rows` (scikit-learn's
    definition)."""
    in_train = np.zeros(x.shape[0], dtype=bool)
    in_train[train_rows] = True
    df = np.bincount(x.indices[np.repeat(in_train, np.diff(x.indptr))], minlength=x.shape[1])
    idf = (np.log((1.0 + len(train_rows)) / (1.0 + df)) + 1.0).astype(np.float32)
    x.data = (1.0 + np.log(x.data, dtype=np.float32)) * idf[x.indices]
    row = np.repeat(np.arange(x.shape[0], dtype=np.int32), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(row, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
    norms[norms == 0] = 1.0
    x.data /= norms[row].astype(np.float32)
    return x


CHUNK_IDS = 1 << 22
"""Token ids gathered at a time when bags are made (bounds the memory of the temporaries)."""


def chunks(rows: np.ndarray, keep: np.ndarray) -> list[tuple[int, int]]:
    """Ranges [lo, hi) of spans, each about CHUNK_IDS ids, cut where the row changes (`rows`
    ascending)."""
    ends = np.cumsum(keep)
    out, lo = [], 0
    while lo < len(rows):
        hi = max(int(np.searchsorted(ends, ends[lo] - keep[lo] + CHUNK_IDS, "right")), lo + 1)
        if hi < len(rows):
            hi = int(np.searchsorted(rows, rows[hi - 1], "right"))
        out.append((lo, hi))
        lo = hi
    return out


def span_bags(
    ids: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    keep: np.ndarray,
    token_bytes: np.ndarray,
) -> tuple[Any, np.ndarray]:
    """The bag of ids of each row (rows x N_IDS), a row being the spans (start, keep) of `ids`
    that name it (`rows` ascending, every row from 0 to the last named); and each span's size in
    UTF-8 bytes."""
    parts, size = [], np.zeros(len(keep), dtype=np.int64)
    for lo, hi in chunks(rows, keep):
        tokens = ids[spans(starts[lo:hi], keep[lo:hi])]
        local = np.repeat(np.arange(hi - lo), keep[lo:hi])
        size[lo:hi] = np.bincount(local, token_bytes[tokens], hi - lo)
        first = int(rows[lo])
        parts.append(
            bag(tokens, np.repeat(rows[lo:hi] - first, keep[lo:hi]), int(rows[hi - 1]) - first + 1)
        )
    if len(parts) == 1:
        return parts[0], size
    if not parts:
        return sparse.csr_matrix((0, N_IDS), dtype=np.float32), size
    return sparse.vstack(parts, format="csr"), size


def basis_sample(rows: np.ndarray, seed: int) -> np.ndarray:
    """The training messages the basis is fitted on: a seeded sample of at most BASIS_SAMPLE."""
    if len(rows) <= BASIS_SAMPLE:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, BASIS_SAMPLE, replace=False))


def fit_basis(sample: Any, rank: int, seed: int) -> np.ndarray:
    """The first `rank` right singular vectors (vocabulary x rank, float32) of the TF-IDF rows
    `sample`, by randomised SVD (3 power iterations)."""
    from sklearn.utils.extmath import randomized_svd

    k = max(1, min(rank, sample.shape[0] - 1, sample.shape[1] - 1))
    _, _, vt = randomized_svd(sample, k, n_iter=3, random_state=seed)
    return np.ascontiguousarray(vt.T, dtype=np.float32)
