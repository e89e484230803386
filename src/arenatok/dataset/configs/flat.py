"""The `flat` config: one row a battle, every scalar of its record a column of its own (no
texts): what a question about tokens asks without unnesting a struct."""

from __future__ import annotations

from collections.abc import Iterator

from typing_extensions import TypedDict

from arenatok.dataset.configs.base import Config
from arenatok.pipeline.battle import Vote, vote
from arenatok.pipeline.records import Record


class FlatRow(TypedDict):
    """A battle's scalars; the names are the record's (`header_count_a`: `style.total_a`'s
    `header_count`; `duplicate_*`: `duplicate_of`'s fields, null for a first copy)."""

    battle: int
    """Its place in data_out.jsonl, from 0: the key that joins the configs."""
    question_id: str
    dataset: str
    source_index: int | None
    source_layout: str | None
    source_row: int | None
    model_a: str
    model_b: str
    winner: Vote
    judge: str | None
    anony: bool | None
    timestamp: float | None
    language: str | None
    judged_turn: int | None
    turns: int
    total_input_tokens: int
    total_output_tokens_a: int
    total_output_tokens_b: int
    total_tokens: int
    avg_tokens_per_turn: float
    input_output_ratio: float
    coordination_overhead: float
    full_state_input_tokens_a: int
    full_state_input_tokens_b: int
    chat_overhead_scheme: str | None
    full_state_chat_overhead_tokens: int | None
    header_count_a: int
    list_count_a: int
    bold_count_a: int
    header_count_b: int
    list_count_b: int
    bold_count_b: int
    openai_moderation_flagged: bool | None
    toxic_chat_flagged: bool | None
    quality_flags: list[str]
    duplicate_of_source: int | None
    duplicate_of_row: int | None
    duplicate_kind: str | None
    duplicate_key: str | None


def rows(battle: int, record: Record) -> Iterator[FlatRow]:
    """The battle's one row."""
    ctx = record["context"]
    usage = ctx["token_usage"]
    ratios = usage["communication_efficiency"]
    api = ctx["api_metadata"]
    source = api.get("source")
    chat = usage.get("chat_overhead")
    overhead = chat["full_state_chat_overhead_tokens"] if chat else None
    copy = ctx.get("duplicate_of")
    a, b = ctx["style"]["total_a"], ctx["style"]["total_b"]
    yield {
        "battle": battle,
        "question_id": api["question_id"],
        "dataset": record["dataset"],
        "source_index": source["index"] if source else None,
        "source_layout": source["layout"] if source else None,
        "source_row": source["row"] if source else None,
        "model_a": ctx["model_a"],
        "model_b": ctx["model_b"],
        "winner": vote(ctx["winner"]),
        "judge": api["judge"],
        "anony": api["anony"],
        "timestamp": api["timestamp"],
        "language": api["language"],
        "judged_turn": api.get("judged_turn"),
        "turns": len(usage["turns"]),
        "total_input_tokens": usage["total_input_tokens"],
        "total_output_tokens_a": usage["total_output_tokens_a"],
        "total_output_tokens_b": usage["total_output_tokens_b"],
        "total_tokens": usage["total_tokens"],
        "avg_tokens_per_turn": ratios["avg_tokens_per_turn"],
        "input_output_ratio": ratios["input_output_ratio"],
        "coordination_overhead": ratios["coordination_overhead"],
        "full_state_input_tokens_a": usage["full_state"]["full_state_input_tokens_a"],
        "full_state_input_tokens_b": usage["full_state"]["full_state_input_tokens_b"],
        "chat_overhead_scheme": chat["scheme"] if chat else None,
        "full_state_chat_overhead_tokens": overhead,
        "header_count_a": a["header_count"],
        "list_count_a": a["list_count"],
        "bold_count_a": a["bold_count"],
        "header_count_b": b["header_count"],
        "list_count_b": b["list_count"],
        "bold_count_b": b["bold_count"],
        "openai_moderation_flagged": ctx["flags"]["openai_moderation_flagged"],
        "toxic_chat_flagged": ctx["flags"]["toxic_chat_flagged"],
        "quality_flags": ctx["quality_flags"],
        "duplicate_of_source": copy["source"] if copy else None,
        "duplicate_of_row": copy["row"] if copy else None,
        "duplicate_kind": copy["kind"] if copy else None,
        "duplicate_key": copy["key"] if copy else None,
    }


CONFIG = Config(
    "flat",
    "one row a battle: its ids and source, the two models, the vote, timestamp, language and "
    "turns, every count and ratio of its record (totals, each side's output, full-state "
    "input), the style counts, the flags and the duplicate marks; no texts",
    FlatRow,
    rows,
)
