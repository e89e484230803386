"""What a layout is (`Layout`: how one release names its columns and votes, and the function
that maps its row to a `Battle`), and what several releases share: the arena schema's columns,
the release's own counts and labels (`release_extras`). A new release is one module beside
this one that defines `LAYOUT`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from arenatok.pipeline.battle import VOTES, Battle, Reject, Vote
from arenatok.pipeline.style import release_counts

Parse = Callable[[Mapping[str, Any], bool], Battle]
"""A row (and whether null replies are allowed) to a Battle, or a RowProblem raised."""


class ParseArrow(Protocol):
    """A whole Arrow batch to its Battles and Rejects, in row order, exactly as `Parse` row by
    row would give them (a property test compares the two); `first_row`: the source row number
    (from 1) of the batch's first row."""

    def __call__(
        self, batch: Any, *, first_row: int, allow_null_turns: bool = False
    ) -> list[Battle | Reject]: ...


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
class Layout:
    """One release's layout: the contract every module of this package fills (as `LAYOUT`)."""

    name: str
    """What `--layout` and the metadata call it."""
    source: str
    """The Hugging Face dataset it comes from."""
    required: tuple[str, ...]
    """Columns without which a file is not this layout."""
    markers: tuple[str, ...]
    """Columns, any one of which identifies this layout (empty: the required ones suffice)."""
    labels: Mapping[str, Vote]
    """The release's vote labels, each with the vote it is (mapped here, at the edge)."""
    parse: Parse
    """The row check: this layout's row to a Battle (the pieces are in `layouts.checks`)."""
    order: int
    """Detection tries layouts in this order, the most specific first: the first that fits."""
    id_column: str = "question_id"
    """The column that holds a battle's id (printed in messages, kept as question_id)."""
    flat: bool = False
    """Every column is a string or number (texts as JSON-encoded lists), so CSV can hold it."""
    battle_ids: bool = True
    """Each battle has its own id (false for mt_bench: one question, many judgments)."""
    arena_columns: bool = False
    """A Parquet file of this layout is read as the arena schema's columns only (the
    moderation structs by their `flagged` leaves); otherwise every column but
    `full_conversation`."""
    parse_arrow: ParseArrow | None = None
    """The same checks over a whole Arrow batch (a Parquet file's), faster; None: row by row."""

    @property
    def votes(self) -> tuple[Vote, ...]:
        """The votes its labels can be, in `battle.VOTES`' order."""
        return tuple(v for v in VOTES if v in self.labels.values())

    def parquet_columns(self, schema: Any) -> tuple[str, ...]:
        """The columns (or struct leaves) to read from a Parquet file of this layout with Arrow
        schema `schema`."""
        if not self.arena_columns:  # full_conversation (140k) repeats earlier votes' turns
            return tuple(c for c in schema.names if c != "full_conversation")
        return tuple(
            leaf
            for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
            if c in schema.names
            for leaf in _flag_leaves(c, schema.field(c).type)
        )


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


def _source_tokens(meta: object) -> dict[str, int] | None:
    """The release's own integer token counts in conv_metadata (keys ending in `_tokens`)."""
    if not isinstance(meta, Mapping):
        return None
    counts = {
        k: v
        for k, v in sorted(meta.items())
        if k.endswith("_tokens") and isinstance(v, int) and not isinstance(v, bool)
    }
    return counts or None


CATEGORY_COLUMNS = ("is_code", "is_refusal", "dedup_tag", "category_tag")
"""Columns of the 100k / 140k releases that label battles yes or no (nested dicts flattened)."""


def _categories(row: Mapping[str, Any]) -> dict[str, bool] | None:
    """The release's yes/no labels, flattened: `is_code`, `dedup_tag.high_freq`,
    `category_tag.math_v0.1.math`, ... (other values, such as scores, are left out)."""
    out: dict[str, bool] = {}

    def walk(name: str, value: object) -> None:
        if isinstance(value, bool):
            out[name] = value
        elif isinstance(value, Mapping):
            for k, v in sorted(value.items()):
                walk(f"{name}.{k}", v)

    for column in CATEGORY_COLUMNS:
        walk(column, row.get(column))
    return out or None


def release_extras(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the 100k / 140k releases ship beside the texts: their token and markdown counts
    (conv_metadata) and their category labels."""
    meta = row.get("conv_metadata")
    return {
        "source_tokens": _source_tokens(meta),
        "source_style": release_counts(meta),
        "categories": _categories(row),
    }
