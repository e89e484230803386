"""The preference config: the decisive battles as prompt, chosen and rejected (by hand on tiny
battles, one of three turns, and on the first real one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arenatok.dataset.configs import preference


def test_preference_pairs_the_decisive_battles(
    rows_of: Callable[[Any], list[Any]], tiny_records: list[Any]
) -> None:
    rows = rows_of(preference.CONFIG)
    assert [r["question_id"] for r in rows] == ["q0", "q2", "q4"]  # ties have no pair
    q2 = rows[1]
    assert q2["prompt"] == [{"role": "user", "content": "<|endoftext|> is a special token"}]
    assert (q2["chosen"], q2["rejected"]) == (
        [{"role": "assistant", "content": "No."}],
        [{"role": "assistant", "content": "Yes."}],
    )
    models = (q2["winner"], q2["chosen_model"], q2["rejected_model"])
    assert models == ("model_b", "koala-13b", "vicuna-13b")
    usage = tiny_records[2]["context"]["token_usage"]
    assert (q2["chosen_tokens"], q2["rejected_tokens"], q2["input_tokens"]) == (
        usage["total_output_tokens_b"],
        usage["total_output_tokens_a"],
        usage["total_input_tokens"],
    )
    q4 = rows[2]
    assert q4["prompt"] == [{"role": "user", "content": "Name a color"}]
    assert q4["chosen"] == [
        {"role": "assistant", "content": "Blue"},
        {"role": "user", "content": "Another?"},
        {"role": "assistant", "content": "Teal"},
        {"role": "user", "content": "Last one"},
        {"role": "assistant", "content": ""},
    ]
    rejected = [m["content"] for m in q4["rejected"]]
    assert rejected == ["Red", "Another?", "Green", "Last one", "Pink"]


def test_the_first_real_pair_by_hand(load: Callable[[str], Any]) -> None:
    pair = load("preference")[0]
    assert (pair["chosen_model"], pair["chosen_tokens"], pair["rejected_tokens"]) == (
        "koala-13b",
        373,
        171,
    )
    assert pair["prompt"] == [
        {"role": "user", "content": "What is the difference between OpenCL and CUDA?"}
    ]
