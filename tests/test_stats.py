from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from arenatok.stats import Stats

counters = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 9)).map(Counter)
pairs = st.sets(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyz")))


def stats() -> st.SearchStrategy[Stats]:
    kinds = {int: st.integers(0, 100), set: pairs, Counter: counters}
    fields = {}
    for f in dataclasses.fields(Stats):
        kind = next(k for k in kinds if str(f.type).startswith(k.__name__))
        fields[f.name] = kinds[kind]
    return st.builds(Stats, **fields)


@given(stats(), stats())
def test_every_field_adds_up_by_name(a: Stats, b: Stats) -> None:
    s = a + b
    for f in dataclasses.fields(Stats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert getattr(s, f.name) == (x | y if isinstance(x, set) else x + y), f.name


def test_stats_add_up() -> None:
    a = Stats(read=2, written=1, rejected=1, pairs={("x", "y")}, turns=1, input_tokens=3)
    b = Stats(read=1, written=1, pairs={("x", "y"), ("y", "x")}, turns=2, output_tokens_a=4)
    s = a + b
    assert (s.read, s.written, s.rejected, s.turns, s.total_tokens) == (3, 2, 1, 3, 7)
    assert s.summary()["model_pairs"] == {"ordered": 2, "unordered": 1}
