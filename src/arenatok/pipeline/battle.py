"""What every source's rows become: a `Battle` (made only by `layouts.checks.new_battle`,
after its checks), or a `Reject` with the reason (a `RowProblem` raised); and the human vote
(`Vote`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Vote = Literal["model_a", "model_b", "tie", "tie (bothbad)"]
"""The human vote of a battle, in the words of lmsys/chatbot_arena_conversations: the one
vocabulary of every record, report and bench. Each layout maps its release's own labels onto it
at its edge (`layouts.base.Layout.labels`: `both_bad` is `tie (bothbad)`, MT-bench's
`tie (inconsistent)` a `tie`)."""
VOTES: tuple[Vote, ...] = get_args(Vote)
ARENA_LABELS: dict[str, Vote] = {o: o for o in VOTES}
"""The arena's own labels, each the outcome of its name (the other layouts map theirs)."""
DECISIVE: tuple[Vote, ...] = ("model_a", "model_b")
"""The votes that name a winner."""
SCORE_A: dict[Vote, float] = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
"""Model A's score in a vote: 1 a win, 0 a loss, a half for a tie of either kind (as the
arena's Bradley-Terry counts it)."""


class RowProblem(ValueError):
    """A row fails a check; the message is the reason."""


def vote(label: str) -> Vote:
    """A record's `winner` as the vote it is (a ValueError if it is none: the reader of a build
    refuses such a record before anything reads it)."""
    if label not in VOTES:
        raise ValueError(f"{label!r} is not a vote")
    return label


@dataclass(slots=True)
class Battle:
    """One arena battle after its checks: turn i is (users[i], answers_a[i], answers_b[i]).
    Not changed once made (not frozen only because a frozen dataclass is made three times
    slower, and a build makes one per row)."""

    question_id: str
    model_a: str
    model_b: str
    winner: Vote
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
