"""What every source's rows become: a `Battle` (made only by `sources.checks.new_battle`,
after its checks), or a `Reject` with the reason; and the arena's vote labels."""

from __future__ import annotations

from dataclasses import dataclass

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
"""The human votes of lmsys/chatbot_arena_conversations, kept verbatim. Other releases use other
labels (`both_bad`, `tie (inconsistent)`); each format lists its own, and none is mapped onto
another."""


@dataclass(slots=True)
class Battle:
    """One arena battle after its checks: turn i is (users[i], answers_a[i], answers_b[i]).
    Not changed once made (not frozen only because a frozen dataclass is made three times
    slower, and a build makes one per row)."""

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
