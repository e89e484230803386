"""The preference predictor: what it sees of a pair of sides, and its fit; the references
that see no content; and the per-side protocol path for strategies that are not built in.

Scikit-learn does the learning (the `bench` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from arenatok.bench import represent as rep
from arenatok.bench.corpus import Corpus
from arenatok.bench.protocol import Recurrent, Side, Strategy, run_side, user_code
from arenatok.bench.shared import Batch, Shared
from arenatok.errors import OptionError
from arenatok.report import ratings


def pair_view(d: Any, three_way: bool) -> Any:
    """What the predictor sees of a pair, from A minus B (sparse): that; for three-way also
    |A - B| (a tie is likelier when the two sides sent alike)."""
    d = sparse.csr_matrix(d, dtype=np.float32)
    return sparse.hstack([d, abs(d)], format="csr") if three_way else d


def features(
    batch: Batch, shared: Shared, three_way: bool, splits: Sequence[np.ndarray]
) -> list[Any]:
    """For the battles of each split: (what A sent) - (what B sent), the TF-IDF of the token
    bag and log(1 + tokens), or the vector."""
    n = shared.n
    if batch.parts is not None:
        each = [features(p, shared, three_way, splits) for p in batch.parts]
        return [sparse.hstack(split, format="csr") for split in zip(*each, strict=True)]
    if batch.vectors is not None:
        d = batch.vectors[:n] - batch.vectors[n:]
        return [pair_view(d[rows], three_way) for rows in splits]
    x = rep.tfidf(batch.bags, shared.train_sides)
    batch.bags = None
    length = np.log1p(batch.tokens.astype(np.float64))
    return [
        pair_view(
            rep.with_column(rep.differences(x, rows, n), length[rows] - length[n + rows]),
            three_way,
        )
        for rows in splits
    ]


def references(c: Corpus, three_way: bool) -> dict[str, Any]:
    """Predictors that see no content: the length difference, the style features (length and
    markdown counts, as the arena's style control), and which models fought."""
    a, b = c.style_a, c.style_b
    raw = (a - b) / (a + b + 1.0)
    models, i, j = ratings.model_indices(c.model_a, c.model_b)
    n = len(c)
    rows = np.arange(n)
    who = sparse.csr_matrix(  # +1 for model A, -1 for model B (duplicates add up)
        (
            np.concatenate([np.ones(n), -np.ones(n)]),
            (np.concatenate([rows, rows]), np.concatenate([i, j])),
        ),
        shape=(n, len(models)),
    )
    return {
        name: pair_view(x, three_way)
        for name, x in zip(REFERENCES, (raw[:, :1], raw, who), strict=True)
    }


REFERENCES = (
    "reference: length only",
    "reference: style (length, markdown)",
    "reference: model identity (Bradley-Terry)",
)


def texts(c: Corpus) -> tuple[list[Side], list[Side]]:
    """The sides' texts, decoded from their token ids (exactly the messages of the build)."""
    from arenatok.pipeline.encodings import get_encoding

    enc = get_encoding("cl100k_base")
    ends = np.cumsum(c.lengths)
    decoded = [enc.decode(c.ids[e - k : e].tolist()) for e, k in zip(ends, c.lengths, strict=True)]
    sides_a, sides_b = [], []
    for first, turns in zip(c.first_message, c.turns, strict=True):
        turn = [decoded[first + 3 * t : first + 3 * t + 3] for t in range(turns)]
        users = tuple(m[0] for m in turn)
        sides_a.append(Side(users, tuple(m[1] for m in turn)))
        sides_b.append(Side(users, tuple(m[2] for m in turn)))
    return sides_a, sides_b


def per_side(strategy: Strategy | Recurrent, shared: Shared, sides: Sequence[Side]) -> Batch:
    """A strategy of the per-side protocol, run one side at a time (sides: every A, then
    every B): fitted on the training sides (or their decisive votes), then sent."""
    n = shared.n
    who = repr(strategy.name)
    fit_pairs = getattr(strategy, "fit_pairs", None)
    if fit_pairs is not None:
        with user_code(who, "fit_pairs()"):
            fit_pairs(
                [sides[i] for i in shared.learn],
                [sides[n + i] for i in shared.learn],
                shared.votes.astype(float),
            )
    else:
        with user_code(who, "fit()"):
            strategy.fit([sides[i] for i in shared.train_sides])
    prepare = getattr(strategy, "prepare", None)
    if prepare is not None:
        with user_code(who, "prepare()"):
            prepare(sides)
    with user_code(who, "step()" if isinstance(strategy, Recurrent) else "send()"):
        runs = [run_side(strategy, s) for s in sides]
    by_turn = np.array([t for _, turns in runs for t in turns], dtype=np.int64).reshape(-1, 2)
    sent = [s for s, _ in runs]
    if len({s.vector is None for s in sent}) > 1:
        raise OptionError(
            f"strategy {who} broke the protocol: it sent text for some sides and a vector for "
            "others",
            hint="send the same kind for every side",
        )
    out = Batch(
        tokens=np.array([s.tokens for s in sent], dtype=np.int64),
        bytes=np.array([s.bytes for s in sent], dtype=np.int64),
        by_turn_tokens=by_turn[:, 0],
        by_turn_bytes=by_turn[:, 1],
    )
    if sent[0].vector is not None:
        width = max(len(s.vector) for s in sent if s.vector is not None)
        out.vectors = np.vstack(
            [np.pad(np.asarray(s.vector, float), (0, width - len(s.vector))) for s in sent]  # type: ignore[arg-type]
        )
    else:
        from arenatok.pipeline.encodings import get_encoding

        encode = get_encoding("cl100k_base").encode_ordinary
        ids = [encode(s.text or "") for s in sent]
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        flat = np.fromiter((t for i in ids for t in i), np.int32, int(lengths.sum()))
        rows = np.repeat(np.arange(len(sent)), lengths)
        out.bags = rep.restrict(rep.bag(flat, rows, len(sent)), shared.lookup)
    return out
