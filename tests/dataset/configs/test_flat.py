"""The flat config: one row a battle, its scalars as the record gives them (by hand on tiny
battles and the first real one), and sums equal to the records'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from arenatok.dataset.configs import flat


def test_flat_is_one_row_a_battle_of_its_scalars(
    rows_of: Callable[[Any], list[Any]], tiny_records: list[Any]
) -> None:
    rows = rows_of(flat.CONFIG)
    assert [(r["battle"], r["question_id"], r["winner"], r["turns"]) for r in rows] == [
        (0, "q0", "model_a", 1),
        (1, "q1", "tie (bothbad)", 2),
        (2, "q2", "model_b", 1),
        (3, "q3", "tie", 1),
        (4, "q4", "model_b", 3),
    ]
    usage = tiny_records[1]["context"]["token_usage"]
    assert rows[1]["total_tokens"] == usage["total_tokens"]
    ratios = usage["communication_efficiency"]
    assert rows[1]["coordination_overhead"] == ratios["coordination_overhead"]
    assert rows[1]["full_state_input_tokens_a"] == usage["full_state"]["full_state_input_tokens_a"]
    source = (rows[2]["source_index"], rows[2]["source_layout"], rows[2]["source_row"])
    assert source == (0, "arena", 3)
    assert rows[2]["quality_flags"] == ["special_token_text"]
    assert rows[0]["duplicate_of_row"] is None
    assert set(rows[0]) == set(flat.FlatRow.__annotations__)


def test_the_flat_configs_sums_are_the_records(
    load: Callable[[str], Any], real_records: list[Any]
) -> None:
    table = load("flat").to_pandas()
    usage = [r["context"]["token_usage"] for r in real_records]
    for column in ("total_input_tokens", "total_output_tokens_a", "total_tokens"):
        assert table[column].sum() == sum(u[column] for u in usage), column
    full_state = sum(u["full_state"]["full_state_input_tokens_b"] for u in usage)
    assert table["full_state_input_tokens_b"].sum() == full_state
    assert table["turns"].sum() == sum(len(u["turns"]) for u in usage)
    bold = sum(r["context"]["style"]["total_b"]["bold_count"] for r in real_records)
    assert table["bold_count_b"].sum() == bold
    assert table["duplicate_kind"].notna().sum() == 23  # the real battles' later copies


def test_the_first_real_battle_by_hand(load: Callable[[str], Any]) -> None:
    """The first battle (as docs/concepts/output-files.md shows its record): chatglm-6b
    against koala-13b, B wins (1), 10 tokens of prompt, 171 and 373 of answers."""
    row = load("flat")[0]
    assert (row["model_a"], row["model_b"], row["winner"], row["total_tokens"]) == (
        "chatglm-6b",
        "koala-13b",
        1,
        554,
    )
    assert row["coordination_overhead"] == pytest.approx(0.36462093862815886)
