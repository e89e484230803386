"""Source layouts: each known release's columns, mapped to the common Battle.

A format is recognised from the columns of a file (or named with --format). Every adapter ends
in the same `Battle`, so everything after reading works unchanged. Winner labels are kept as
each release writes them (`tie`, `tie (bothbad)`, `both_bad`, `tie (inconsistent)` are not the
same thing); each format lists the labels it accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arenatok.errors import SourceError
from arenatok.records import WINNERS, Battle
from arenatok.releases import (
    ARENA_140K_WINNERS,
    KAGGLE_WINNERS,
    MT_BENCH_WINNERS,
    arena,
    arena_100k,
    arena_140k,
    kaggle,
    mt_bench,
)

Parse = Callable[[Mapping[str, Any], bool], Battle]
"""A row (and whether null replies are allowed) to a Battle, or RowProblem."""

REQUIRED_COLUMNS = (
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "conversation_a",
    "conversation_b",
    "turn",
)
OPTIONAL_COLUMNS = (
    "judge",
    "anony",
    "language",
    "tstamp",
    "openai_moderation",
    "toxic_chat_tag",
)
"""Columns of the arena schema that are read; missing optional ones become null in the output."""


@dataclass(frozen=True)
class Format:
    """One source layout."""

    name: str
    source: str
    """The Hugging Face dataset it comes from."""
    required: tuple[str, ...]
    """Columns without which a file is not this format."""
    markers: tuple[str, ...]
    """Columns, any one of which identifies this format (empty: the required ones suffice)."""
    winners: tuple[str, ...]
    parse: Parse
    id_column: str = "question_id"
    """The column that holds a battle's id (printed in messages, kept as question_id)."""
    flat: bool = False
    """Every column is a string or number (texts as JSON-encoded lists), so CSV can hold it."""
    battle_ids: bool = True
    """Each battle has its own id (false for mt_bench: one question, many judgments)."""

    def parquet_columns(self, schema: Any) -> tuple[str, ...]:
        """The columns (or struct leaves) to read from a Parquet file of this layout with Arrow
        schema `schema`: the arena schema's own, or every column but `full_conversation`."""
        if self.name != DEFAULT:  # full_conversation (140k) repeats earlier votes' turns
            return tuple(c for c in schema.names if c != "full_conversation")
        return tuple(
            leaf
            for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
            if c in schema.names
            for leaf in _flag_leaves(c, schema.field(c).type)
        )


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "arena-140k",
            "lmarena-ai/arena-human-preference-140k",
            ("id", "model_a", "model_b", "winner", "conversation_a", "conversation_b"),
            ("evaluation_session_id", "evaluation_order", "full_conversation"),
            ARENA_140K_WINNERS,
            arena_140k,
            id_column="id",
        ),
        Format(
            "kaggle-55k",
            "lmsys/lmsys-arena-human-preference-55k",
            (
                "id",
                "model_a",
                "model_b",
                "prompt",
                "response_a",
                "response_b",
                "winner_model_a",
                "winner_model_b",
                "winner_tie",
            ),
            (),
            KAGGLE_WINNERS,
            kaggle,
            id_column="id",
            flat=True,
        ),
        Format(
            "arena-100k",
            "lmarena-ai/arena-human-preference-100k",
            REQUIRED_COLUMNS,
            ("judge_hash", "conv_metadata", "dedup_tag"),
            WINNERS,
            arena_100k,
        ),
        Format(
            "arena",
            "lmsys/chatbot_arena_conversations",
            REQUIRED_COLUMNS,
            ("tstamp", "anony", "language", "openai_moderation", "toxic_chat_tag"),
            WINNERS,
            arena,
        ),
        Format(
            "mt-bench",
            "lmsys/mt_bench_human_judgments",
            (*REQUIRED_COLUMNS, "judge"),
            (),
            MT_BENCH_WINNERS,
            mt_bench,
            battle_ids=False,
        ),
    )
}
"""Known layouts, most specific first: detection takes the first that fits."""

DEFAULT = "arena"


def detect(columns: Sequence[str], path: object) -> Format:
    """The format whose required columns are all there and one of whose marker columns is."""
    present = set(columns)
    for f in FORMATS.values():
        if set(f.required) <= present and (not f.markers or present & set(f.markers)):
            return f
    if set(FORMATS[DEFAULT].required) <= present:
        return FORMATS[DEFAULT]
    raise SourceError(
        f"{path}: no known layout has these columns: {', '.join(columns) or '(none)'}",
        hint=f"known formats: {', '.join(FORMATS)} (see README, Sources); or name one with "
        "--format",
    )


def get(name: str) -> Format:
    """The format called `name`; a miss lists the known ones."""
    try:
        return FORMATS[name]
    except KeyError as e:
        raise SourceError(
            f"unknown format: {name!r}", hint=f"known formats: {', '.join(FORMATS)}"
        ) from e


def _flag_leaves(name: str, kind: Any) -> list[str]:
    """For the moderation struct columns only their `flagged` leaves are read (the scores are
    not used); any other shape is read whole and checked row by row."""
    import pyarrow as pa

    if name not in ("openai_moderation", "toxic_chat_tag") or not pa.types.is_struct(kind):
        return [name]
    if name == "openai_moderation":
        return [f"{name}.flagged"] if kind.get_field_index("flagged") >= 0 else [name]
    leaves = [
        f"{name}.{f.name}.flagged"
        for f in kind
        if pa.types.is_struct(f.type) and f.type.get_field_index("flagged") >= 0
    ]
    return leaves if len(leaves) == kind.num_fields else [name]
