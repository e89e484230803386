"""What a valid battle is: the checks every layout's `parse` is made of, the one maker of a
Battle (`new_battle`), and what is said of any battle (its texts' `text_problem`, its
`quality_flags`). The arena layout (`arena.rows.battle_from_row`) is the definition; the other
layouts reuse its pieces.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arenatok.options import is_whole
from arenatok.pipeline.battle import ARENA_LABELS, Battle, Reject, RowProblem, Vote
from arenatok.pipeline.encodings import SPECIAL_TOKEN_TEXTS


def show(v: object) -> str:
    """A short description of a value for a reason: its type and the start of its repr."""
    if v is None:
        return "null"
    if isinstance(v, str | bytes):
        v = v[:61]  # repr of a huge text would be huge: cut first, then mark the cut below
    try:
        r = repr(v)
    except (RecursionError, ValueError):  # nested too deeply, or an int too long to print
        r = "..."
    return f"{type(v).__name__} {r[:60]}{'...' if len(r) > 60 else ''}"


def as_mapping(row: object) -> Mapping[str, Any]:
    """The row as a mapping; a row that could not be read (a RowProblem) or is not an object
    raises its reason."""
    if isinstance(row, RowProblem):
        raise row
    if not isinstance(row, Mapping):
        raise RowProblem(f"row is not an object: {show(row)}")
    return row


def _text(row: Mapping[str, Any], key: str) -> str:
    v = row.get(key)
    if not isinstance(v, str) or not v:
        raise RowProblem(f"{key} must be a non-empty string, got {show(v)}")
    return v


def _optional(row: Mapping[str, Any], key: str, kind: type) -> Any:
    v = row.get(key)
    if v is not None and (not isinstance(v, kind) or (kind is not bool and isinstance(v, bool))):
        raise RowProblem(f"{key} must be a {kind.__name__} or null, got {show(v)}")
    return v


def _flag(value: object, key: str, path: tuple[str, ...]) -> bool | None:
    """A boolean flag nested in a struct column (null if the column or flag is absent)."""
    for part in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise RowProblem(f"{key} must be an object or null, got {show(value)}")
        value = value.get(part)
    if value is not None and not isinstance(value, bool):
        raise RowProblem(f"{key}.{'.'.join(path)} must be a bool or null, got {show(value)}")
    return value


def timestamp(value: object, key: str = "tstamp") -> float | None:
    """A timestamp in seconds as a float: finite, and a whole number only if a float holds it
    exactly (an int64 above 2^53 may not)."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RowProblem(f"{key} must be a number or null, got {show(value)}")
    if is_whole(value):
        try:
            as_float = float(value)
        except OverflowError:  # past the largest float
            as_float = math.inf
        if as_float != value:
            raise RowProblem(f"{key} {value} does not fit a 64-bit float exactly")
        return as_float
    if not math.isfinite(value):
        raise RowProblem(f"{key} is not finite ({value})")
    return float(value)


def messages(
    row: Mapping[str, Any], key: str, allow_null: bool
) -> tuple[list[str], list[str], int]:
    """The user and assistant texts of one side, after the role and type checks; with
    `allow_null`, a null answer counts as "" (the third value counts them)."""
    conv = row.get(key)
    if not isinstance(conv, list) or not conv:
        raise RowProblem(f"{key} must be a non-empty list of messages, got {show(conv)}")
    users: list[str] = []
    answers: list[str] = []
    nulls = 0
    for i, m in enumerate(conv):
        if not isinstance(m, Mapping):
            raise RowProblem(f"{key}[{i}] is not a message object: {show(m)}")
        expected = "assistant" if i % 2 else "user"
        role = m.get("role")
        if role != expected:
            raise RowProblem(
                f"{key}[{i}].role is {show(role)}, expected {expected!r} "
                "(roles alternate user/assistant, starting with user)"
            )
        content = m.get("content")
        if content is None and i % 2 and allow_null:
            content, nulls = "", nulls + 1
        if not isinstance(content, str):
            hint = " (pass --allow-null-turns to count a null reply as empty)" * (
                content is None and i % 2 == 1
            )
            raise RowProblem(f"{key}[{i}].content must be a string, got {show(content)}{hint}")
        (answers if i % 2 else users).append(content)
    if len(conv) % 2:
        raise RowProblem(f"{key} ends with a user message; it must end with an assistant answer")
    return users, answers, nulls


