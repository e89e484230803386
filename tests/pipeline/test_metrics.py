from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arenatok.pipeline.driver import build
from arenatok.pipeline.metrics import efficiency, token_usage, turn_usages
from arenatok.pipeline.tokens import count
from tests.helpers import TINY, doc_text, records, write_jsonl


def test_first_arena_battle_golden() -> None:
    # Battle 0 of the Hub file: 10 / 171 / 373 tokens (cl100k_base). The report said 181 input
    # tokens (it added response A); each user message is counted once, so input is 10.
    u = token_usage([10], [171], [373])
    assert u["total_input_tokens"] == 10
    assert u["total_output_tokens_a"] == 171
    assert u["total_output_tokens_b"] == 373
    assert u["total_tokens"] == 554
    assert u["communication_efficiency"] == {
        "avg_tokens_per_turn": 554.0,
        "input_output_ratio": 10 / 554,
        "coordination_overhead": 202 / 554,
    }
    assert u["turns"] == [
        {
            "turn_number": 1,
            "timestamp_offset": 0.0,
            "input_tokens": 10,
            "response_a_tokens": 171,
            "response_b_tokens": 373,
            "context_tokens_a": 10,
            "context_tokens_b": 10,
        }
    ]
    assert u["full_state"] == {"full_state_input_tokens_a": 10, "full_state_input_tokens_b": 10}


def test_two_turns_hand_checked() -> None:
    u = token_usage([3, 4], [5, 6], [7, 1])
    assert [t["context_tokens_a"] for t in u["turns"]] == [3, 3 + 5 + 4]
    assert [t["context_tokens_b"] for t in u["turns"]] == [3, 3 + 7 + 4]
    assert [t["timestamp_offset"] for t in u["turns"]] == [0.0, None]
    assert u["full_state"] == {"full_state_input_tokens_a": 15, "full_state_input_tokens_b": 17}
    assert (u["total_input_tokens"], u["total_tokens"]) == (7, 26)
    assert u["communication_efficiency"] == {
        "avg_tokens_per_turn": 13.0,
        "input_output_ratio": 7 / 26,
        "coordination_overhead": 3 / 26,
    }


def test_no_timestamp_means_no_offset() -> None:
    assert token_usage([1], [1], [1], has_timestamp=False)["turns"][0]["timestamp_offset"] is None


def test_zero_tokens_gives_zero_ratios() -> None:
    assert efficiency(0, 0, 0, 1) == {
        "avg_tokens_per_turn": 0.0,
        "input_output_ratio": 0.0,
        "coordination_overhead": 0.0,
    }


def test_mismatched_turn_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="one count per turn"):
        turn_usages([1, 2], [1], [1, 2])


counts = st.integers(min_value=0, max_value=100_000)


@st.composite
def battles(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    n = draw(st.integers(min_value=1, max_value=12))
    return (
        draw(st.lists(counts, min_size=n, max_size=n)),
        draw(st.lists(counts, min_size=n, max_size=n)),
        draw(st.lists(counts, min_size=n, max_size=n)),
    )


@given(battles())
def test_totals_are_sums_of_turns(b: tuple[list[int], list[int], list[int]]) -> None:
    users, a, bb = b
    u = token_usage(users, a, bb)
    turns = u["turns"]
    assert u["total_input_tokens"] == sum(t["input_tokens"] for t in turns) == sum(users)
    assert u["total_output_tokens_a"] == sum(t["response_a_tokens"] for t in turns)
    assert u["total_output_tokens_b"] == sum(t["response_b_tokens"] for t in turns)
    assert u["total_tokens"] == sum(users) + sum(a) + sum(bb)
    assert [t["turn_number"] for t in turns] == list(range(1, len(users) + 1))


@given(battles())
def test_shares_in_unit_interval(b: tuple[list[int], list[int], list[int]]) -> None:
    eff = token_usage(*b)["communication_efficiency"]
    assert 0.0 <= eff["input_output_ratio"] <= 1.0
    assert 0.0 <= eff["coordination_overhead"] <= 1.0
    assert eff["input_output_ratio"] + eff["coordination_overhead"] <= 1.0 + 1e-12


@given(battles())
def test_user_turns_counted_once(b: tuple[list[int], list[int], list[int]]) -> None:
    users, a, bb = b
    u = token_usage(users, a, bb)
    # Swapping the sides changes nothing about the input; the input does not grow with sides.
    assert token_usage(users, bb, a)["total_input_tokens"] == u["total_input_tokens"] == sum(users)
    assert u["communication_efficiency"]["avg_tokens_per_turn"] * len(users) == pytest.approx(
        u["total_tokens"]
    )


@given(battles())
def test_full_state_at_least_plain_input(b: tuple[list[int], list[int], list[int]]) -> None:
    users, a, bb = b
    u = token_usage(users, a, bb)
    fs = u["full_state"]
    assert fs["full_state_input_tokens_a"] >= u["total_input_tokens"]
    assert fs["full_state_input_tokens_b"] >= u["total_input_tokens"]
    # Turn i resends everything before it: context_i = sum(users[:i+1]) + sum(answers[:i]).
    for i, t in enumerate(u["turns"]):
        assert t["context_tokens_a"] == sum(users[: i + 1]) + sum(a[:i])
        assert t["context_tokens_b"] == sum(users[: i + 1]) + sum(bb[:i])


def test_edges_of_the_metric_functions() -> None:
    """A battle's first turn has offset 0.0 unless told it has no timestamp; no turns give
    0.0 tokens per turn; counts of unequal lengths are refused with the reason."""
    assert turn_usages([1], [2], [3])[0]["timestamp_offset"] == 0.0
    assert turn_usages([1], [2], [3], has_timestamp=False)[0]["timestamp_offset"] is None
    assert efficiency(0, 0, 0, 0) == {
        "avg_tokens_per_turn": 0.0, "input_output_ratio": 0.0, "coordination_overhead": 0.0
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"^users, answers_a and answers_b must have one count"):
        turn_usages([1, 2], [3], [4])


def test_chat_overhead_is_separate_and_hand_checked(tmp_path: Path) -> None:
    assert (count("user"), count("assistant")) == (1, 1)
    src = write_jsonl(tmp_path / "b.jsonl", TINY[:2])
    plain = build(src, out=tmp_path / "plain")
    build(src, out=tmp_path / "chat", chat_overhead="openai")
    one, two = records(tmp_path / "chat")
    # Request i sends i user and i-1 assistant messages, (3 + 1) each, and 3 prime the reply.
    assert one["context"]["token_usage"]["chat_overhead"] == {
        "scheme": "openai",
        "turns": [7],
        "full_state_chat_overhead_tokens": 7,
    }
    assert two["context"]["token_usage"]["chat_overhead"] == {
        "scheme": "openai",
        "turns": [7, 15],
        "full_state_chat_overhead_tokens": 22,
    }
    for with_chat, without in zip([one, two], records(tmp_path / "plain"), strict=True):
        del with_chat["context"]["token_usage"]["chat_overhead"]
        assert with_chat == without  # never mixed into the plain counts
    assert plain.metadata["options"]["chat_overhead"] is None


def test_the_docs_define_every_metric() -> None:
    from arenatok.pipeline.metrics import DEFINITIONS

    table = doc_text("concepts/metrics.md").replace(
        "\\|", "|"
    )  # a | inside a Markdown table cell is written \|
    for name, text in DEFINITIONS.items():
        assert f"| `{name}` | {text} |" in table, name
