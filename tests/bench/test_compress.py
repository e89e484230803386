"""`bench.compress`: the quantiser by hand and within half a level; sentences split where a
token ends one, and at the end of every message."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from arenatok.bench.compress import quantise, sentences, vector_bytes
from arenatok.bench.represent import token_strings
from arenatok.pipeline.encodings import get_encoding


def test_quantise_hand_checked() -> None:
    scale = np.array([2.0])
    x = np.array([[-2.0], [-0.1], [0.1], [1.9]])
    # 1 bit: the sign, decoded as +-scale/2.
    assert quantise(x, scale, 1)[:, 0].tolist() == [-1.0, -1.0, 1.0, 1.0]
    # 2 bits: 4 levels over [-2, 2], decoded at their midpoints -1.5, -0.5, 0.5, 1.5.
    assert quantise(x, scale, 2)[:, 0].tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert quantise(x, scale, 16) is x
    assert [vector_bytes(16, b) for b in (1, 2, 4, 8, 16)] == [2, 4, 8, 16, 32]
    assert vector_bytes(5, 1) == 1  # ceil(5 / 8)


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=20), st.sampled_from([1, 2, 4, 8]))
def test_quantise_is_within_half_a_level(values: list[float], bits: int) -> None:
    x = np.array(values)[:, None]
    decoded = quantise(x, np.array([1.0]), bits)
    assert np.all(np.abs(decoded - x) <= 1.0 / 2**bits + 1e-12)
    assert len(np.unique(decoded)) <= 2**bits


def test_sentences_end_after_a_stop_or_a_line_break_and_with_the_message() -> None:
    enc = get_encoding("cl100k_base")
    texts = ["Hi there. How are you?\nFine", "No end here"]  # "?\n" is one token
    parts = [enc.encode_ordinary(t) for t in texts]
    ids = np.array([i for p in parts for i in p], dtype=np.int32)
    lengths = np.array([len(p) for p in parts])
    starts = np.cumsum(lengths) - lengths
    token_bytes = np.array([len(b) for b in token_strings()], dtype=float)
    got = sentences(ids, starts, lengths, token_bytes)
    # "Hi there." " How are you?\n" "Fine", then "No end here"
    assert got.length.tolist() == [3, 4, 1, 3]
    assert got.message.tolist() == [0, 0, 0, 1]
    assert got.per_message.tolist() == [3, 1]
    assert got.size.tolist() == [9, 14, 4, 11]
