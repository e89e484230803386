"""lmsys/chatbot_arena_conversations (the 33K battles): the arena schema itself, checked row by
row (`rows.battle_from_row`, the definition) or, for an Arrow batch, all at once
(`arrow.battles_from_arrow`, the same checks as masks)."""

from __future__ import annotations

from arenatok.pipeline.battle import ARENA_LABELS
from arenatok.pipeline.layouts.arena.arrow import battles_from_arrow
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS, Layout

LAYOUT = Layout(
    "arena",
    "lmsys/chatbot_arena_conversations",
    REQUIRED_COLUMNS,
    ("tstamp", "anony", "language", "openai_moderation", "toxic_chat_tag"),
    ARENA_LABELS,
    battle_from_row,
    order=40,
    arena_columns=True,
    parse_arrow=battles_from_arrow,
)
