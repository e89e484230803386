"""The vectorised Arrow path gives the same result as the row-by-row definition, for every
column type pyarrow may hand over."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.check import battle_from_row, parse_rows
from arenatok.check_arrow import battles_from_arrow
from arenatok.records import WINNERS, Battle
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
