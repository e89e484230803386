from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.check import RowProblem, battle_from_row, battles_from_arrow, parse_rows
from arenatok.records import WINNERS, Battle
from tests.helpers import TINY, battle, msg


def test_valid_row_becomes_battle() -> None:
    b = battle_from_row(TINY[1])
    assert b == Battle(
        question_id="q1",
        model_a="alpaca-13b",
        model_b="dolly-v2-12b",
        winner="tie (bothbad)",
        users=("What is 2+2?", "And 3+3?"),
        answers_a=("4", "6"),
        answers_b=("Four.", "Six, of course."),
        judge="arena_user_1",
        anony=True,
        language="English",
        tstamp=1682351591.1322,
        openai_moderation_flagged=False,
        toxic_chat_flagged=True,
    )


def test_texts_are_kept_exactly() -> None:
    text = "  Caf\u00e9 vs Cafe\u0301\u2028next\r\n "  # no stripping, no normalisation
    b = battle_from_row(battle(turns=[(text, text, "x")]))
    assert b.users == (text,)
    assert b.answers_a == (text,)


def test_optional_columns_may_be_absent() -> None:
    row = {
        k: v
        for k, v in TINY[0].items()
        if k
        in {
            "question_id",
            "model_a",
            "model_b",
            "winner",
            "conversation_a",
            "conversation_b",
            "turn",
        }
    }
    b = battle_from_row(row)
    assert (b.judge, b.anony, b.tstamp, b.openai_moderation_flagged, b.toxic_chat_flagged) == (
        None,
        None,
        None,
        None,
        None,
    )


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__(key, value)


def _conv(side: str, i: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r[side][i].__setitem__(key, value)


BAD_ROWS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "first role is assistant",
        _conv("conversation_a", 0, "role", "assistant"),
        "conversation_a[0].role is str 'assistant', expected 'user' "
        "(roles alternate user/assistant, starting with user)",
    ),
    (
        "two user messages in a row",
        _conv("conversation_b", 1, "role", "user"),
        "conversation_b[1].role is str 'user', expected 'assistant' "
        "(roles alternate user/assistant, starting with user)",
    ),
    (
        "ends with user",
        lambda r: r["conversation_a"].append(msg("user", "more?")),
        "conversation_a ends with a user message; it must end with an assistant answer",
    ),
    (
        "user messages differ",
        _conv("conversation_b", 0, "content", "Hi there "),
        "user message of turn 1 differs between the two sides",
    ),
    (
        "sides differ in turns",
        lambda r: r["conversation_b"].extend([msg("user", "x"), msg("assistant", "y")]),
        "conversation_a has 1 turns but conversation_b has 2",
    ),
    (
        "bad winner",
        _set("winner", "model_c"),
        "winner is str 'model_c', expected one of model_a, model_b, tie, tie (bothbad)",
    ),
    (
        "null winner",
        _set("winner", None),
        "winner is null, expected one of model_a, model_b, tie, tie (bothbad)",
    ),
    ("turn mismatch", _set("turn", 2), "turn is int 2 but the conversation has 1 turns"),
    ("turn is bool", _set("turn", True), "turn is bool True but the conversation has 1 turns"),
    (
        "same models",
        _set("model_b", "vicuna-13b"),
        "model_a and model_b are the same model ('vicuna-13b')",
    ),
    (
        "null content",
        _conv("conversation_a", 1, "content", None),
        "conversation_a[1].content must be a string, got null",
    ),
    (
        "number content",
        _conv("conversation_a", 1, "content", 42),
        "conversation_a[1].content must be a string, got int 42",
    ),
    (
        "empty conversation",
        _set("conversation_a", []),
        "conversation_a must be a non-empty list of messages, got list []",
    ),
    (
        "message not an object",
        lambda r: r["conversation_a"].__setitem__(0, "hi"),
        "conversation_a[0] is not a message object: str 'hi'",
    ),
    (
        "missing question_id",
        _set("question_id", None),
        "question_id must be a non-empty string, got null",
    ),
    ("empty model", _set("model_a", ""), "model_a must be a non-empty string, got str ''"),
    ("nan tstamp", _set("tstamp", math.nan), "tstamp is not finite (nan)"),
    (
        "string tstamp",
        _set("tstamp", "yesterday"),
        "tstamp must be a number or null, got str 'yesterday'",
    ),
    ("judge not a string", _set("judge", 7), "judge must be a str or null, got int 7"),
    ("anony not a bool", _set("anony", "yes"), "anony must be a bool or null, got str 'yes'"),
    (
        "moderation not an object",
        _set("openai_moderation", "flagged"),
        "openai_moderation must be an object or null, got str 'flagged'",
    ),
    (
        "flag not a bool",
        _set("toxic_chat_tag", {"t5-large": {"flagged": 1}}),
        "toxic_chat_tag.t5-large.flagged must be a bool or null, got int 1",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "reason"), [b[1:] for b in BAD_ROWS], ids=[b[0] for b in BAD_ROWS]
)
def test_bad_row_reason(
    mutate: Callable[[dict[str, Any]], None], reason: str, tiny: list[dict[str, Any]]
) -> None:
    row = tiny[0]
    mutate(row)
    with pytest.raises(RowProblem) as e:
        battle_from_row(row)
    assert str(e.value) == reason


