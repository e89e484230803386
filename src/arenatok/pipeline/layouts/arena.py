"""lmsys/chatbot_arena_conversations (the 33K battles): the arena schema itself, checked by
`sources.checks.battle_from_row`."""

from __future__ import annotations

from arenatok.pipeline.battle import ARENA_LABELS
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS, Layout
from arenatok.pipeline.sources.checks import battle_from_row

LAYOUT = Layout(
    "arena",
    "lmsys/chatbot_arena_conversations",
    REQUIRED_COLUMNS,
    ("tstamp", "anony", "language", "openai_moderation", "toxic_chat_tag"),
    ARENA_LABELS,
    battle_from_row,
    order=40,
    arena_columns=True,
)
