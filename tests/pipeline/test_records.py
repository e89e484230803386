from __future__ import annotations

import copy
from typing import Any, cast

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from arenatok.pipeline import records
from arenatok.pipeline.battle import Battle
from arenatok.pipeline.records import (
    DuplicateOf,
    Edit,
    Record,
    dumps_lines,
    edit,
    edit_lines,
    loads,
    record_adapter,
    schema_json,
)
from arenatok.pipeline.steps import make_record
from arenatok.pipeline.write import schema_bytes


def _record() -> dict[str, Any]:
    battle = Battle(
        question_id="q",
        model_a="a",
        model_b="b",
        winner="tie",
        users=("Hi",),
        answers_a=("Hello",),
        answers_b=("Hey",),
    )
    from arenatok.pipeline.metrics import token_usage

    return dict(make_record(battle, [token_usage([1], [1], [1])], ["cl100k_base"], dataset="d"))


def test_the_shipped_schema_is_generated_from_the_types() -> None:
    assert schema_bytes().decode() == schema_json()


def test_a_made_record_validates_and_unknown_fields_do_not() -> None:
    record = _record()
    record_adapter().validate_python(record, strict=True)
    extra = copy.deepcopy(record)
    extra["context"]["token_usage"]["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        record_adapter().validate_python(extra, strict=True)


def test_record_shape_follows_the_battle() -> None:
    r = _record()
    assert (r["input"], r["output"], r["dataset"]) == ("Hi", "Winner: tie", "d")
    c = r["context"]
    assert (c["response_a"], c["response_b"]) == ("Hello", "Hey")
    assert c["conversation"] == [{"user": "Hi", "response_a": "Hello", "response_b": "Hey"}]
    assert c["api_metadata"] == {
        "question_id": "q",
        "timestamp": None,
        "language": None,
        "judge": None,
        "anony": None,
    }
    assert c["quality_flags"] == []


# ---- the codec: the driver's one edit of workers' lines --------------------------------------

TEXTS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from('"\\,:{}'),
    max_size=30,
)


def _sourced(text: str, row: int, qid: str = "q") -> Record:
    record: Any = _record()
    record["input"] = text
    record["context"]["response_a"] = f'"sha256":"ab","row":{row}'  # the field's bytes in a text
    record["context"]["api_metadata"]["question_id"] = qid
    record["context"]["api_metadata"]["source"] = {
        "index": 1,
        "layout": "arena",
        "sha256": "ab" * 32,
        "row": row,
    }
    return cast(Record, record)


def test_an_edit_moves_rows_only_when_asked_and_where_there_is_a_source() -> None:
    record = _sourced("x", 7)
    edit(record, Edit(question_id="s1:q"))
    assert record["context"]["api_metadata"]["source"]["row"] == 7
    unsourced = _record()
    edit(cast(Record, unsourced), Edit(), row_offset=5)  # no source: nothing to move
    assert unsourced == _record()


def test_edit_applies_each_change_by_value() -> None:
    record = _sourced("x", 7)
    edit(record, Edit(question_id="s1:q", duplicate_of=DUP), row_offset=1000)
    api = record["context"]["api_metadata"]
    assert api["source"]["row"] == 1007
    assert api["question_id"] == "s1:q"
    assert record["context"]["quality_flags"] == ["duplicate"]
    assert record["context"]["duplicate_of"] == DUP
    # A text that spells the field is a text: only the source row moved.
    assert record["context"]["response_a"] == '"sha256":"ab","row":7'


DUP: DuplicateOf = {"source": 0, "row": 3, "kind": "same_battle", "key": "exact"}


@given(
    texts=st.lists(TEXTS, min_size=1, max_size=6),
    rows=st.lists(st.integers(1, 10**9), min_size=6, max_size=6),
    offset=st.integers(0, 10**12),
    which=st.sets(st.integers(0, 5)),
)
def test_edit_lines_changes_only_what_an_edit_says(
    texts: list[str], rows: list[int], offset: int, which: set[int]
) -> None:
    """Each line's record, with its edit (a new id, a duplicate's mark) and its row shifted,
    and nothing else: lines without either stay the very bytes they were."""
    made = [_sourced(t, rows[i]) for i, t in enumerate(texts)]
    lines = dumps_lines(made).split(b"\n")
    edits = {i: Edit(question_id=f"s2:{i}", duplicate_of=DUP) for i in which if i < len(made)}
    out = edit_lines(lines, edits, row_offset=offset)
    for i, (before, after) in enumerate(zip(made, map(loads, out), strict=True)):
        api = after["context"]["api_metadata"]
        assert api["source"]["row"] == rows[i] + offset
        assert api["question_id"] == (
            f"s2:{i}" if i in edits else before["context"]["api_metadata"]["question_id"]
        )
        assert ("duplicate_of" in after["context"]) == (i in edits)
        assert after["context"]["quality_flags"][-1:] == (
            ["duplicate"] if i in edits else before["context"]["quality_flags"][-1:]
        )
        api["source"]["row"] = rows[i]
        api["question_id"] = before["context"]["api_metadata"]["question_id"]
        after["context"].pop("duplicate_of", None)
        if i in edits:
            after["context"]["quality_flags"].pop()
        assert after == before
    if not offset:
        assert [out[i] for i in range(len(out)) if i not in edits] == [
            lines[i] for i in range(len(lines)) if i not in edits
        ]


def test_a_line_round_trips_through_the_codec() -> None:
    record = _sourced("line\u2028break \x00 é", 5)
    line = dumps_lines([record])
    assert b"\\u2028" in line
    assert b"\n" not in line
    assert loads(line) == record
    assert dumps_lines([loads(line)]) == line


LINE_BREAKS = "\u2028\u2029\x85"
NEIGHBOURS = "\u2014\u2027\u202a\xa0\xc2"
"""Characters whose UTF-8 shares a line break's lead byte (E2 80 .., C2 ..) but is none."""


@given(st.text(st.sampled_from(list(LINE_BREAKS + NEIGHBOURS + "a")) | st.characters()))
def test_line_break_search_is_the_definition(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    breaks = (b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xc2\x85")
    assert records._has_line_breaks(data) == any(b in data for b in breaks)


def test_each_line_break_alone_is_escaped_and_its_neighbours_are_not() -> None:
    for ch in LINE_BREAKS:
        assert records._has_line_breaks(f"ab{ch}cd".encode())
        assert dumps_lines([f"ab{ch}cd"]) == b'"ab\\u%04xcd"' % ord(ch)
    for ch in NEIGHBOURS:
        assert not records._has_line_breaks(f"ab{ch}cd".encode())
        assert dumps_lines([f"ab{ch}cd"]) == f'"ab{ch}cd"'.encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.lists(json_values, min_size=1, max_size=5))
def test_dumps_lines_round_trips_one_line_per_object(objs: list[Any]) -> None:
    block = dumps_lines(objs)
    lines = block.decode().splitlines()  # str.splitlines breaks at U+2028 too
    assert [orjson.loads(x) for x in lines] == objs
