"""The vectorised Arrow path gives the same result as the row-by-row definition, for every
column type pyarrow may hand over."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.pipeline.battle import VOTES, Battle, Reject
from arenatok.pipeline.layouts.arena import arrow as check_arrow
from arenatok.pipeline.layouts.arena.arrow import battles_from_arrow
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.layouts.checks import parse_rows
from tests.helpers import TINY, battle

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
        winner=rarely(st.sampled_from(["both", None]), draw(st.sampled_from(VOTES))),
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
@given(st.lists(arena_rows(), min_size=1, max_size=8), st.integers(1, 1000))
def test_arrow_path_equals_row_by_row(rows: list[dict[str, Any]], start: int) -> None:
    batch = pa.RecordBatch.from_pylist(rows, schema=ARENA)
    _same(batch, start)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("judge", [7, 8, 9, 10]),  # an int column where a string is expected
        ("turn", ["1", "2", "1", "1"]),
        ("tstamp", ["now"] * 4),
        ("toxic_chat_tag", [{"t5-large": True}] * 4),
        ("conversation_a", ["hello"] * 4),
        ("conversation_a", [["hello", "there"]] * 4),  # texts, not messages
        ("openai_moderation", [True, False, True, None]),
    ],
)
def test_arrow_path_with_unusual_column_types(column: str, values: list[Any]) -> None:
    rows = [dict(r, **{column: v}) for r, v in zip(TINY, values, strict=True)]
    batch = pa.RecordBatch.from_pylist(rows)
    _same(batch, 5)


def test_arrow_path_on_sliced_batches() -> None:
    batch = pa.RecordBatch.from_pylist([*TINY, *TINY], schema=ARENA).slice(3, 4)
    _same(batch, 1)
    assert all(isinstance(b, Battle) for b in battles_from_arrow(batch, first_row=1))


def _same(data: Any, first_row: int, allow_null_turns: bool = False) -> None:
    """Both paths agree on `data` (a RecordBatch or Table), the rows numbered from first_row."""
    rows = data.to_pylist()
    expected = parse_rows(
        rows,
        first_row=first_row,
        parse=lambda r: battle_from_row(r, allow_null_turns=allow_null_turns),
    )
    got = battles_from_arrow(data, first_row=first_row, allow_null_turns=allow_null_turns)
    assert got == expected


INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32(), pa.uint64()]
STRINGS = [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())]
FLOATS = [pa.float32(), pa.float64()]


def _column_types(draw: st.DrawFn) -> dict[str, Any]:
    """A type for each scalar column: the usual one or any other pyarrow may hand us."""
    text = draw(st.sampled_from(STRINGS))
    types: dict[str, Any] = {
        name: draw(st.sampled_from(STRINGS)) if draw(st.booleans()) else text
        for name in ("question_id", "model_a", "model_b", "winner", "judge", "language")
    }
    types["turn"] = draw(st.sampled_from(INTS))
    types["tstamp"] = draw(st.sampled_from([*FLOATS, pa.int64(), pa.int32(), pa.uint64()]))
    return types


tstamps = st.sampled_from(
    [0, 1682351591, 2**53, 2**53 + 1, 2**62, -(2**63), 2**63 - 1, None]
) | st.floats(allow_nan=True, allow_infinity=True)


def _fit(value: Any, kind: Any) -> Any:
    """`value` as a value of the pyarrow type `kind` (null where it cannot be one)."""
    if value is None:
        return None
    if pa.types.is_floating(kind):
        return float(value) if abs(value) < 2**1023 else value
    if isinstance(value, float):
        return None
    info = (kind.bit_width, pa.types.is_signed_integer(kind))
    lo, hi = (-(2 ** (info[0] - 1)), 2 ** (info[0] - 1) - 1) if info[1] else (0, 2 ** info[0] - 1)
    return value if lo <= value <= hi else None


@st.composite
def typed_tables(draw: st.DrawFn) -> tuple[Any, bool]:
    """Arena rows in a table of drawn column types, nulls in every field, split into chunks."""
    types = _column_types(draw)
    rows = draw(st.lists(arena_rows(), min_size=1, max_size=8))
    for row in rows:
        row["tstamp"] = _fit(draw(tstamps), types["tstamp"])
        if isinstance(row["turn"], int) and pa.types.is_unsigned_integer(types["turn"]):
            row["turn"] = abs(row["turn"])
        for key in draw(st.sets(st.sampled_from(sorted(row)), max_size=3)):
            row[key] = None
    fields = [pa.field(f.name, types.get(f.name, f.type)) for f in ARENA if f.name in rows[0]]
    table = pa.Table.from_pylist(rows, schema=pa.schema(fields))
    cut = draw(st.integers(0, len(rows)))
    chunked = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    return chunked, draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_tables(), st.integers(1, 1000))
def test_every_column_type_chunks_and_nulls(table: tuple[Any, bool], first_row: int) -> None:
    data, allow_null = table
    _same(data, first_row, allow_null)
    for batch in data.to_batches():
        _same(batch, first_row, allow_null)


@pytest.mark.parametrize("value", [2**53 + 1, 2**63 - 1, -(2**63) + 1])
def test_int64_timestamp_above_2_53_is_a_bad_row(value: int) -> None:
    rows = [dict(TINY[0], tstamp=1682351591), dict(TINY[1], tstamp=value)]
    batch = pa.RecordBatch.from_pylist(rows)
    assert batch.schema.field("tstamp").type == pa.int64()
    out = battles_from_arrow(batch, first_row=1)
    assert isinstance(out[0], Battle)
    assert out[1].reason == f"tstamp {value} does not fit a 64-bit float exactly"  # type: ignore[union-attr]
    _same(batch, 1)


def test_null_answer_in_arrow_with_allow_null_turns() -> None:
    row = battle("q9", [("Hi", "Hello", "x")])
    row["conversation_b"][1]["content"] = None
    batch = pa.RecordBatch.from_pylist([row], schema=ARENA)
    [rejected] = battles_from_arrow(batch, first_row=1)
    assert "allow-null-turns" in rejected.reason  # type: ignore[union-attr]
    [kept] = battles_from_arrow(batch, first_row=1, allow_null_turns=True)
    assert isinstance(kept, Battle)
    assert (kept.answers_b, kept.null_turns) == (("",), 1)


# ---- every check, one broken row each, among good rows (each check's mask is needed) --------


def _two_turns(qid: str) -> dict[str, Any]:
    return battle(qid, [("u1", "a1", "b1"), ("u2", "a2", "b2")])


def _broken(name: str) -> dict[str, Any]:
    """A two-turn battle with one thing wrong, named by `name`."""
    row = _two_turns(name)
    a, b = row["conversation_a"], row["conversation_b"]
    # (`turn` agrees with the messages where they are wrong, so that only their check is left)
    if name == "no messages":
        row["conversation_a"] = row["conversation_b"] = []
        row["turn"] = 0
    elif name == "odd number of messages":
        row["conversation_a"], row["conversation_b"] = a[:3], b[:3]
        row["turn"] = 1
    elif name == "sides of different lengths":
        row["conversation_b"] = b[:2]
    elif name == "users differ":
        b[2]["content"] = "another question"
    elif name == "every role swapped":
        for m in a + b:
            m["role"] = "user" if m["role"] == "assistant" else "assistant"
    elif name == "one wrong role on A":
        a[1]["role"] = "user"
    elif name == "one wrong role on B":
        b[3]["role"] = "system"
    elif name == "null message on A":
        a[3] = None
    elif name == "null user text on A":
        a[2]["content"] = None
    elif name == "null answer on A":
        a[3]["content"] = None
    elif name == "null answer on B":
        b[1]["content"] = None
    elif name in ("empty question_id", "empty model_a", "empty model_b"):
        row[name.split()[1]] = ""
    elif name == "the same model twice":
        row["model_b"] = row["model_a"]
    elif name == "unknown winner":
        row["winner"] = "model_c"
    elif name == "turn off by one":
        row["turn"] = 3
    else:
        raise AssertionError(name)
    return row


BROKEN = [
    "no messages",
    "odd number of messages",
    "sides of different lengths",
    "users differ",
    "every role swapped",
    "one wrong role on A",
    "one wrong role on B",
    "null message on A",
    "null user text on A",
    "null answer on A",
    "null answer on B",
    "empty question_id",
    "empty model_a",
    "empty model_b",
    "the same model twice",
    "unknown winner",
    "turn off by one",
]
NULL_ANSWERS = ("null answer on A", "null answer on B")


def _zoo() -> list[dict[str, Any]]:
    """Good battles of one to three turns, each broken row between two good ones."""
    good = [
        battle("g", model_b="k"),  # one-character values are values
        _two_turns("g2"),
        battle("g3", [("u1", "a1", "b1"), ("u2", "a2", "b2"), ("u3", "a3", "b3")], winner="tie"),
    ]
    rows = []
    for i, name in enumerate(BROKEN):
        rows += [good[i % 3], _broken(name)]
    return [*rows, good[0]]


def _batch(rows: list[dict[str, Any]], drop: tuple[str, ...] = (), **types: Any) -> Any:
    """`rows` as a RecordBatch of ARENA's columns without `drop`, with a column's type changed
    where `types` names it."""
    fields = [pa.field(f.name, types.get(f.name, f.type)) for f in ARENA if f.name not in drop]
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema(fields))


@pytest.mark.parametrize("allow_null_turns", [False, True])
@pytest.mark.parametrize("tstamp", ["float", "int", "missing"])
def test_each_broken_row_among_good_ones(allow_null_turns: bool, tstamp: str) -> None:
    if tstamp == "int":
        batch = _batch([dict(r, tstamp=1682351591) for r in _zoo()], tstamp=pa.int64())
    else:
        batch = _batch(_zoo(), ("tstamp",) if tstamp == "missing" else ())
    _same(batch, 7, allow_null_turns)
    out = battles_from_arrow(batch, first_row=7, allow_null_turns=allow_null_turns)
    kept = {b.question_id for b in out if isinstance(b, Battle)}
    assert kept == {"g", "g2", "g3", *(NULL_ANSWERS if allow_null_turns else ())}
    three = next(b for b in out if isinstance(b, Battle) and b.question_id == "g3")
    assert (three.users, three.answers_a, three.answers_b) == (
        ("u1", "u2", "u3"),
        ("a1", "a2", "a3"),
        ("b1", "b2", "b3"),
    )


@pytest.mark.parametrize(
    "column",
    [
        "judge",
        "anony",
        "language",
        "openai_moderation",
        "toxic_chat_tag",
        "turn",
        "conversation_b",
        "model_b",
    ],
)
@pytest.mark.parametrize("allow_null_turns", [False, True])
def test_a_missing_column(column: str, allow_null_turns: bool) -> None:
    _same(_batch(_zoo(), (column,)), 1, allow_null_turns)


def test_toxic_chat_flags_of_every_shape() -> None:
    tags = [
        {"x": {"flagged": None, "p": 0.1}, "y": {"flagged": False}},  # False: one is known
        {"x": {"flagged": None, "p": 0.1}, "y": {"flagged": True}},
        {"x": {"flagged": None, "p": 0.1}, "y": {"flagged": None}},  # None: none is known
        {"x": None, "y": {"flagged": True}},
        {"x": {"flagged": False, "p": 0.1}, "y": None},
        None,
    ]
    rows = [dict(battle(f"q{i}"), toxic_chat_tag=t) for i, t in enumerate(tags)]
    batch = pa.RecordBatch.from_pylist(rows)
    _same(batch, 1)
    out = battles_from_arrow(batch, first_row=1)
    assert [b.toxic_chat_flagged for b in out] == [False, True, None, True, False, None]  # type: ignore[union-attr]
    without = [dict(r, toxic_chat_tag={"x": {"p": 0.5}}, openai_moderation={"p": 1}) for r in rows]
    batch = pa.RecordBatch.from_pylist(without)
    _same(batch, 1)
    assert {
        (b.toxic_chat_flagged, b.openai_moderation_flagged)
        for b in battles_from_arrow(batch, first_row=1)
    } == {(None, None)}  # type: ignore[union-attr]


def test_message_parts_instead_of_text() -> None:
    rows = [dict(r) for r in TINY]
    for r in rows:
        r["conversation_a"] = [
            {"content": [{"type": "text", "text": m["content"]}], "role": m["role"]}
            for m in r["conversation_a"]
        ]
    _same(pa.RecordBatch.from_pylist(rows), 1)


def test_a_table_of_several_batches_with_null_answers() -> None:
    rows = [battle(f"q{i}") for i in range(4)]
    rows[1]["conversation_a"][1]["content"] = None
    rows[3]["conversation_b"][1]["content"] = None
    table = pa.Table.from_batches(
        [
            pa.RecordBatch.from_pylist(rows[:2], schema=ARENA),
            pa.RecordBatch.from_pylist(rows[2:], schema=ARENA),
        ]
    )
    _same(table, 11, allow_null_turns=True)
    assert all(
        isinstance(b, Battle)
        for b in battles_from_arrow(table, first_row=11, allow_null_turns=True)
    )


def _invalid_utf8(batch: Any, column: str, row: int) -> Any:
    """`batch` with the first byte of `column` at `row` made 0xFF (not UTF-8)."""
    import numpy as np

    col = batch.column(column)
    offsets = np.frombuffer(col.buffers()[1], np.int32, len(col) + 1, 4 * col.offset)
    data = bytearray(col.buffers()[2].to_pybytes())
    data[offsets[row]] = 0xFF
    broken = pa.Array.from_buffers(
        col.type, len(col), [None, col.buffers()[1], pa.py_buffer(bytes(data))]
    )
    return batch.set_column(batch.schema.get_field_index(column), column, broken)


@pytest.mark.parametrize("allow_null_turns", [False, True])
@pytest.mark.parametrize("column", ["model_a", "question_id"])
def test_invalid_utf8_makes_its_row_a_reject_and_only_it(
    column: str, allow_null_turns: bool
) -> None:
    rows = [battle("q0"), battle("q1"), battle("q2"), battle("q3"), _two_turns("q4")]
    rows[2]["conversation_a"][1]["content"] = None
    rows[3]["model_b"] = rows[3]["model_a"]
    batch = _invalid_utf8(pa.RecordBatch.from_pylist(rows, schema=ARENA), column, 1)
    batch = _invalid_utf8(_invalid_utf8(batch, "model_a", 4), "judge", 4)
    out = battles_from_arrow(batch, first_row=5, allow_null_turns=allow_null_turns)
    for i in (0, 2, 3):  # the other rows are checked as usual, at their own row numbers
        assert [out[i]] == parse_rows(
            [rows[i]],
            first_row=5 + i,
            parse=lambda r: battle_from_row(r, allow_null_turns=allow_null_turns),
        )
    invalid = "Invalid UTF8 sequence at string index 0"
    assert out[1] == Reject(
        6, None if column == "question_id" else "q1", f"invalid data in {column}: {invalid}"
    )
    assert out[4] == Reject(9, "q4", f"invalid data in model_a: {invalid}; judge: {invalid}")


@pytest.mark.parametrize("variant", ["usual", "large types", "int tstamp", "no optional column"])
def test_only_broken_rows_take_the_row_path(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised checks let every good row through (a row checked one by one costs 10x):
    of a batch of good and broken rows, exactly the broken ones are checked row by row."""
    rows = _zoo()
    if variant == "usual":
        batch = _batch(rows)
    elif variant == "large types":
        large = pa.large_list(pa.struct([("content", pa.large_string()), ("role", pa.string())]))
        batch = _batch(
            rows,
            question_id=pa.large_string(),
            model_a=pa.large_string(),
            conversation_a=large,
            conversation_b=large,
        )
    elif variant == "int tstamp":
        rows = [dict(r, tstamp=1682351591) for r in rows]
        batch = _batch(rows, tstamp=pa.int32())
    else:
        optional = ("judge", "anony", "language", "tstamp", "openai_moderation", "toxic_chat_tag")
        batch = _batch(rows, optional)
    checked: list[str] = []

    def one_by_one(items: list[dict[str, Any]], **kwargs: Any) -> list[Battle | Reject]:
        checked.extend(r["question_id"] for r in items)
        return parse_rows(items, **kwargs)

    monkeypatch.setattr(check_arrow, "parse_rows", one_by_one)
    out = battles_from_arrow(batch, first_row=1)
    good = [r["question_id"] for r in rows if r["question_id"].startswith("g")]
    assert checked == [r["question_id"] for r in rows if not r["question_id"].startswith("g")]
    assert len(checked) == len(BROKEN)
    assert [b.question_id for b in out if isinstance(b, Battle)] == good
