from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.pipeline.battle import Battle, RowProblem
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS
from arenatok.pipeline.layouts.checks import parse_rows, timestamp
from tests.helpers import TINY, battle, msg, records, write_jsonl


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
    row = {k: v for k, v in TINY[0].items() if k in REQUIRED_COLUMNS}
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
    ("turn mismatch", _set("turn", 2), "turn is 2 but the conversation has 1 turns"),
    ("turn is bool", _set("turn", True), "turn must be a whole number, got bool True"),
    ("turn is text", _set("turn", "1"), "turn must be a whole number, got str '1'"),
    (
        "tstamp above 2^53",
        _set("tstamp", 2**53 + 1),
        "tstamp 9007199254740993 does not fit a 64-bit float exactly",
    ),
    (
        "same models",
        _set("model_b", "vicuna-13b"),
        "model_a and model_b are the same model ('vicuna-13b')",
    ),
    (
        "null answer",
        _conv("conversation_a", 1, "content", None),
        "conversation_a[1].content must be a string, got null "
        "(pass --allow-null-turns to count a null reply as empty)",
    ),
    (
        "null user message",
        _conv("conversation_a", 0, "content", None),
        "conversation_a[0].content must be a string, got null",
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
        "toxic tag not an object",
        _set("toxic_chat_tag", "flagged"),
        "toxic_chat_tag must be an object or null, got str 'flagged'",
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


def test_null_answer_with_allow_null_turns(tiny: list[dict[str, Any]]) -> None:
    row = tiny[1]
    row["conversation_b"][3]["content"] = None
    b = battle_from_row(row, allow_null_turns=True)
    assert (b.answers_b, b.null_turns) == (("Four.", ""), 1)
    row["conversation_b"][2]["content"] = None  # a null user message is never allowed
    with pytest.raises(RowProblem, match=r"conversation_b\[2\]\.content must be a string"):
        battle_from_row(row, allow_null_turns=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1682351591, 1682351591.0),
        (2**53, float(2**53)),
        (2**60, float(2**60)),  # large but exact
        (-(2**63), float(-(2**63))),
        (2**1023, float(2**1023)),  # exact, however large
        (-(2**1023) - 2**971, -(2**1023) - 2**971),  # the largest float's neighbour: exact
        (1.5, 1.5),
    ],
)
def test_timestamps_that_fit(value: Any, expected: float | None) -> None:
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    "value", [2**53 + 1, 2**63 - 1, -(2**63) + 1, 2**1023 + 1, 2**1024 - 1, -(2**1024), 10**400]
)
def test_whole_timestamps_that_a_float_cannot_hold(value: int) -> None:
    with pytest.raises(RowProblem, match="does not fit a 64-bit float exactly"):
        timestamp(value)


_LONE = "\ud800"


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ({"question_id": "q" + _LONE}, "question_id holds a lone surrogate U+D800 at character 1"),
        ({"model_b": "m" + _LONE}, "model_b holds a lone surrogate U+D800 at character 1"),
        ({"judge": _LONE}, "judge holds a lone surrogate U+D800 at character 0"),
        ({"language": "en" + _LONE}, "language holds a lone surrogate U+D800 at character 2"),
        (
            {"turns": [("hi", "a", "b"), ("x" + _LONE, "c", "d")]},
            "a user message (turn 2) holds a lone surrogate U+D800 at character 1",
        ),
        (
            {"turns": [("hi", "ab" + _LONE, "b")]},
            "an answer of model A (turn 1) holds a lone surrogate U+D800 at character 2",
        ),
        (
            {"turns": [("hi", "a", "b"), ("u", "c", "\udfff")]},
            "an answer of model B (turn 2) holds a lone surrogate U+DFFF at character 0",
        ),
    ],
)
def test_a_lone_surrogate_anywhere_makes_a_reject_saying_where(
    where: dict[str, Any], reason: str
) -> None:
    turns = where.pop("turns", [("hi", "a", "b")])
    row = battle("q1", turns) | where
    [reject] = parse_rows([row], first_row=5, parse=battle_from_row)
    assert reject.row == 5  # type: ignore[union-attr]
    assert reject.reason == reason + ": not Unicode text (it cannot be written as UTF-8)"  # type: ignore[union-attr]


def test_a_surrogate_in_a_key_of_a_mapping_field_is_found() -> None:
    from arenatok.pipeline.layouts.checks import text_problem

    b = battle_from_row(battle("q1"))
    b.categories = {"ok": 1, "bad" + _LONE: 2}  # type: ignore[assignment]
    assert text_problem(b) == (
        "a key of categories holds a lone surrogate U+D800 at character 3: not Unicode text "
        "(it cannot be written as UTF-8)"
    )
    b.categories = {"ok": 1}  # type: ignore[assignment]
    b.users = ["x" + _LONE]  # a text before the keys: still found
    assert str(text_problem(b)).startswith("a user message (turn 1) holds a lone surrogate")
    b.users = ["x"]
    b.answers_b = ["fine \u00e9"]
    assert text_problem(b) is None


def test_a_reject_names_the_row_by_the_layouts_id_column() -> None:
    [reject] = parse_rows(
        [{"id": "row-9", "question_id": "q"}], first_row=1, parse=battle_from_row, id_key="id"
    )
    assert reject.question_id == "row-9"  # type: ignore[union-attr]


