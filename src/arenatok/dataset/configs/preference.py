"""The `preference` config: the decisive battles (model_a or model_b) in the conversational
preference format that training libraries read (TRL's: `prompt`, `chosen`, `rejected`, each a
list of messages). The prompt is the first user message; `chosen` is the rest of the winner's
conversation (its answer, then any later user message and answer), `rejected` the loser's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from typing_extensions import TypedDict

from arenatok.dataset.configs.base import Config
from arenatok.pipeline.battle import DECISIVE, Vote, vote
from arenatok.pipeline.records import Record


class Message(TypedDict):
    """One message of a conversation: `role` user or assistant, and its text."""

    role: str
    content: str


class PreferenceRow(TypedDict):
    """A decisive battle as a preference pair, with the tokens of each side (`input_tokens`:
    every user message; `chosen_tokens`, `rejected_tokens`: every answer of that side)."""

    battle: int
    """Its place in data_out.jsonl, from 0: the key that joins the configs."""
    question_id: str
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    winner: Vote
    chosen_model: str
    rejected_model: str
    input_tokens: int
    chosen_tokens: int
    rejected_tokens: int
    quality_flags: list[str]


class _Side(NamedTuple):
    model: str
    tokens: int
    """Every answer's tokens."""
    answers: list[str]


def _sides(record: Record) -> tuple[_Side, _Side]:
    """Model A's side and model B's."""
    ctx = record["context"]
    usage, conversation = ctx["token_usage"], ctx["conversation"]
    a = [t["response_a"] for t in conversation]
    b = [t["response_b"] for t in conversation]
    return (
        _Side(ctx["model_a"], usage["total_output_tokens_a"], a),
        _Side(ctx["model_b"], usage["total_output_tokens_b"], b),
    )


def _messages(users: list[str], answers: list[str]) -> list[Message]:
    """A side's conversation after the first user message: its first answer, then each later
    user message and answer."""
    messages: list[Message] = [{"role": "assistant", "content": answers[0]}]
    for user, answer in zip(users[1:], answers[1:], strict=True):
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return messages


def rows(battle: int, record: Record) -> Iterator[PreferenceRow]:
    """The battle's pair, where its vote names a winner (none for a tie)."""
    ctx = record["context"]
    winner = vote(ctx["winner"])
    if winner not in DECISIVE:
        return
    a, b = _sides(record)
    won, lost = (a, b) if winner == "model_a" else (b, a)
    users = [t["user"] for t in ctx["conversation"]]
    yield {
        "battle": battle,
        "question_id": ctx["api_metadata"]["question_id"],
        "prompt": [{"role": "user", "content": users[0]}],
        "chosen": _messages(users, won.answers),
        "rejected": _messages(users, lost.answers),
        "winner": winner,
        "chosen_model": won.model,
        "rejected_model": lost.model,
        "input_tokens": ctx["token_usage"]["total_input_tokens"],
        "chosen_tokens": won.tokens,
        "rejected_tokens": lost.tokens,
        "quality_flags": ctx["quality_flags"],
    }


CONFIG = Config(
    "preference",
    "one row a decisive battle (model_a or model_b won) as a preference pair: prompt, chosen, "
    "rejected as lists of messages, the two models, and the tokens of each side",
    PreferenceRow,
    rows,
)
