"""The two ways a coordinator sends less than the text: numbers at fewer bits (a quantiser
fitted on the training split), and chosen sentences (split on token ids)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arenatok.bench.corpus import spans
from arenatok.bench.represent import N_IDS, chunks, token_strings


def fit_scale(x: np.ndarray) -> np.ndarray:
    """Per dimension, the largest |value| of the training vectors `x` (the quantiser's range)."""
    scale: np.ndarray = np.abs(x).max(axis=0) if len(x) else np.ones(x.shape[1])
    return np.where(scale > 0, scale, 1.0)


def quantise(x: np.ndarray, scale: np.ndarray, bits: int) -> np.ndarray:
    """What a receiver decodes of x sent at `bits` a number: 2^bits levels spread evenly over
    [-scale, scale] per dimension, each value sent as the level it falls in and decoded as that
    level's midpoint (1 bit: the sign, decoded as +-scale/2). 16 bits: x as it is."""
    if bits >= 16:
        return x
    levels = 2**bits
    level = np.clip(np.floor((x / scale + 1.0) / 2.0 * levels), 0, levels - 1)
    decoded: np.ndarray = scale * ((2.0 * level + 1.0) / levels - 1.0)
    return decoded


def vector_bytes(numbers: int, bits: int) -> int:
    """Bytes to send `numbers` numbers at `bits` each: ceil(numbers x bits / 8)."""
    return -(-numbers * bits // 8)


@dataclass
class Sentences:
    """Every sentence of every message, in order: where its ids start, how many, its bytes,
    its message; and how many sentences each message has."""

    start: np.ndarray
    length: np.ndarray
    size: np.ndarray
    message: np.ndarray
    per_message: np.ndarray


def sentence_end_ids() -> np.ndarray:
    """Per id: whether a sentence ends after it (its bytes, spaces aside, end with . ! or ?, or
    hold a line break)."""
    out = np.zeros(N_IDS, dtype=bool)
    for i, b in enumerate(token_strings()):
        stripped = b.rstrip(b" ")
        out[i] = b"\n" in b or stripped.endswith((b".", b"!", b"?"))
    return out


def span_sums(
    ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """Per span (start, length) of `ids`: the sum of value[id] (spans in order, not
    overlapping), a chunk at a time."""
    out = np.zeros(len(starts))
    for lo, hi in chunks(np.arange(len(starts)), lengths):
        tokens = ids[spans(starts[lo:hi], lengths[lo:hi])]
        local = np.repeat(np.arange(hi - lo), lengths[lo:hi])
        out[lo:hi] = np.bincount(local, value[tokens], hi - lo)
    return out


def sentences(
    ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, token_bytes: np.ndarray
) -> Sentences:
    """The sentences of the messages (spans `starts`, `lengths` of `ids`)."""
    is_end = sentence_end_ids()[ids]
    nonempty = lengths > 0
    is_end[(starts + lengths - 1)[nonempty]] = True
    end = np.flatnonzero(is_end)
    first = np.concatenate([[0], end[:-1] + 1])
    # a sentence never crosses into the next message: every message's last id ends one
    message = np.searchsorted(starts, first, "right") - 1
    length = end - first + 1
    size = span_sums(ids, first, length, token_bytes).astype(np.int64)
    per_message = np.bincount(message, minlength=len(starts))
    return Sentences(first, length, size, message, per_message)
