"""The `turns` config: one row a turn, its counts as the record's `token_usage.turns` gives
them."""

from __future__ import annotations

from collections.abc import Iterator

from typing_extensions import TypedDict

from arenatok.dataset.configs.base import Config
from arenatok.pipeline.records import Record


class TurnRow(TypedDict):
    """A turn: the user message's tokens (`input_tokens`), each answer's, each side's context
    (the earlier turns and this message), the timestamp offset (seconds; 0.0 for turn 1 where
    the battle has a timestamp, else null)."""

    battle: int
    """The battle's place in data_out.jsonl, from 0: the key that joins the configs."""
    question_id: str
    turn_number: int
    timestamp_offset: float | None
    input_tokens: int
    response_a_tokens: int
    response_b_tokens: int
    context_tokens_a: int
    context_tokens_b: int


def rows(battle: int, record: Record) -> Iterator[TurnRow]:
    """The battle's turns, in order."""
    question_id = record["context"]["api_metadata"]["question_id"]
    for t in record["context"]["token_usage"]["turns"]:
        yield {"battle": battle, "question_id": question_id, **t}


CONFIG = Config(
    "turns",
    "one row a turn: the battle's id, the turn number, the tokens of the user message and of "
    "each answer, each side's context tokens, the timestamp offset",
    TurnRow,
    rows,
)