def head_fields(
    row: Mapping[str, Any],
    labels: Mapping[str, Vote] = ARENA_LABELS,
    id_key: str = "question_id",
) -> dict[str, Any]:
    """question_id, model_a, model_b, winner: the checks made before the conversations; the
    winner is the vote that the release's label (one of `labels`) is."""
    qid = _text(row, id_key)
    model_a = _text(row, "model_a")
    model_b = _text(row, "model_b")
    if model_a == model_b:
        raise RowProblem(f"model_a and model_b are the same model ({model_a!r})")
    label = row.get("winner")
    if not isinstance(label, str) or label not in labels:
        raise RowProblem(f"winner is {show(label)}, expected one of {', '.join(labels)}")
    return {"question_id": qid, "model_a": model_a, "model_b": model_b, "winner": labels[label]}


def check_turn(turn: object, n: int) -> None:
    """The `turn` column must be the number of turns (an integral float, 2.0, counts too)."""
    if isinstance(turn, float) and turn.is_integer():
        turn = int(turn)
    if not is_whole(turn):
        raise RowProblem(f"turn must be a whole number, got {show(turn)}")
    if turn != n:
        raise RowProblem(f"turn is {turn} but the conversation has {n} turns")


def meta_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """judge, anony, language, tstamp and the moderation flags, checked and reduced."""
    toxic = row.get("toxic_chat_tag")
    toxic_flags = (
        [_flag(toxic, "toxic_chat_tag", (k, "flagged")) for k in toxic]
        if isinstance(toxic, Mapping)
        else [_flag(toxic, "toxic_chat_tag", ("flagged",))]
    )
    known = [f for f in toxic_flags if f is not None]
    return {
        "judge": _optional(row, "judge", str),
        "anony": _optional(row, "anony", bool),
        "language": _optional(row, "language", str),
        "tstamp": timestamp(row.get("tstamp")),
        "openai_moderation_flagged": _flag(
            row.get("openai_moderation"), "openai_moderation", ("flagged",)
        ),
        "toxic_chat_flagged": any(known) if known else None,
    }


_TEXTS = (
    ("users", "a user message"),
    ("answers_a", "an answer of model A"),
    ("answers_b", "an answer of model B"),
)


def new_battle(
    fields: Mapping[str, Any],
    users: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    **extra: Any,
) -> Battle:
    """The one place a Battle is made: checked fields (`head_fields`, `meta_fields`, or
    their vectorised equal) and the texts of each turn, one of each per turn, every one a
    string (else a RowProblem, whatever layout forgot to check); `extra`: layout-specific
    fields."""
    if not users or not len(users) == len(answers_a) == len(answers_b):
        raise RowProblem(
            f"{len(users)} user messages, {len(answers_a)} answers of model A and "
            f"{len(answers_b)} of model B: a battle has one of each per turn, at least one turn"
        )
    for texts, (_, label) in zip((users, answers_a, answers_b), _TEXTS, strict=True):
        for i, text in enumerate(texts, 1):
            if not isinstance(text, str):
                raise RowProblem(f"{label} (turn {i}) must be a string, got {show(text)}")
    return Battle(
        **fields,
        users=tuple(users),
        answers_a=tuple(answers_a),
        answers_b=tuple(answers_b),
        **extra,
    )


