"""Each known release's rows mapped to a `Battle`: one parse function per release, built
from the shared checks of `check` (the layouts that name these functions: `formats`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from arenatok.check import (
    RowProblem,
    as_mapping,
    battle_from_row,
    both_sides,
    check_turn,
    head_fields,
    is_whole,
    meta_fields,
    new_battle,
    show,
    timestamp,
)
from arenatok.records import Battle
from arenatok.style import release_counts

# ---- lmsys/chatbot_arena_conversations (33K) and lmarena-ai/arena-human-preference-100k ---------


def arena(row: Mapping[str, Any], allow_null: bool) -> Battle:
    return battle_from_row(row, allow_null)


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


def _release_extras(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the 100k / 140k releases ship beside the texts: their token and markdown counts
    (conv_metadata) and their category labels."""
    meta = row.get("conv_metadata")
    return {
        "source_tokens": _source_tokens(meta),
        "source_style": release_counts(meta),
        "categories": _categories(row),
    }


def arena_100k(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    judge = row.get("judge_hash", row.get("judge"))
    head = head_fields(row)
    users, answers_a, answers_b, nulls = both_sides(row, allow_null)
    check_turn(row.get("turn"), len(users))
    return new_battle(
        {**head, **meta_fields({**row, "judge": judge})},
        users,
        answers_a,
        answers_b,
        null_turns=nulls,
        **_release_extras(row),
    )


# ---- lmsys/mt_bench_human_judgments -----------------------------------------------------------

MT_BENCH_WINNERS = ("model_a", "model_b", "tie", "tie (inconsistent)")


def mt_bench(row: Mapping[str, Any], allow_null: bool) -> Battle:
    """Many judgments per question: one record per (question, judge, judged turn). `turn` is
    the turn that was judged, not the number of turns."""
    row = as_mapping(row)
    qid = row.get("question_id")
    qid = str(qid) if is_whole(qid) else qid
    head = head_fields({**row, "question_id": qid}, MT_BENCH_WINNERS)
    users, answers_a, answers_b, nulls = both_sides(row, allow_null)
    judged = row.get("turn")
    if not is_whole(judged) or not 1 <= judged <= len(users):
        raise RowProblem(f"turn {show(judged)} is not a turn of the {len(users)}-turn conversation")
    return new_battle(
        {**head, **meta_fields(row)},
        users,
        answers_a,
        answers_b,
        null_turns=nulls,
        judged_turn=judged,
    )


# ---- lmsys/lmsys-arena-human-preference-55k (the Kaggle train.csv) ------------------------------

KAGGLE_WINNERS = ("model_a", "model_b", "tie")
"""The 55k release has one-hot columns; its `tie` covers both tie and tie (bothbad)."""


def _json_list(row: Mapping[str, Any], key: str, allow_null: bool) -> tuple[list[str], int]:
    """A JSON-encoded list of strings; null entries become "" (and are counted) if allowed."""
    raw = row.get(key)
    try:
        items = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list) or not items:
        raise RowProblem(f"{key} must be a JSON-encoded non-empty list of strings, got {show(raw)}")
    texts: list[str] = []
    nulls = 0
    for i, item in enumerate(items):
        if item is None:
            if not allow_null:
                raise RowProblem(
                    f"{key}[{i}] is null (pass --allow-null-turns to count it as an empty reply)"
                )
            nulls += 1
            item = ""
        if not isinstance(item, str):
            raise RowProblem(f"{key}[{i}] must be a string, got {show(item)}")
        texts.append(item)
    return texts, nulls


def _flag_int(value: object) -> object:
    """0 or 1, from an integer or its text (CSV columns are read as text)."""
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value)
    return value


def kaggle(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    qid = row.get("id")
    qid = str(qid) if is_whole(qid) else qid
    votes = [_flag_int(row.get(f"winner_{w}")) for w in ("model_a", "model_b", "tie")]
    if not all(type(v) is int for v in votes) or sorted(votes) != [0, 0, 1]:  # type: ignore[type-var]
        raise RowProblem(
            f"winner_model_a / winner_model_b / winner_tie must be one-hot, got {votes}"
        )
    winner = KAGGLE_WINNERS[votes.index(1)]
    head = head_fields({**row, "question_id": qid, "winner": winner}, KAGGLE_WINNERS)
    users, null_users = _json_list(row, "prompt", False)
    answers_a, nulls_a = _json_list(row, "response_a", allow_null)
    answers_b, nulls_b = _json_list(row, "response_b", allow_null)
    if not len(users) == len(answers_a) == len(answers_b):
        raise RowProblem(
            f"prompt, response_a and response_b have {len(users)}, {len(answers_a)} and "
            f"{len(answers_b)} entries; they must have one per turn"
        )
    return new_battle(
        {**head, **meta_fields({})},
        users,
        answers_a,
        answers_b,
        null_turns=null_users + nulls_a + nulls_b,
    )


# ---- lmarena-ai/arena-human-preference-140k -----------------------------------------------------

ARENA_140K_WINNERS = ("model_a", "model_b", "tie", "both_bad")


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
            if kind == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise RowProblem(
                        f"{key}[{i}].content[{j}].text must be a string, got {show(text)}"
                    )
                texts.append(text)
            elif isinstance(kind, str):
                images += 1
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


def arena_140k(row: Mapping[str, Any], allow_null: bool) -> Battle:
    row = as_mapping(row)
    head = head_fields(row, ARENA_140K_WINNERS, id_key="id")
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
        **_release_extras(row),
    )
