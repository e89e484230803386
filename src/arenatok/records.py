"""Typed records: the checked battle that goes in, and the output record that comes out.

Output records are plain dicts (TypedDicts), so they serialise without conversion; their JSON
Schema (`record_schema`, shipped as record.schema.json) is generated from these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typing_extensions import NotRequired, TypedDict

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
"""The human votes of lmsys/chatbot_arena_conversations, kept verbatim. Other releases use other
labels (`both_bad`, `tie (inconsistent)`); each format lists its own, and none is mapped onto
another."""


@dataclass(frozen=True, slots=True)
class Battle:
    """One arena battle after its checks: turn i is (users[i], answers_a[i], answers_b[i])."""

    question_id: str
    model_a: str
    model_b: str
    winner: str
    users: tuple[str, ...]
    answers_a: tuple[str, ...]
    answers_b: tuple[str, ...]
    judge: str | None = None
    anony: bool | None = None
    language: str | None = None
    tstamp: float | None = None
    openai_moderation_flagged: bool | None = None
    toxic_chat_flagged: bool | None = None
    null_turns: int = 0
    """Replies that were null in the source and are counted as empty (--allow-null-turns)."""
    image_parts: int = 0
    """Non-text message parts (images) in the source; they are not counted."""
    judged_turn: int | None = None
    """The turn a judge rated, where a release judges single turns (mt_bench)."""
    source_tokens: dict[str, int] | None = None
    """Token counts that the release itself ships (conv_metadata), kept beside ours."""
    source_style: dict[str, int] | None = None
    """Markdown counts that the release itself ships (conv_metadata), kept beside ours."""
    categories: dict[str, bool] | None = None
    """The release's own yes/no labels (`is_code`, `dedup_tag.*`, `category_tag.*`)."""


@dataclass(frozen=True, slots=True)
class Reject:
    """A source row that was not used, with the reason (written to rejects.jsonl)."""

    row: int
    question_id: str | None
    reason: str


class TurnUsage(TypedDict):
    turn_number: int
    timestamp_offset: float | None
    input_tokens: int
    response_a_tokens: int
    response_b_tokens: int
    context_tokens_a: int
    context_tokens_b: int


class Efficiency(TypedDict):
    avg_tokens_per_turn: float
    input_output_ratio: float
    coordination_overhead: float


class FullState(TypedDict):
    full_state_input_tokens_a: int
    full_state_input_tokens_b: int


class MarkdownCounts(TypedDict):
    header_count: int
    list_count: int
    bold_count: int


class StyleTurn(TypedDict):
    a: MarkdownCounts
    b: MarkdownCounts


class Style(TypedDict):
    turns: list[StyleTurn]
    total_a: MarkdownCounts
    total_b: MarkdownCounts


class ChatOverhead(TypedDict):
    scheme: str
    turns: list[int]
    full_state_chat_overhead_tokens: int


class TokenUsage(TypedDict):
    turns: list[TurnUsage]
    total_input_tokens: int
    total_output_tokens_a: int
    total_output_tokens_b: int
    total_tokens: int
    communication_efficiency: Efficiency
    full_state: FullState
    chat_overhead: NotRequired[ChatOverhead]


class ConversationTurn(TypedDict):
    user: str
    response_a: str
    response_b: str


class SourceRef(TypedDict):
    index: int
    layout: str
    sha256: str
    row: int


class DuplicateOf(TypedDict):
    source: int
    row: int
    kind: str
    key: str


class ApiMetadata(TypedDict):
    question_id: str
    timestamp: float | None
    language: str | None
    judge: str | None
    anony: bool | None
    judged_turn: NotRequired[int]
    source_token_counts: NotRequired[dict[str, int]]
    source_style_counts: NotRequired[dict[str, int]]
    categories: NotRequired[dict[str, bool]]
    source: NotRequired[SourceRef]


class Flags(TypedDict):
    openai_moderation_flagged: bool | None
    toxic_chat_flagged: bool | None


class Context(TypedDict):
    model_a: str
    model_b: str
    winner: str
    response_a: str
    response_b: str
    conversation: list[ConversationTurn]
    token_usage: TokenUsage
    extra_token_usage: NotRequired[dict[str, TokenUsage]]
    style: Style
    api_metadata: ApiMetadata
    flags: Flags
    quality_flags: list[str]
    duplicate_of: NotRequired[DuplicateOf]


class Record(TypedDict):
    """One output example, in the shape of the specification report."""

    input: str
    context: Context
    output: str
    dataset: str


_OUTPUT_TYPES = (
    SourceRef,
    DuplicateOf,
    TurnUsage,
    Efficiency,
    FullState,
    ChatOverhead,
    TokenUsage,
    MarkdownCounts,
    StyleTurn,
    Style,
    ConversationTurn,
    ApiMetadata,
    Flags,
    Context,
    Record,
)
for _t in _OUTPUT_TYPES:
    setattr(_t, "__pydantic_config__", {"extra": "forbid"})  # noqa: B010 (read by pydantic)


def record_adapter() -> Any:
    """A pydantic TypeAdapter that validates one output record (unknown fields are errors)."""
    from pydantic import TypeAdapter

    return TypeAdapter(Record)


def record_schema() -> dict[str, Any]:
    """The JSON Schema of one output record, generated from the types above."""
    schema: dict[str, Any] = record_adapter().json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "arenatok record",
        "description": "One example of an arenatok token-usage dataset (a data_out.jsonl line).",
    }


def schema_json() -> str:
    """record_schema() as the text of record.schema.json."""
    import json

    return json.dumps(record_schema(), indent=2, ensure_ascii=False) + "\n"
