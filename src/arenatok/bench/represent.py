"""Representations shared by the strategies: bags of token ids, one vocabulary, one TF-IDF
weighting rule, and one low-rank basis.

Every text is represented by its cl100k_base token ids (made once per message, see
`corpus.read_shard`). A text strategy's side is the bag of the ids it sends (a truncation keeps
the first or last K ids of each message: exact, no re-tokenising). The predictor sees the
TF-IDF of that bag over one vocabulary, chosen on the training split of `full`. The low-rank
strategies share one basis: the truncated SVD of the messages' TF-IDF.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import sparse

from arenatok.bench.corpus import Corpus, spans, turn_numbers

N_IDS = 100_277
"""cl100k_base's ids (its ordinary tokens and special tokens)."""
VOCABULARY = 30_000
"""At most this many ids are features: those in 2 or more training texts of `full`, the most
frequent first."""
BASIS = 128
"""Dimensions of the shared low-rank basis (more if a strategy asks for a higher rank)."""
BASIS_SAMPLE = 20_000
"""The basis is fitted on at most this many training messages (a seeded sample)."""


@functools.cache
def token_strings() -> tuple[bytes, ...]:
    """The bytes of every cl100k_base id (empty for the ids it does not use)."""
    from arenatok.pipeline.encodings import get_encoding

    enc = get_encoding("cl100k_base")
    out = []
    for i in range(N_IDS):
        try:
            out.append(enc.decode_single_token_bytes(i))
        except KeyError:
            out.append(b"")
    return tuple(out)


def bag(ids: np.ndarray, rows: np.ndarray, n_rows: int, width: int = N_IDS) -> Any:
    """Counts of `ids` per row (rows sorted ascending): a rows x width sparse matrix (`ids` is
    left as it was)."""
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    entries = (np.ones(len(ids), dtype=np.float32), ids.copy(), indptr)
    m = sparse.csr_matrix(entries, shape=(n_rows, width))
    m.sum_duplicates()
    return m


