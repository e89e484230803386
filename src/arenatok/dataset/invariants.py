"""The metric definitions of a record, checked from its per-turn counts without the code that
computed them (`invariants`): what `dataset.check.check_record` adds to the record schema."""

from __future__ import annotations

import math
from typing import Any

from arenatok.pipeline.battle import VOTES
from arenatok.pipeline.records import Record
from arenatok.pipeline.style import markdown_counts, total


def _usage_invariants(u: Any, has_timestamp: bool, where: str) -> list[str]:
    """The metric definitions (README, Metrics), checked from the per-turn counts without the
    code that computed them."""
    turns = u["turns"]
    wrong = []
    inp = [t["input_tokens"] for t in turns]
    out_a = [t["response_a_tokens"] for t in turns]
    out_b = [t["response_b_tokens"] for t in turns]
    for i, t in enumerate(turns):
        if t["turn_number"] != i + 1:
            wrong.append(f"{where}.turns[{i}].turn_number is {t['turn_number']}, not {i + 1}")
        offset = 0.0 if i == 0 and has_timestamp else None
        if t["timestamp_offset"] != offset:
            wrong.append(f"{where}.turns[{i}].timestamp_offset should be {offset}")
        for side, answers in (("a", out_a), ("b", out_b)):
            history = sum(inp[:i]) + sum(answers[:i]) + inp[i]
            if t[f"context_tokens_{side}"] != history:
                wrong.append(
                    f"{where}.turns[{i}].context_tokens_{side} is not the tokens of the earlier "
                    f"turns (user and {side.upper()}) plus this user message"
                )
    ti, ta, tb = sum(inp), sum(out_a), sum(out_b)
    total_tokens = ti + ta + tb
    sums = {
        "total_input_tokens": ti,
        "total_output_tokens_a": ta,
        "total_output_tokens_b": tb,
        "total_tokens": total_tokens,
    }
    for key, value in sums.items():
        if u[key] != value:
            wrong.append(f"{where}.{key} is {u[key]}, the per-turn counts give {value}")
    ratios = {
        "avg_tokens_per_turn": total_tokens / len(turns),
        "input_output_ratio": ti / total_tokens if total_tokens else 0.0,
        "coordination_overhead": abs(tb - ta) / total_tokens if total_tokens else 0.0,
    }
    for key, value in ratios.items():
        got = u["communication_efficiency"][key]
        if not math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-12):
            wrong.append(
                f"{where}.communication_efficiency.{key} is {got}, the counts give {value}"
            )
        if key != "avg_tokens_per_turn" and not 0.0 <= got <= 1.0:
            wrong.append(f"{where}.communication_efficiency.{key} = {got} is outside [0, 1]")
    for side in ("a", "b"):
        full = sum(t[f"context_tokens_{side}"] for t in turns)
        if u["full_state"][f"full_state_input_tokens_{side}"] != full:
            wrong.append(f"{where}.full_state_input_tokens_{side} is not the sum of its contexts")
    chat = u.get("chat_overhead")
    if chat is not None and (
        len(chat["turns"]) != len(turns)
        or chat["full_state_chat_overhead_tokens"] != sum(chat["turns"])
    ):
        wrong.append(f"{where}.chat_overhead does not have one entry per turn summing up")
    return wrong


def _style_invariants(c: Any) -> list[str]:
    """context.style: one entry per turn, each the markdown counts of that turn's answers, and
    the totals their sums."""
    st, conv = c["style"], c["conversation"]
    if len(st["turns"]) != len(conv):
        return ["style.turns and conversation differ in length"]
    wrong = []
    for side in ("a", "b"):
        counts = [markdown_counts(t[f"response_{side}"]) for t in conv]
        for i, (got, want) in enumerate(zip((t[side] for t in st["turns"]), counts, strict=True)):
            if got != want:
                wrong.append(f"style.turns[{i}].{side} is {got}, the answer gives {want}")
        if st[f"total_{side}"] != total(counts):
            wrong.append(f"style.total_{side} is not the sum of its turns")
    return wrong


def invariants(record: Record) -> list[str]:
    """What must hold between the fields of one record that matches the schema."""
    c = record["context"]
    u = c["token_usage"]
    turns = u["turns"]
    if not turns or len(turns) != len(c["conversation"]):
        return ["token_usage.turns and conversation differ in length"]
    has_timestamp = c["api_metadata"]["timestamp"] is not None
    wrong = _usage_invariants(u, has_timestamp, "token_usage")
    for name, extra in (c.get("extra_token_usage") or {}).items():
        if len(extra["turns"]) != len(turns):
            wrong.append(f"extra_token_usage.{name}.turns and conversation differ in length")
        else:
            wrong += _usage_invariants(extra, has_timestamp, f"extra_token_usage.{name}")
    wrong += _style_invariants(c)
    first = c["conversation"][0]
    if (record["input"], c["response_a"], c["response_b"]) != (
        first["user"],
        first["response_a"],
        first["response_b"],
    ):
        wrong.append("input / response_a / response_b are not the first turn of conversation")
    if c["winner"] not in VOTES:
        wrong.append(f"winner {c['winner']!r} is not a vote ({', '.join(VOTES)})")
    if record["output"] != f"Winner: {c['winner']}":
        wrong.append(f"output {record['output']!r} does not name the winner {c['winner']!r}")
    return wrong
