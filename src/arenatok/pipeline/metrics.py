"""Per-battle token metrics: pure functions of token counts. All counts are tokens.

Turn i pairs user message i (shared by both sides) with answer i of model A and of model B.
"""

from __future__ import annotations

from collections.abc import Sequence

from arenatok.pipeline.records import ChatOverhead, Efficiency, TokenUsage, TurnUsage

DEFINITIONS: dict[str, str] = {
    "input_tokens": "tokens of user message i (the prompt of turn i).",
    "response_a_tokens": "tokens of model A's answer i (likewise response_b_tokens for model B).",
    "context_tokens_a": (
        "tokens model A reads at turn i when the whole history is resent: every earlier user "
        "message and A answer, plus user message i (likewise context_tokens_b)."
    ),
    "timestamp_offset": (
        "seconds from the battle's timestamp: 0.0 for turn 1; null for later turns, because "
        "the source has one timestamp per battle."
    ),
    "total_input_tokens": "sum of input_tokens: each user message counted once, not once per side.",
    "total_output_tokens_a": "sum of response_a_tokens (likewise total_output_tokens_b).",
    "total_tokens": "total_input_tokens + total_output_tokens_a + total_output_tokens_b.",
    "avg_tokens_per_turn": "total_tokens / number of user turns.",
    "input_output_ratio": "total_input_tokens / total_tokens: the share of input (0 if no tokens).",
    "coordination_overhead": (
        "|total_output_tokens_b - total_output_tokens_a| / total_tokens (0 if total is 0)."
    ),
    "full_state_input_tokens_a": "sum of context_tokens_a over turns (likewise _b).",
    "chat_overhead_tokens": (
        "with --chat-overhead openai, per turn: the chat-format tokens the OpenAI API bills on "
        "top of the texts when the whole history is resent: (3 + tokens of the role name) per "
        "message sent, plus 3 that prime the reply; the same for both sides."
    ),
    "full_state_chat_overhead_tokens": "sum of chat_overhead_tokens over turns.",
    "header_count": (
        "in style.turns[i].a (model A's answer i; .b for B): markdown headers, lines that start "
        "with 1 to 6 `#` and a space, outside fenced code blocks."
    ),
    "list_count": (
        "list items: lines that start (after spaces) with a number and `.`, or `-`, `*`, `+`, "
        "then a space, outside fenced code blocks."
    ),
    "bold_count": "bold spans, `**text**` or `__text__` within one line, outside code blocks.",
    "style.total_a": "each markdown count summed over model A's answers (likewise total_b).",
}
"""One line per metric; the README and artifact_metadata.json carry the same text."""


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def turn_usages(
    users: Sequence[int],
    answers_a: Sequence[int],
    answers_b: Sequence[int],
    *,
    has_timestamp: bool = True,
) -> list[TurnUsage]:
    """Per-turn counts and full-state context sizes; the three sequences have one entry per turn."""
    if not len(users) == len(answers_a) == len(answers_b):
        raise ValueError("users, answers_a and answers_b must have one count per turn")
    turns: list[TurnUsage] = []
    history_a = history_b = 0
    for i, u in enumerate(users):
        a, b = answers_a[i], answers_b[i]
        turns.append(
            {
                "turn_number": i + 1,
                "timestamp_offset": 0.0 if i == 0 and has_timestamp else None,
                "input_tokens": u,
                "response_a_tokens": a,
                "response_b_tokens": b,
                "context_tokens_a": history_a + u,
                "context_tokens_b": history_b + u,
            }
        )
        history_a += u + a
        history_b += u + b
    return turns


def efficiency(total_input: int, output_a: int, output_b: int, n_turns: int) -> Efficiency:
    """The report's three communication-efficiency ratios (see DEFINITIONS)."""
    total = total_input + output_a + output_b
    return {
        "avg_tokens_per_turn": total / n_turns if n_turns else 0.0,
        "input_output_ratio": _share(total_input, total),
        "coordination_overhead": _share(abs(output_b - output_a), total),
    }


def token_usage(
    users: Sequence[int],
    answers_a: Sequence[int],
    answers_b: Sequence[int],
    *,
    has_timestamp: bool = True,
) -> TokenUsage:
    """All token metrics of one battle from the per-turn counts."""
    turns = turn_usages(users, answers_a, answers_b, has_timestamp=has_timestamp)
    total_input = sum(users)
    out_a = sum(answers_a)
    out_b = sum(answers_b)
    return {
        "turns": turns,
        "total_input_tokens": total_input,
        "total_output_tokens_a": out_a,
        "total_output_tokens_b": out_b,
        "total_tokens": total_input + out_a + out_b,
        "communication_efficiency": efficiency(total_input, out_a, out_b, len(turns)),
        "full_state": {
            "full_state_input_tokens_a": sum([t["context_tokens_a"] for t in turns]),
            "full_state_input_tokens_b": sum([t["context_tokens_b"] for t in turns]),
        },
    }


def chat_overhead(n_turns: int, role_tokens: dict[str, int]) -> ChatOverhead:
    """OpenAI chat-format tokens per request when the whole history is resent (the OpenAI
    cookbook's count): request i sends i user and i - 1 assistant messages, each costing 3 plus
    the tokens of its role name, and 3 more prime the reply. Never added to the plain counts."""
    per_user = 3 + role_tokens["user"]
    per_answer = 3 + role_tokens["assistant"]
    turns = [per_user * i + per_answer * (i - 1) + 3 for i in range(1, n_turns + 1)]
    return {"scheme": "openai", "turns": turns, "full_state_chat_overhead_tokens": sum(turns)}


__all__ = ["DEFINITIONS", "chat_overhead", "efficiency", "token_usage", "turn_usages"]
