"""Typed records: the output record of a battle.

Output records are plain dicts (TypedDicts), so they serialise without conversion; their JSON
Schema (`record_schema`, shipped as record.schema.json) is generated from these types. The codec
is here too: records to JSON lines (`dumps_lines`) and back (`loads`), and the one change the
build's driver makes to lines a worker wrote (`edit_lines`: a new id, a duplicate's mark, rows
counted in the source).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from typing_extensions import NotRequired, TypedDict

QUALITY_FLAGS: dict[str, str] = {
    "empty_prompt": "a user message is empty or only whitespace.",
    "empty_response_a": "an answer of model A is empty or only whitespace (likewise _b).",
    "empty_response_b": "an answer of model B is empty or only whitespace.",
    "null_turn": "a reply was null in the source; it is counted as empty (--allow-null-turns).",
    "identical_responses": "model A's and model B's answers are the same at every turn.",
    "special_token_text": (
        "a message contains the text of a tiktoken special token (such as <|endoftext|>); "
        "it is counted as ordinary text."
    ),
    "multi_turn": "the battle has more than one turn.",
    "image_parts": "the source has non-text parts (images); only the text is counted.",
    "duplicate": "a later copy of a battle seen before (see duplicate_of and Duplicates).",
}
"""Data-quality flags of a record: facts about the battle worth knowing, never a reason to drop
it. The README and artifact_metadata.json carry the same text."""


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


Feature = Literal["header_count", "list_count", "bold_count"]
"""A key of `MarkdownCounts`: one of the arena's style-control features."""


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


class CopyOf(TypedDict):
    """The first copy of a dropped battle: its file, then `DuplicateOf`'s fields."""

    file: str
    source: int
    row: int
    kind: str
    key: str


class Dropped(TypedDict):
    """One line of duplicates.jsonl: a later copy that `--duplicates drop` took out."""

    file: str
    row: int
    question_id: str
    kind: str
    key: str
    duplicate_of: CopyOf


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


# ---- the codec: records as JSON lines ----------------------------------------------------

_LINE_BREAKS = (
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
    (b"\xc2\x85", b"\\u0085"),
)


def dumps_lines(objs: Iterable[object]) -> bytes:
    """Compact UTF-8 JSON, one line per object, lines joined by b"\\n" (no final newline).

    orjson keeps keys in insertion order and writes floats in shortest round-trip form. U+2028,
    U+2029 and U+0085 are escaped as well: they are legal in JSON strings, but some line
    splitters (str.splitlines) would break the line there. A raw b"\\n" occurs only between
    lines, since JSON escapes newlines inside strings."""
    block = b"\n".join([orjson.dumps(o) for o in objs])
    if _has_line_breaks(block):
        for raw, escaped in _LINE_BREAKS:
            block = block.replace(raw, escaped)
    return block


def _has_line_breaks(block: bytes) -> bool:
    """Whether UTF-8 `block` holds U+2028, U+2029 or U+0085: the positions of their lead bytes
    (E2, C2) found with numpy, then their next bytes checked (three `in` scans of the block
    take twice as long: the lead bytes are common in text, which defeats bytes.find's skips)."""
    import numpy as np

    a = np.frombuffer(block, dtype=np.uint8)
    e = np.flatnonzero(a[:-2] == 0xE2)
    if ((a[e + 1] == 0x80) & ((a[e + 2] == 0xA8) | (a[e + 2] == 0xA9))).any():
        return True
    c = np.flatnonzero(a[:-1] == 0xC2)
    return bool((a[c + 1] == 0x85).any())


def loads(line: bytes) -> Record:
    """One record from its JSON line."""
    record: Record = orjson.loads(line)
    return record


@dataclass(frozen=True, slots=True)
class Edit:
    """What the build's driver changes in a record that a worker made."""

    question_id: str | None = None
    """A new `api_metadata.question_id` (ids namespaced across sources)."""
    duplicate_of: DuplicateOf | None = None
    """Marks a later copy: `duplicate` appended to `quality_flags`, and this reference."""


def edit(record: Record, e: Edit, *, row_offset: int = 0) -> None:
    """Apply `e` to a decoded record, in place, and add `row_offset` to its source row (Ray gives
    a step its batch without its place in the file)."""
    api = record["context"]["api_metadata"]
    if row_offset and "source" in api:
        api["source"]["row"] += row_offset
    if e.question_id is not None:
        api["question_id"] = e.question_id
    if e.duplicate_of is not None:
        record["context"]["quality_flags"].append("duplicate")
        record["context"]["duplicate_of"] = e.duplicate_of


def edit_lines(
    lines: Sequence[bytes], edits: Mapping[int, Edit], *, row_offset: int = 0
) -> list[bytes]:
    """JSON lines of records with `edits` (line index -> Edit) applied, and `row_offset` added
    to every record's source row: each line that changes decoded, edited (`edit`) and encoded
    again (`dumps_lines`); the others kept as they are."""
    out = []
    for i, line in enumerate(lines):
        e = edits.get(i)
        if e is None and not row_offset:
            out.append(line)
            continue
        record = loads(line)
        edit(record, e or Edit(), row_offset=row_offset)
        out.append(dumps_lines([record]))
    return out