def test_rows_are_numbered_from_first_row() -> None:
    items = parse_rows([TINY[0], {"question_id": "x"}], first_row=7, parse=battle_from_row)
    assert [getattr(x, "row", None) for x in items] == [None, 8]
    assert items[1].question_id == "x"  # type: ignore[union-attr]  # the default id column


def test_show_describes_a_value_in_60_characters() -> None:
    from arenatok.pipeline.layouts.checks import show

    assert show(None) == "null"
    assert show(12) == "int 12"
    assert show("x" * 100) == "str '" + "x" * 59 + "..."  # the repr's first 60, then ...
    assert show("x" * 58) == "str '" + "x" * 58 + "'"  # a repr of exactly 60: whole
    assert show("x" * 59) == "str '" + "x" * 59 + "..."  # of 61: cut
    assert show(b"y" * 70) == "bytes b'" + "y" * 58 + "..."
    assert show(10**5000) == "int ..."  # too long to print
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert show(deep) == "list ..."  # nested too deeply to print


def test_plain_id_is_the_id_as_given_or_described() -> None:
    from arenatok.pipeline.layouts.checks import plain_id

    assert plain_id({"question_id": "abc"}) == "abc"  # the default column
    assert plain_id({"id": "7"}, "id") == "7"
    assert plain_id({"question_id": 5}) == "int 5"
    assert plain_id({"question_id": "q\ud800"}) == "str 'q\\ud800'"  # not Unicode: escaped
    assert plain_id({}) is None
    assert plain_id("junk") is None


def test_the_null_reply_hint_names_only_replies(tiny: list[dict[str, Any]]) -> None:
    hint = "(pass --allow-null-turns to count a null reply as empty)"
    row = tiny[1]  # two turns: messages 0-3
    row["conversation_a"][3]["content"] = None
    with pytest.raises(RowProblem, match=r"conversation_a\[3\]\.content must be a string") as e:
        battle_from_row(row)
    assert str(e.value).endswith(hint)
    b = battle_from_row(row, allow_null_turns=True)  # side A's null reply too
    assert (b.answers_a[1], b.null_turns) == ("", 1)
    row["conversation_a"][3]["content"] = "back"
    row["conversation_a"][2]["content"] = None  # a user message: no hint
    with pytest.raises(RowProblem) as e:
        battle_from_row(row, allow_null_turns=True)
    assert hint not in str(e.value)


def test_a_whole_float_turn_counts() -> None:
    row = battle("q", [("a", "b", "c"), ("d", "e", "f")])
    row["turn"] = 2.0
    assert len(battle_from_row(row).users) == 2
    row["turn"] = 2.5
    with pytest.raises(RowProblem, match=r"turn must be a whole number, got float 2\.5"):
        battle_from_row(row)


def test_quality_flags_by_value() -> None:
    from arenatok.pipeline.layouts.checks import quality_flags

    def flags(*, a: str = "x", b: str = "y", **kw: Any) -> list[str]:
        return quality_flags(Battle("q", "m1", "m2", "tie", ("u",), (a,), (b,), **kw))

    assert flags() == []
    assert flags(a="see <|endoftext|> here") == ["special_token_text"]  # in A's answer only
    assert flags(b="<|fim_middle|>") == ["special_token_text"]
    assert flags(a="<|im_start|> is not one of tiktoken's", b="a | b") == []
    assert flags(image_parts=1) == ["image_parts"]
    assert flags(a="same", b="same", null_turns=1) == ["null_turn", "identical_responses"]


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ((["Hi"], [None], ["Hey"]), "an answer of model A (turn 1) must be a string, got null"),
        (
            (["Hi", 7], ["a", "b"], ["c", "d"]),
            "a user message (turn 2) must be a string, got int 7",
        ),
        ((["Hi"], ["a"], ["b", "c"]), "1 user messages, 1 answers of model A and 2 of model B"),
        (([], [], []), "a battle has one of each per turn, at least one turn"),
    ],
)
def test_no_layout_makes_a_battle_of_texts_that_are_not_one_string_each_per_turn(
    texts: tuple[list[Any], list[Any], list[Any]], reason: str
) -> None:
    """The one maker of a Battle checks what a layout may forget: a reject, not a crash."""
    from arenatok.pipeline.layouts.checks import head_fields, meta_fields, new_battle

    fields = {**head_fields({"question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie"}),
              **meta_fields({})}  # fmt: skip
    with pytest.raises(RowProblem, match=re.escape(reason)):
        new_battle(fields, *texts)


def test_quality_flags(tmp_path: Path) -> None:
    rows = [
        battle("same", [("Hi", "Hello", "Hello")], winner="model_a"),
        battle("empty", [(" ", "", "ok")]),
        battle("special", [("say <|endoftext|>", "<|endoftext|>", "no")]),
        battle("clean", [("Hi", "Hello", "Hey")]),
    ]
    result = build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out")
    assert [r["context"]["quality_flags"] for r in records(tmp_path / "out")] == [
        ["identical_responses"],
        ["empty_prompt", "empty_response_a"],
        ["special_token_text"],
        [],
    ]
    flags = result.metadata["quality_flags"]
    assert (flags["identical_responses"], flags["empty_prompt"], flags["multi_turn"]) == (1, 1, 0)
    assert set(flags) == set(result.metadata["quality_flag_definitions"])
