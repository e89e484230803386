from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from arenatok.pipeline.stats import Stats

counters = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 9)).map(Counter)
pairs = st.sets(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyz")))


def stats() -> st.SearchStrategy[Stats]:
    kinds = {int: st.integers(0, 100), set: pairs, Counter: counters}
    fields = {}
    for f in dataclasses.fields(Stats):
        kind = next(k for k in kinds if str(f.type).startswith(k.__name__))
        fields[f.name] = kinds[kind]
    return st.builds(Stats, **fields)


@given(stats(), stats(), stats())
def test_adding_is_a_commutative_monoid(a: Stats, b: Stats, c: Stats) -> None:
    """Batches and shards merge in any grouping and order: the sum does not depend on them."""
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Stats() == a


def test_a_count_of_zero_is_the_same_as_no_count() -> None:
    """Counter addition drops keys whose count is 0 (a comparison that never agreed: equal 0):
    the summary must still report them as compared, equal 0 times."""
    a, b = Stats(), Stats()
    a._compare("sum_user_tokens", 10, 12)  # compared once, not equal: source_equal is 0
    b._compare("sum_user_tokens", 5, 6)
    s = a + b
    assert "sum_user_tokens" not in s.source_equal  # the rule that drops zeros
    assert s.summary()["source_token_agreement"]["sum_user_tokens"] == {
        "ours": "total_input_tokens",
        "compared": 2,
        "equal": 0,
        "agreement_rate": 0.0,
        "mean_abs_difference": 1.5,
    }


def test_stats_add_up() -> None:
    a = Stats(read=2, written=1, rejected=1, pairs={("x", "y")}, turns=1, input_tokens=3)
    b = Stats(read=1, written=1, pairs={("x", "y"), ("y", "x")}, turns=2, output_tokens_a=4)
    s = a + b
    assert (s.read, s.written, s.rejected, s.turns, s.total_tokens) == (3, 2, 1, 3, 7)
    assert s.summary()["model_pairs"] == {"ordered": 2, "unordered": 1}


def test_summary_by_value() -> None:
    """The counts that go into artifact_metadata.json, each under its documented name."""
    from collections import Counter

    s = Stats(
        read=5,
        written=4,
        rejected=1,
        winners=Counter({"model_a": 3, "tie": 1}),
        pairs={("x", "y"), ("y", "x"), ("x", "z")},
        turns=6,
        input_tokens=40,
        output_tokens_a=100,
        output_tokens_b=60,
    )
    got = s.summary()
    assert got["counts"] == {
        "rows_read": 5,
        "rows_written": 4,
        "rows_rejected": 1,
        "rows_dropped": 0,
    }
    assert got["winner_distribution"]["model_a"] == {"count": 3, "share": 0.75}
    assert got["winner_distribution"]["model_b"] == {"count": 0, "share": 0.0}
    assert got["model_pairs"] == {"ordered": 3, "unordered": 2}
    assert got["means"] == {
        "turns": 1.5,
        "total_tokens": 50.0,
        "total_input_tokens": 10.0,
        "total_output_tokens_a": 25.0,
        "total_output_tokens_b": 15.0,
    }
    assert got["totals"] == {
        "turns": 6,
        "total_tokens": 200,
        "total_input_tokens": 40,
        "total_output_tokens_a": 100,
        "total_output_tokens_b": 60,
    }


def _record(winner: str, a: int, b: int, inputs: list[int], **api: object) -> dict[str, object]:
    """The fields of an output record that Stats.of reads."""
    return {
        "context": {
            "winner": winner,
            "model_a": "x",
            "model_b": "y",
            "token_usage": {
                "turns": [{}] * len(inputs),
                "total_input_tokens": sum(inputs),
                "total_output_tokens_a": a,
                "total_output_tokens_b": b,
            },
            "quality_flags": ["multi_turn"] if len(inputs) > 1 else [],
            "api_metadata": api,
            "style": {"total_a": {"bold_count": 2}, "total_b": {"bold_count": 0}},
        }
    }


def test_stats_of_records_by_value() -> None:
    """One batch's figures from its records: rows, votes, turns and every token total."""
    records = [_record("model_a", 10, 20, [3]), _record("tie", 5, 1, [4, 6])]
    s = Stats.of(records, rejected=2)  # type: ignore[arg-type]
    assert (s.read, s.written, s.rejected, s.image_parts) == (4, 2, 2, 0)
    assert (s.turns, s.input_tokens, s.output_tokens_a, s.output_tokens_b) == (3, 13, 15, 21)
    assert s.winners == Counter({"model_a": 1, "tie": 1})
    assert s.pairs == {("x", "y")}
    assert s.quality_flags == Counter({"multi_turn": 1})
    assert Stats.of(records, rejected=0, image_parts=3).image_parts == 3  # type: ignore[arg-type]


def test_agreement_with_a_releases_own_counts_by_value() -> None:
    """A release's token and markdown counts beside ours: compared, equal, rate, mean gap, and
    which field of ours each is compared with."""
    records = [
        _record("model_a", 10, 20, [3], source_token_counts={"sum_assistant_a_tokens": 10},
                source_style_counts={"bold_count_a": 2, "bold_count_b": 1}),
        _record("model_b", 7, 2, [1], source_token_counts={"sum_assistant_a_tokens": 9},
                source_style_counts={"bold_count_a": 2}),
    ]  # fmt: skip
    got = Stats.of(records, rejected=0).summary()  # type: ignore[arg-type]
    assert got["source_style_agreement"] == {
        "bold_count_a": {"ours": "style.total_a.bold_count", "compared": 2, "equal": 2,
                         "agreement_rate": 1.0, "mean_abs_difference": 0.0},
        "bold_count_b": {"ours": "style.total_b.bold_count", "compared": 1, "equal": 0,
                         "agreement_rate": 0.0, "mean_abs_difference": 1.0},
    }  # fmt: skip
    [(key, row)] = got["source_token_agreement"].items()
    assert key == "sum_assistant_a_tokens"
    assert row["ours"] == "total_output_tokens_a"
    assert (row["compared"], row["equal"], row["agreement_rate"], row["mean_abs_difference"]) == (
        2, 1, 0.5, 1.0,
    )  # fmt: skip
