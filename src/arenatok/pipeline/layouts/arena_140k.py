"""lmarena-ai/arena-human-preference-140k: `id`, messages whose `content` is a list of typed
parts (the text parts joined with a newline; image parts counted, not read; a part of another
type a bad row), an ISO 8601 `timestamp`, the release's own counts and labels;
`full_conversation` is not read.

The release's parts are `{type, text, image, mimeType}`: `type` is `text` (its votes are of the
text-only category) or `image` (with `image` and `mimeType`). The types that OpenAI's chat and
responses APIs write (`input_text`, `output_text`, `image_url`, `input_image`) are read alike,
so an export in their form counts the same."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from arenatok.pipeline.battle import Battle, RowProblem, Vote
from arenatok.pipeline.layouts.base import Layout, release_extras
from arenatok.pipeline.layouts.checks import (
    as_mapping,
    both_sides,
    head_fields,
    meta_fields,
    new_battle,
    show,
    timestamp,
)

LABELS: dict[str, Vote] = {
    "model_a": "model_a",
    "model_b": "model_b",
    "tie": "tie",
    "both_bad": "tie (bothbad)",
}
"""`both_bad` is the arena's `tie (bothbad)`."""
TEXT_PARTS = ("text", "input_text", "output_text")
"""Part types whose `text` is counted (joined with a newline within a message)."""
IMAGE_PARTS = ("image", "image_url", "input_image")
"""Part types that are images: counted (`image_parts`), their content not read."""


def _parts(row: Mapping[str, Any], key: str) -> tuple[list[dict[str, Any]], int]:
    """One side whose `content` is a list of typed parts, as plain messages: the text parts of
    a message joined with a newline; other parts (images) only counted."""
    conv = row.get(key)
    if not isinstance(conv, list) or not conv:
        raise RowProblem(f"{key} must be a non-empty list of messages, got {show(conv)}")
    flat: list[dict[str, Any]] = []
    images = 0
    for i, m in enumerate(conv):
        if not isinstance(m, Mapping):
            raise RowProblem(f"{key}[{i}] is not a message object: {show(m)}")
        parts = m.get("content")
        if parts is None:  # a null reply: the row checks decide (see --allow-null-turns)
            flat.append({"role": m.get("role"), "content": None})
            continue
        if not isinstance(parts, list):
            raise RowProblem(f"{key}[{i}].content must be a list of parts, got {show(parts)}")
        texts = []
        for j, part in enumerate(parts):
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind in TEXT_PARTS:
                text = part.get("text")
                if not isinstance(text, str):
                    raise RowProblem(
                        f"{key}[{i}].content[{j}].text must be a string, got {show(text)}"
                    )
                texts.append(text)
            elif kind in IMAGE_PARTS:
                images += 1
            elif isinstance(kind, str):
                raise RowProblem(
                    f"{key}[{i}].content[{j}] has type {kind!r}, which arenatok does not "
                    f"know: neither text ({', '.join(TEXT_PARTS)}) nor an image "
                    f"({', '.join(IMAGE_PARTS)})"
                )
            else:
                raise RowProblem(f"{key}[{i}].content[{j}] has no type: {show(part)}")
        flat.append({"role": m.get("role"), "content": "\n".join(texts)})
    return flat, images


def _timestamp(value: object) -> float | None:
    """An ISO 8601 string (or a number) as seconds since the epoch; naive times are UTC."""
    if not isinstance(value, str):
        return timestamp(value, "timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise RowProblem(f"timestamp is not an ISO 8601 time: {show(value)}") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    head = head_fields(row, LABELS, id_key="id")
    side_a, images_a = _parts(row, "conversation_a")
    side_b, images_b = _parts(row, "conversation_b")
    plain = {"conversation_a": side_a, "conversation_b": side_b}
    users, answers_a, answers_b, nulls = both_sides(plain, allow_null)
    common = {"tstamp": _timestamp(row.get("timestamp")), "language": row.get("language")}
    return new_battle(
        {**head, **meta_fields(common)},
        users,
        answers_a,
        answers_b,
        null_turns=nulls,
        image_parts=images_a + images_b,
        **release_extras(row),
    )


LAYOUT = Layout(
    "arena-140k",
    "lmarena-ai/arena-human-preference-140k",
    ("id", "model_a", "model_b", "winner", "conversation_a", "conversation_b"),
    ("evaluation_session_id", "evaluation_order", "full_conversation"),
    LABELS,
    parse,
    order=10,
    id_column="id",
)
