"""Checks that turn source rows into Battles, or say why a row cannot be used.

`battle_from_row` is the definition. `battles_from_arrow` gives the same result for a whole
Arrow batch, faster: the conversations of every row are checked at once with Arrow compute, and
only the rows that fail go through `battle_from_row`, which names the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from arenatok.records import WINNERS, Battle, Reject


class RowProblem(ValueError):
    """A row fails a check; the message is the reason."""


def _show(v: object) -> str:
    """A short description of a value for a reason: its type and the start of its repr."""
    if v is None:
        return "null"
    if isinstance(v, str | bytes) and len(v) > 60:
        v = v[:61]  # repr of a huge text would be huge: cut first, then mark the cut below
    try:
        r = repr(v)
    except (RecursionError, ValueError):  # nested too deeply, or an int too long to print
        r = "..."
    return f"{type(v).__name__} {r[:60]}{'...' if len(r) > 60 else ''}"


def _text(row: Mapping[str, Any], key: str) -> str:
    v = row.get(key)
    if not isinstance(v, str) or not v:
        raise RowProblem(f"{key} must be a non-empty string, got {_show(v)}")
    return v


def _optional(row: Mapping[str, Any], key: str, kind: type) -> Any:
    v = row.get(key)
    if v is not None and (not isinstance(v, kind) or (kind is not bool and isinstance(v, bool))):
        raise RowProblem(f"{key} must be a {kind.__name__} or null, got {_show(v)}")
    return v


def _flag(value: object, key: str, path: tuple[str, ...]) -> bool | None:
    """A boolean flag nested in a struct column (null if the column or flag is absent)."""
    for part in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise RowProblem(f"{key} must be an object or null, got {_show(value)}")
        value = value.get(part)
    if value is not None and not isinstance(value, bool):
        raise RowProblem(f"{key}.{'.'.join(path)} must be a bool or null, got {_show(value)}")
    return value


def _messages(row: Mapping[str, Any], key: str) -> tuple[list[str], list[str]]:
    """The user and assistant texts of one side, after the role and type checks."""
    conv = row.get(key)
    if not isinstance(conv, list) or not conv:
        raise RowProblem(f"{key} must be a non-empty list of messages, got {_show(conv)}")
    users: list[str] = []
    answers: list[str] = []
    for i, m in enumerate(conv):
        if not isinstance(m, Mapping):
            raise RowProblem(f"{key}[{i}] is not a message object: {_show(m)}")
        expected = "assistant" if i % 2 else "user"
        role = m.get("role")
        if role != expected:
            raise RowProblem(
                f"{key}[{i}].role is {_show(role)}, expected {expected!r} "
                "(roles alternate user/assistant, starting with user)"
            )
        content = m.get("content")
        if not isinstance(content, str):
            raise RowProblem(f"{key}[{i}].content must be a string, got {_show(content)}")
        (answers if i % 2 else users).append(content)
    if len(conv) % 2:
        raise RowProblem(f"{key} ends with a user message; it must end with an assistant answer")
    return users, answers


def _head(row: Mapping[str, Any], winners: Sequence[str] = WINNERS) -> tuple[str, str, str, str]:
    """question_id, model_a, model_b, winner: the checks made before the conversations."""
    qid = _text(row, "question_id")
    model_a = _text(row, "model_a")
    model_b = _text(row, "model_b")
    if model_a == model_b:
        raise RowProblem(f"model_a and model_b are the same model ({model_a!r})")
    winner = row.get("winner")
    if not isinstance(winner, str) or winner not in winners:
        raise RowProblem(f"winner is {_show(winner)}, expected one of {', '.join(winners)}")
    return qid, model_a, model_b, winner


def _finish(
    row: Mapping[str, Any],
    head: tuple[str, str, str, str],
    users: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
) -> Battle:
    """The checks made after the conversations, and the Battle."""
    turn = row.get("turn")
    if not isinstance(turn, int) or isinstance(turn, bool) or turn != len(users):
        raise RowProblem(f"turn is {_show(turn)} but the conversation has {len(users)} turns")
    tstamp = row.get("tstamp")
    if tstamp is not None:
        if not isinstance(tstamp, int | float) or isinstance(tstamp, bool):
            raise RowProblem(f"tstamp must be a number or null, got {_show(tstamp)}")
        if not math.isfinite(tstamp):
            raise RowProblem(f"tstamp is not finite ({tstamp})")
        tstamp = float(tstamp)
    toxic = row.get("toxic_chat_tag")
    toxic_flags = (
        [_flag(toxic, "toxic_chat_tag", (k, "flagged")) for k in toxic]
        if isinstance(toxic, Mapping)
        else [_flag(toxic, "toxic_chat_tag", ("flagged",))]
    )
    known = [f for f in toxic_flags if f is not None]
    qid, model_a, model_b, winner = head
    return Battle(
        question_id=qid,
        model_a=model_a,
        model_b=model_b,
        winner=winner,
        users=tuple(users),
        answers_a=tuple(answers_a),
        answers_b=tuple(answers_b),
        judge=_optional(row, "judge", str),
        anony=_optional(row, "anony", bool),
        language=_optional(row, "language", str),
        tstamp=tstamp,
        openai_moderation_flagged=_flag(
            row.get("openai_moderation"), "openai_moderation", ("flagged",)
        ),
        toxic_chat_flagged=any(known) if known else None,
    )


def battle_from_row(row: object) -> Battle:
    """Check one arena-schema row and return its Battle; raise RowProblem with the reason."""
    if isinstance(row, RowProblem):
        raise row
    if not isinstance(row, Mapping):
        raise RowProblem(f"row is not an object: {_show(row)}")
    head = _head(row)
    users, answers_a = _messages(row, "conversation_a")
    users_b, answers_b = _messages(row, "conversation_b")
    if len(users) != len(users_b):
        raise RowProblem(
            f"conversation_a has {len(users)} turns but conversation_b has {len(users_b)}"
        )
    for i, (ua, ub) in enumerate(zip(users, users_b, strict=True)):
        if ua != ub:
            raise RowProblem(f"user message of turn {i + 1} differs between the two sides")
    return _finish(row, head, users, answers_a, answers_b)


def plain_id(row: object) -> str | None:
    """The question_id of a row for a reject entry: as it is when a string, else a short
    description of whatever is there (null when absent)."""
    qid = row.get("question_id") if isinstance(row, Mapping) else None
    if qid is None or isinstance(qid, str):
        return qid
    return _show(qid)


def parse_rows(
    rows: Sequence[object],
    *,
    start: int,
    parse: Callable[[Any], Battle] = battle_from_row,
) -> list[Battle | Reject]:
    """Each row checked by `parse`, in order; `start` is the source row number of rows[0]."""
    out: list[Battle | Reject] = []
    for i, row in enumerate(rows):
        try:
            out.append(parse(row))
        except RowProblem as e:
            out.append(Reject(start + i, plain_id(row), str(e)))
    return out


QUALITY_FLAGS: dict[str, str] = {
    "empty_prompt": "a user message is empty or only whitespace.",
    "empty_response_a": "an answer of model A is empty or only whitespace (likewise _b).",
    "empty_response_b": "an answer of model B is empty or only whitespace.",
    "null_turn": "a reply was null in the source; it is counted as empty (--allow-null-turns).",
    "identical_responses": "model A's and model B's answers are the same at every turn.",
    "special_token_text": (
        "a message contains the text of a tiktoken special token (such as <|endoftext|>); "
        "it is counted as ordinary text."
    ),
    "multi_turn": "the battle has more than one turn.",
    "image_parts": "the source has non-text parts (images); only the text is counted.",
}
"""Data-quality flags of a record: facts about the battle worth knowing, never a reason to drop
it. The README and artifact_metadata.json carry the same text."""

SPECIAL_TOKEN_TEXTS = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|endofprompt|>",
)


def _blank(text: str) -> bool:
    return not text or text.isspace()


def quality_flags(battle: Battle) -> list[str]:
    """The QUALITY_FLAGS that hold for a battle, in their documented order."""
    b = battle
    holds = (
        ("empty_prompt", any(map(_blank, b.users))),
        ("empty_response_a", any(map(_blank, b.answers_a))),
        ("empty_response_b", any(map(_blank, b.answers_b))),
        ("null_turn", b.null_turns > 0),
        ("identical_responses", b.answers_a == b.answers_b),
        (
            "special_token_text",
            any(
                "<|" in t and any(s in t for s in SPECIAL_TOKEN_TEXTS)
                for t in (*b.users, *b.answers_a, *b.answers_b)
            ),
        ),
        ("multi_turn", len(b.users) > 1),
        ("image_parts", b.image_parts > 0),
    )
    return [flag for flag, holds_ in holds if holds_]


# ---- the same, vectorised over an Arrow batch ----------------------------------------------

_CONVERSATIONS = ("conversation_a", "conversation_b")


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _message_lists(batch: Any) -> bool:
    """True when both conversations are lists of {content: string, role: string} structs."""
    import pyarrow as pa

    for name in _CONVERSATIONS:
        if name not in batch.schema.names:
            return False
        t = batch.schema.field(name).type
        if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
            return False
        item = t.value_type
        if not pa.types.is_struct(item):
            return False
        for field in ("content", "role"):
            i = item.get_field_index(field)
            if i < 0 or not _is_text(item.field(i).type):
                return False
    return True


def battles_from_arrow(batch: Any, *, start: int) -> list[Battle | Reject]:
    """`parse_rows(batch.to_pylist(), start=start)`, computed without building a dict per
    message: a row whose conversations pass the vectorised checks (same turn count on both
    sides, roles alternating from user to assistant, no null message or text, equal user
    messages) is built from flat text lists; any other row goes through `battle_from_row`."""
    import numpy as np
    import pyarrow.compute as pc

    n = batch.num_rows
    if n == 0:
        return []
    if not _message_lists(batch):
        return parse_rows(batch.to_pylist(), start=start)
    conv_a, conv_b = (batch.column(c) for c in _CONVERSATIONS)
    len_a = pc.list_value_length(conv_a).fill_null(-1).to_numpy()
    len_b = pc.list_value_length(conv_b).fill_null(-1).to_numpy()
    fast = (len_a == len_b) & (len_a > 0) & (len_a % 2 == 0)
    if not fast.all():
        # Flat message arrays line up across the two sides only where the lengths agree.
        keep, rest = np.flatnonzero(fast), np.flatnonzero(~fast)
        parts = (
            (keep, battles_from_arrow(batch.take(keep), start=0)),
            (rest, parse_rows(batch.take(rest).to_pylist(), start=0)),
        )
        merged: list[Battle | Reject | None] = [None] * n
        for where, items in parts:
            for j, item in zip(where.tolist(), items, strict=True):
                merged[j] = item if isinstance(item, Battle) else replace(item, row=start + j)
        return [x for x in merged if x is not None]

    flat_a, flat_b = pc.list_flatten(conv_a), pc.list_flatten(conv_b)
    parent = pc.list_parent_indices(conv_a).to_numpy()
    first = np.concatenate(([0], np.cumsum(len_a)[:-1]))
    answer = ((np.arange(len(parent)) - first[parent]) % 2).astype(bool)
    good_message = np.ones(len(parent), dtype=bool)
    texts = []
    for flat in (flat_a, flat_b):
        content = pc.struct_field(flat, "content")
        role = pc.struct_field(flat, "role")
        is_user = pc.equal(role, "user").fill_null(False).to_numpy(zero_copy_only=False)
        is_answer = pc.equal(role, "assistant").fill_null(False).to_numpy(zero_copy_only=False)
        good_message &= np.where(answer, is_answer, is_user)
        good_message &= flat.is_valid().to_numpy(zero_copy_only=False)
        good_message &= content.is_valid().to_numpy(zero_copy_only=False)
        texts.append(content)
    same = pc.equal(texts[0], texts[1]).fill_null(False).to_numpy(zero_copy_only=False)
    good_message &= answer | same
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[parent[~good_message]] = True

    text_a, text_b = texts[0].to_pylist(), texts[1].to_pylist()
    meta = _arrow_meta(batch, len_a // 2)
    if meta is not None:
        ok, values = meta
        bad_rows |= ~ok
    bad = np.flatnonzero(bad_rows)
    slow_rows = dict(zip(bad.tolist(), batch.take(bad).to_pylist(), strict=True))
    if meta is None:  # unusual column types: the metadata is checked row by row
        columns = [c for c in batch.schema.names if c not in _CONVERSATIONS]
        lists = [batch.column(c).to_pylist() for c in columns]
        rows = [dict(zip(columns, v, strict=True)) for v in zip(*lists, strict=True)]
    out: list[Battle | Reject] = []
    for i in range(n):
        try:
            if i in slow_rows:
                out.append(battle_from_row(slow_rows[i]))
                continue
            o, k = int(first[i]), int(len_a[i])
            users, answers_a, answers_b = (
                text_a[o : o + k : 2],
                text_a[o + 1 : o + k : 2],
                text_b[o + 1 : o + k : 2],
            )
            if meta is None:
                out.append(_finish(rows[i], _head(rows[i]), users, answers_a, answers_b))
            else:
                out.append(
                    Battle(
                        values["question_id"][i],
                        values["model_a"][i],
                        values["model_b"][i],
                        values["winner"][i],
                        tuple(users),
                        tuple(answers_a),
                        tuple(answers_b),
                        values["judge"][i],
                        values["anony"][i],
                        values["language"][i],
                        values["tstamp"][i],
                        values["openai_moderation"][i],
                        values["toxic_chat_tag"][i],
                    )
                )
        except RowProblem as e:
            source_row = slow_rows[i] if i in slow_rows else rows[i]
            out.append(Reject(start + i, plain_id(source_row), str(e)))
    return out


def _arrow_meta(batch: Any, n_users: Any) -> tuple[Any, dict[str, list[Any]]] | None:
    """For the non-conversation columns: a mask of the rows that pass every check of `_head`
    and `_finish`, and each column's values as `battle_from_row` would take them (flags
    already reduced). None when a column's type is not the usual one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = batch.schema
    n = batch.num_rows
    ok = np.ones(n, dtype=bool)
    values: dict[str, list[Any]] = {}

    def mask(a: Any) -> Any:
        return a.fill_null(False).to_numpy(zero_copy_only=False)

    def kind(name: str) -> Any:
        return schema.field(name).type if name in schema.names else None

    for name in ("question_id", "model_a", "model_b", "winner"):
        if kind(name) is None or not _is_text(kind(name)):
            return None
        col = batch.column(name)
        ok &= mask(pc.greater(pc.binary_length(col), 0))
        values[name] = col.to_pylist()
    ok &= mask(pc.not_equal(batch.column("model_a"), batch.column("model_b")))
    ok &= mask(pc.is_in(batch.column("winner"), value_set=pa.array(WINNERS)))
    turn = kind("turn")
    if turn is None or not pa.types.is_integer(turn):
        return None
    ok &= mask(pc.equal(batch.column("turn"), pa.array(n_users, type=turn)))
    for name, test in (
        ("judge", _is_text),
        ("language", _is_text),
        ("anony", pa.types.is_boolean),
        ("tstamp", lambda t: pa.types.is_floating(t) or pa.types.is_integer(t)),
    ):
        t = kind(name)
        if t is None:
            values[name] = [None] * n
            continue
        if not test(t):
            return None
        col = batch.column(name)
        if name == "tstamp":
            if pa.types.is_floating(t):
                ok &= mask(pc.or_kleene(pc.is_null(col), pc.is_finite(col)))
            col = col.cast(pa.float64())
        values[name] = col.to_pylist()
    for name in ("openai_moderation", "toxic_chat_tag"):
        flags = _arrow_flag(batch.column(name), name == "toxic_chat_tag") if kind(name) else None
        if kind(name) is not None and flags is None:
            return None
        values[name] = flags if flags is not None else [None] * n
    return ok, values


def _arrow_flag(col: Any, nested: bool) -> list[bool | None] | None:
    """`flagged` of a struct column (openai_moderation), or any known `flagged` of its struct
    children (toxic_chat_tag); None when the column has another shape."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def flagged(struct: Any) -> Any:
        t = struct.type
        if not pa.types.is_struct(t):
            return None
        i = t.get_field_index("flagged")
        if i < 0:
            return pa.nulls(len(struct), pa.bool_())
        if not pa.types.is_boolean(t.field(i).type):
            return None
        return pc.if_else(struct.is_valid(), pc.struct_field(struct, "flagged"), None)

    if not nested:
        f = flagged(col)
        return None if f is None else list(f.to_pylist())
    if not pa.types.is_struct(col.type):
        return None
    any_true = pa.array([False] * len(col))
    any_known = pa.array([False] * len(col))
    for child in range(col.type.num_fields):
        sub = pc.if_else(col.is_valid(), pc.struct_field(col, [child]), None)
        f = flagged(sub)
        if f is None:
            return None
        any_true = pc.or_(any_true, f.fill_null(False))
        any_known = pc.or_(any_known, f.is_valid())
    return list(pc.if_else(any_known, any_true, None).to_pylist())