def side_messages(c: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """What each side sends, as (side, message) pairs in order: side A of battle i is side i,
    its side B side n + i; each sends user message 1, its answer 1, user message 2, ..."""
    n = len(c)
    turns = c.turns.astype(np.int64)
    battle = np.repeat(np.arange(n), turns)
    user = c.first_message[battle] + 3 * turn_numbers(turns)
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


def row_blocks(x: Any) -> Iterator[tuple[int, int]]:
    """Ranges [lo, hi) of the rows of the CSR matrix x, about CHUNK_IDS entries each."""
    lo = 0
    while lo < x.shape[0]:
        hi = int(np.searchsorted(x.indptr, x.indptr[lo] + CHUNK_IDS, "right")) - 1
        hi = min(max(hi, lo + 1), x.shape[0])
        yield lo, hi
        lo = hi


def tfidf(x: Any, train_rows: np.ndarray) -> Any:
    """Sublinear TF-IDF of the counts `x` (texts x features, float32), in place, rows
    L2-normalised: tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1 with df over
    `train_rows` (scikit-learn's definition). Works a block of rows at a time."""
    in_train = np.zeros(x.shape[0], dtype=bool)
    in_train[train_rows] = True
    df = np.zeros(x.shape[1], dtype=np.int64)
    for lo, hi in row_blocks(x):
        a, b = x.indptr[lo], x.indptr[hi]
        mine = np.repeat(in_train[lo:hi], np.diff(x.indptr[lo : hi + 1]))
        df += np.bincount(x.indices[a:b][mine], minlength=x.shape[1])
    idf = (np.log((1.0 + len(train_rows)) / (1.0 + df)) + 1.0).astype(np.float32)
    for lo, hi in row_blocks(x):
        a, b = x.indptr[lo], x.indptr[hi]
        counts = np.diff(x.indptr[lo : hi + 1])
        data = (1.0 + np.log(x.data[a:b], dtype=np.float32)) * idf[x.indices[a:b]]
        local = np.repeat(np.arange(hi - lo), counts)
        norms = np.sqrt(np.bincount(local, weights=data.astype(np.float64) ** 2, minlength=hi - lo))
        norms[norms == 0] = 1.0
        x.data[a:b] = data / np.repeat(norms, counts).astype(np.float32)
    return x


def with_column(x: Any, column: np.ndarray) -> Any:
    """x (CSR) with one more column, last, holding `column` (one value a row)."""
    rows, width = x.shape
    indptr = x.indptr.astype(np.int64) + np.arange(rows + 1)
    last = indptr[1:] - 1
    data = np.empty(x.nnz + rows, dtype=np.float32)
    indices = np.empty(x.nnz + rows, dtype=np.int32)
    old = np.ones(x.nnz + rows, dtype=bool)
    old[last] = False
    data[old], data[last] = x.data, column
    indices[old], indices[last] = x.indices, width
    return sparse.csr_matrix((data, indices, indptr), shape=(rows, width + 1))


def differences(x: Any, rows: np.ndarray, n: int) -> Any:
    """Row i of x minus row n + i, for each i of `rows` (CSR)."""
    k = len(rows)
    pick = sparse.csr_matrix(
        (
            np.concatenate([np.ones(k, np.float32), -np.ones(k, np.float32)]),
            (np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([rows, rows + n])),
        ),
        shape=(k, x.shape[0]),
    )
    return pick @ x


CHUNK_IDS = 1 << 20
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


def _chunk_bags(
    ids: np.ndarray, rows: np.ndarray, starts: np.ndarray, keep: np.ndarray
) -> Iterator[tuple[int, int, np.ndarray, Any]]:
    """Per chunk of spans [lo, hi): its ids and the bag of each of its rows (over every id)."""
    for lo, hi in chunks(rows, keep):
        tokens = ids[spans(starts[lo:hi], keep[lo:hi])]
        first = int(rows[lo])
        local = np.repeat(rows[lo:hi] - first, keep[lo:hi])
        yield lo, hi, tokens, bag(tokens, local, int(rows[hi - 1]) - first + 1)


def span_bags(
    ids: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    keep: np.ndarray,
    lookup: np.ndarray,
    token_bytes: np.ndarray,
) -> tuple[Any, np.ndarray]:
    """The bag of each row over the vocabulary (rows x features), a row being the spans
    (start, keep) of `ids` that name it (`rows` ascending, every row from 0 to the last named);
    and each span's size in UTF-8 bytes."""
    data, indices, indptr = [], [], [np.zeros(1, dtype=np.int64)]
    size = np.zeros(len(keep), dtype=np.int64)
    for lo, hi, tokens, part in _chunk_bags(ids, rows, starts, keep):
        local = np.repeat(np.arange(hi - lo), keep[lo:hi])
        size[lo:hi] = np.bincount(local, token_bytes[tokens], hi - lo)
        part = restrict(part, lookup)
        data.append(part.data)
        indices.append(part.indices)
        indptr.append(part.indptr[1:] + indptr[-1][-1])
    width = int(lookup.max(initial=-1)) + 1
    n_rows = sum(len(p) for p in indptr) - 1
    arrays = []
    for parts, dtype in ((data, np.float32), (indices, np.int32), (indptr, np.int64)):
        arrays.append(np.concatenate(parts) if parts else np.zeros(0, dtype))
        parts.clear()  # one array's parts at a time: a third less memory at the peak
    return sparse.csr_matrix(tuple(arrays), shape=(n_rows, width)), size


def choose_vocabulary(
    ids: np.ndarray, rows: np.ndarray, starts: np.ndarray, keep: np.ndarray, train: np.ndarray
) -> np.ndarray:
    """The ids that are features: in 2 or more training texts (a text: the spans of a row, as
    in `span_bags`; `train`: a mask of the rows), the VOCABULARY most frequent (by total count;
    ties by id). Returns, for every id, its feature number or -1."""
    df = np.zeros(N_IDS, dtype=np.int64)
    tf = np.zeros(N_IDS, dtype=np.int64)
    for lo, _hi, _, part in _chunk_bags(ids, rows, starts, keep):
        first = int(rows[lo])
        mine = train[first : first + part.shape[0]]
        entries = np.repeat(mine, np.diff(part.indptr))
        df += np.bincount(part.indices[entries], minlength=N_IDS)
        tf += np.bincount(
            part.indices[entries], weights=part.data[entries], minlength=N_IDS
        ).astype(np.int64)
    candidates = np.flatnonzero(df >= 2)
    order = np.lexsort((candidates, -tf[candidates]))
    chosen = np.sort(candidates[order[:VOCABULARY]])
    lookup = np.full(N_IDS, -1, dtype=np.int32)
    lookup[chosen] = np.arange(len(chosen), dtype=np.int32)
    return lookup


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