def test_row_that_is_not_an_object() -> None:
    with pytest.raises(RowProblem, match=r"^row is not an object: list \[1, 2\]$"):
        battle_from_row([1, 2])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(TINY[1])), json_values, st.integers(0, len(TINY) - 1))
def test_any_value_in_any_field_is_a_battle_or_a_reason(key: str, value: Any, which: int) -> None:
    row = json.loads(json.dumps(TINY[which]))
    row[key] = value
    try:
        b = battle_from_row(row)
    except RowProblem as e:
        reason = str(e)
        assert reason.strip()
    else:
        assert len(b.users) == len(b.answers_a) == len(b.answers_b) == row["turn"]


# ---- the vectorised Arrow path gives the same result as the row-by-row definition ----------

MESSAGE = pa.struct([("content", pa.string()), ("role", pa.string())])
ARENA = pa.schema(
    [
        ("question_id", pa.string()),
        ("model_a", pa.string()),
        ("model_b", pa.string()),
        ("winner", pa.string()),
        ("judge", pa.string()),
        ("conversation_a", pa.list_(MESSAGE)),
        ("conversation_b", pa.list_(MESSAGE)),
        ("turn", pa.int64()),
        ("anony", pa.bool_()),
        ("language", pa.string()),
        ("tstamp", pa.float64()),
        ("openai_moderation", pa.struct([("flagged", pa.bool_())])),
        (
            "toxic_chat_tag",
            pa.struct(
                [
                    ("roberta-large", pa.struct([("flagged", pa.bool_())])),
                    ("t5-large", pa.struct([("flagged", pa.bool_())])),
                ]
            ),
        ),
    ]
)

texts = st.sampled_from(["Hi", "Hello!", "", "x\u2028y", "<|endoftext|>"]) | st.none()
roles = st.sampled_from(["user", "assistant", "system", None])
messages = st.lists(
    st.fixed_dictionaries({"content": texts, "role": roles}) | st.none(), max_size=5
)
flags = st.none() | st.fixed_dictionaries({"flagged": st.none() | st.booleans()})


@st.composite
def arena_rows(draw: st.DrawFn) -> dict[str, Any]:
    """Arena rows with the usual column types: about half valid, the rest broken somewhere."""

    def rarely(strategy: st.SearchStrategy[Any], usual: Any) -> Any:
        return draw(strategy) if draw(st.integers(0, 11)) == 0 else usual

    turns = draw(st.lists(st.tuples(texts, texts, texts), min_size=1, max_size=3))
    row = battle(
        rarely(st.sampled_from(["", None]), "q1"),
        [(u or "", a or "", b or "") for u, a, b in turns],
        model_a=rarely(st.sampled_from(["koala-13b", None]), "vicuna-13b"),
        winner=rarely(st.sampled_from(["both", None]), draw(st.sampled_from(WINNERS))),
        tstamp=rarely(st.floats(allow_nan=True, allow_infinity=True), 1682351591.1322),
    )
    for side in ("conversation_a", "conversation_b"):
        row[side] = rarely(st.none() | messages, row[side])
    row["turn"] = rarely(st.sampled_from([row["turn"] + 1, None]), row["turn"])
    row["judge"] = draw(st.none() | st.just("arena_user_1"))
    row["anony"] = draw(st.none() | st.booleans())
    row["openai_moderation"] = draw(flags)
    row["toxic_chat_tag"] = draw(
        st.none() | st.fixed_dictionaries({"roberta-large": flags, "t5-large": flags})
    )
    return row


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(arena_rows(), min_size=1, max_size=8), st.integers(0, 1000))
def test_arrow_path_equals_row_by_row(rows: list[dict[str, Any]], start: int) -> None:
    batch = pa.RecordBatch.from_pylist(rows, schema=ARENA)
    assert battles_from_arrow(batch, start=start) == parse_rows(batch.to_pylist(), start=start)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("judge", [7, 8, 9, 10]),  # an int column where a string is expected
        ("turn", ["1", "2", "1", "1"]),
        ("tstamp", ["now"] * 4),
        ("toxic_chat_tag", [{"t5-large": True}] * 4),
        ("conversation_a", ["hello"] * 4),
    ],
)
def test_arrow_path_with_unusual_column_types(column: str, values: list[Any]) -> None:
    rows = [dict(r, **{column: v}) for r, v in zip(TINY, values, strict=True)]
    batch = pa.RecordBatch.from_pylist(rows)
    assert battles_from_arrow(batch, start=5) == parse_rows(batch.to_pylist(), start=5)


def test_arrow_path_on_sliced_batches() -> None:
    batch = pa.RecordBatch.from_pylist([*TINY, *TINY], schema=ARENA).slice(3, 4)
    assert battles_from_arrow(batch, start=0) == parse_rows(batch.to_pylist(), start=0)
    assert all(isinstance(b, Battle) for b in battles_from_arrow(batch, start=0))
