from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.errors import SourceError
from arenatok.load import RowProblem, battle_from_row, open_local
from arenatok.records import Battle
from tests.helpers import TINY, battle, msg, write_jsonl, write_parquet


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


# ---- files --------------------------------------------------------------------------------


def rows_of(path: Path) -> list[Any]:
    return [r for batch in open_local(path).batches(batch_size=3) for r in batch]


def test_jsonl_splits_on_newline_only(tmp_path: Path) -> None:
    row = battle(turns=[("line\u2028separator\u2029and\x85next", "a", "b")])
    path = write_jsonl(tmp_path / "b.jsonl", [row, *TINY])
    rows = rows_of(path)
    assert len(rows) == 1 + len(TINY)
    assert battle_from_row(rows[0]).users == ("line\u2028separator\u2029and\x85next",)


def test_jsonl_bad_lines_become_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    good = json.dumps(TINY[0]).encode()
    path.write_bytes(good + b"\n{broken\n\n" + b'{"a": "\xff"}\n' + good + b"\n")
    rows = rows_of(path)
    assert [str(r) if isinstance(r, RowProblem) else "ok" for r in rows] == [
        "ok",
        "line 2 is not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "line 3 is empty",
        "line 4 is not valid UTF-8 (byte 7)",
        "ok",
    ]


def test_json_list_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(TINY, indent=1), encoding="utf-8")
    f = open_local(path)
    assert f.format == "json"
    assert [battle_from_row(r) for r in rows_of(path)] == [battle_from_row(r) for r in TINY]


def test_json_file_with_one_object_per_line_is_jsonl(tmp_path: Path) -> None:
    # `datasets`' to_json writes JSON Lines under a .json name.
    path = write_jsonl(tmp_path / "export.json", TINY)
    assert open_local(path).format == "jsonl"
    assert len(rows_of(path)) == len(TINY)


def test_parquet_reads_in_batches(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "b.parquet", TINY * 3)
    batches = list(open_local(path).batches(batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    assert battle_from_row(batches[0][1]) == battle_from_row(TINY[1])


def _error(path: Path) -> str:
    with pytest.raises(SourceError) as e:
        rows_of(path)
    return e.value.message


def test_missing_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.parquet") == f"{tmp_path}/nope.parquet: no such file"


def test_directory(tmp_path: Path) -> None:
    assert _error(tmp_path) == f"{tmp_path}: is a directory, expected a file"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").touch()
    assert _error(tmp_path / "e.jsonl") == f"{tmp_path}/e.jsonl: the file is empty"


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("hello")
    assert _error(tmp_path / "b.txt") == (
        f"{tmp_path}/b.txt: cannot tell the file format from its name or first bytes"
    )


def test_not_parquet(tmp_path: Path) -> None:
    (tmp_path / "b.parquet").write_text("this is not parquet")
    assert _error(tmp_path / "b.parquet").startswith(
        f"{tmp_path}/b.parquet: not a readable Parquet file ("
    )


def test_parquet_missing_columns(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("winner", "turn")} for r in TINY]
    path = write_parquet(tmp_path / "b.parquet", rows)
    msg_ = _error(path)
    assert msg_.startswith(f"{path}: missing columns: winner, turn (found: question_id, ")


def test_broken_json_list(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(TINY)[:-40])
    assert _error(path).startswith(f"{path}: not a valid JSON list of records (")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", TINY)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: fail the open at the OS boundary
        real_open = Path.open

        def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    assert _error(path) == f"{path}: permission denied"