def both_sides(
    row: Mapping[str, Any], allow_null: bool
) -> tuple[list[str], list[str], list[str], int]:
    """users, answers of A, answers of B, null replies: both conversations checked, with the
    same user messages."""
    users, answers_a, nulls_a = messages(row, "conversation_a", allow_null)
    users_b, answers_b, nulls_b = messages(row, "conversation_b", allow_null)
    if len(users) != len(users_b):
        raise RowProblem(
            f"conversation_a has {len(users)} turns but conversation_b has {len(users_b)}"
        )
    for i, (ua, ub) in enumerate(zip(users, users_b, strict=True)):
        if ua != ub:
            raise RowProblem(f"user message of turn {i + 1} differs between the two sides")
    return users, answers_a, answers_b, nulls_a + nulls_b


def plain_id(row: object, id_key: str = "question_id") -> str | None:
    """The id of a row for a reject entry: as it is when a string of Unicode text, else a short
    description of whatever is there (null when absent)."""
    qid = row.get(id_key) if isinstance(row, Mapping) else None
    if qid is None or (isinstance(qid, str) and _surrogate(qid) is None):
        return qid
    return show(qid)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate(text: str) -> re.Match[str] | None:
    """Where `text` holds a surrogate code point (JSON can spell one, `\\ud800`; Unicode text
    and UTF-8 cannot), or None. Free for ASCII text (`isascii` reads a flag)."""
    return None if text.isascii() else _SURROGATE.search(text)


def text_problem(battle: Battle) -> str | None:
    """Why a battle's texts are not Unicode text (a lone surrogate), or None: one policy for
    every reader, since such a text cannot be written as UTF-8."""
    where: list[tuple[str, str]] = []
    for name in ("question_id", "model_a", "model_b", "judge", "language"):
        value = getattr(battle, name)
        if isinstance(value, str):
            where.append((name, value))
    for name, label in _TEXTS:
        where += [(f"{label} (turn {i})", t) for i, t in enumerate(getattr(battle, name), 1)]
    for name in ("categories", "source_tokens", "source_style"):
        where += [(f"a key of {name}", k) for k in getattr(battle, name) or ()]
    for label, text in where:
        m = _surrogate(text)
        if m is not None:
            return (
                f"{label} holds a lone surrogate U+{ord(m.group()):04X} at character "
                f"{m.start()}: not Unicode text (it cannot be written as UTF-8)"
            )
    return None


def parse_rows(
    rows: Sequence[object],
    *,
    first_row: int,
    parse: Callable[[Any], Battle],
    id_key: str = "question_id",
) -> list[Battle | Reject]:
    """Each row checked by `parse`, in order; `first_row` is the source row number (from 1)
    of rows[0]."""
    out: list[Battle | Reject] = []
    for i, row in enumerate(rows):
        try:
            battle = parse(row)
            why = text_problem(battle)
            if why is not None:
                raise RowProblem(why)
            out.append(battle)
        except RowProblem as e:
            out.append(Reject(first_row + i, plain_id(row, id_key), str(e)))
    return out


def _blank(text: str) -> bool:
    return not text or text.isspace()


def _special(text: str) -> bool:
    # "|" first: a one-character search (memchr) rules out most texts at once
    return "|" in text and "<|" in text and any(s in text for s in SPECIAL_TOKEN_TEXTS)


def quality_flags(battle: Battle) -> list[str]:
    """The QUALITY_FLAGS that hold for a battle, in their documented order."""
    b = battle
    flags = []
    if any(map(_blank, b.users)):
        flags.append("empty_prompt")
    if any(map(_blank, b.answers_a)):
        flags.append("empty_response_a")
    if any(map(_blank, b.answers_b)):
        flags.append("empty_response_b")
    if b.null_turns > 0:
        flags.append("null_turn")
    if b.answers_a == b.answers_b:
        flags.append("identical_responses")
    if (
        any(map(_special, b.users))
        or any(map(_special, b.answers_a))
        or any(map(_special, b.answers_b))
    ):
        flags.append("special_token_text")
    if len(b.users) > 1:
        flags.append("multi_turn")
    if b.image_parts > 0:
        flags.append("image_parts")
    return flags
