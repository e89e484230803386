"""The checks of `rows.battle_from_row`, computed for a whole Arrow batch at once.

This module only computes masks: which rows pass every check, and each column's values as the
row path takes them. Passing rows become Battles through `layouts.checks.new_battle`; every
other row goes through `battle_from_row`, which decides and names the reason. Column types this
module does not know are no error either: the whole batch then goes the row path. So both paths
give the same result on every input (a property test compares them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from arenatok.pipeline.battle import VOTES, Battle, Reject
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.layouts.checks import new_battle, parse_rows, plain_id

CONVERSATIONS = ("conversation_a", "conversation_b")
HEAD = ("question_id", "model_a", "model_b", "winner")
EXACT_FLOAT_INT = 2**53
"""Whole numbers up to this size are exact as floats; larger ones are left to the row path."""


def battles_from_arrow(
    batch: Any, *, first_row: int, allow_null_turns: bool = False
) -> list[Battle | Reject]:
    """`parse_rows(batch.to_pylist(), first_row=first_row)` (with `allow_null_turns`), faster.
    `batch`: a pyarrow RecordBatch or Table (chunked or not)."""
    import numpy as np
    import pyarrow as pa

    parse = partial(battle_from_row, allow_null_turns=allow_null_turns)
    if isinstance(batch, pa.Table):
        out: list[Battle | Reject] = []
        for part in batch.combine_chunks().to_batches():
            out += battles_from_arrow(
                part, first_row=first_row + len(out), allow_null_turns=allow_null_turns
            )
        return out
    if batch.num_rows == 0:
        return []
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:  # invalid data (UTF-8) in some row
        return _invalid_rows_apart(batch, first_row, allow_null_turns)
    conv = _conversations(batch)
    fields = _fields(batch, conv[1] if conv else None)
    if conv is None or fields is None:
        return parse_rows(batch.to_pylist(), first_row=first_row, parse=parse)
    conv_ok, _, texts = conv
    fields_ok, values = fields
    ok = conv_ok & fields_ok
    bad = np.flatnonzero(~ok)
    slow = {
        i: parse_rows([row], first_row=first_row + i, parse=parse)[0]
        for i, row in zip(bad.tolist(), batch.take(bad).to_pylist(), strict=True)
    }
    names = list(values)
    out = []
    for i, row in enumerate(zip(*values.values(), strict=True)):
        if i in slow:
            out.append(slow[i])
        else:
            users, answers_a, answers_b = texts(i)
            out.append(new_battle(dict(zip(names, row, strict=True)), users, answers_a, answers_b))
    return out


def _invalid_rows_apart(
    batch: Any, first_row: int, allow_null_turns: bool
) -> list[Battle | Reject]:
    """Rows that fail Arrow's full validation become rejects; the others are checked as usual."""
    import pyarrow as pa

    items: list[Battle | Reject] = []
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        broken = []
        for name, column in zip(row.schema.names, row.columns, strict=True):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as e:
                broken.append(f"{name}: {str(e).splitlines()[0][:120]}")
        if not broken:
            items += battles_from_arrow(
                row, first_row=first_row + i, allow_null_turns=allow_null_turns
            )
            continue
        qid = None
        if "question_id" in row.schema.names and not any(
            b.startswith("question_id:") for b in broken
        ):
            qid = plain_id({"question_id": row.column("question_id")[0].as_py()})
        items.append(Reject(first_row + i, qid, "invalid data in " + "; ".join(broken)))
    return items


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_signed(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_signed_integer(t))


def _message_lists(batch: Any) -> bool:
    """True when both conversations are lists of {content: string, role: string} structs."""
    import pyarrow as pa

    for name in CONVERSATIONS:
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


def _conversations(batch: Any) -> tuple[Any, Any, Any] | None:
    """(mask of the rows whose conversations pass, turns per row, texts(i) -> (users,
    answers_a, answers_b) of a passing row i); None when the column types are unusual.

    A row passes when both sides have the same even, non-zero number of messages, roles
    alternate from user to assistant, no message or text is null, and the user messages are
    the same on both sides."""
    import numpy as np
    import pyarrow.compute as pc

    if not _message_lists(batch):
        return None
    conv_a, conv_b = (batch.column(c) for c in CONVERSATIONS)
    len_a = pc.list_value_length(conv_a).fill_null(-1).to_numpy(zero_copy_only=False)
    len_b = pc.list_value_length(conv_b).fill_null(-1).to_numpy(zero_copy_only=False)
    ok = (len_a == len_b) & (len_a > 0) & (len_a % 2 == 0)
    rows = np.flatnonzero(ok)  # flat message arrays line up across the sides only here
    # (`take` copies every text: only when some rows are left out)
    sub_a, sub_b = (conv_a, conv_b) if ok.all() else (conv_a.take(rows), conv_b.take(rows))
    flat_a, flat_b = pc.list_flatten(sub_a), pc.list_flatten(sub_b)
    parent = pc.list_parent_indices(sub_a).to_numpy(zero_copy_only=False)
    sizes = len_a[rows]
    first = (np.cumsum(sizes) - sizes).astype(np.int64)
    answer = ((np.arange(len(parent)) - first[parent]) % 2).astype(bool)
    good = np.ones(len(parent), dtype=bool)
    contents = []
    for flat in (flat_a, flat_b):
        content = pc.struct_field(flat, "content")
        role = pc.struct_field(flat, "role")
        is_user = _mask(pc.equal(role, "user"))
        is_answer = _mask(pc.equal(role, "assistant"))
        good &= np.where(answer, is_answer, is_user)
        good &= flat.is_valid().to_numpy(zero_copy_only=False)
        good &= content.is_valid().to_numpy(zero_copy_only=False)
        contents.append(content)
    good &= answer | _mask(pc.equal(contents[0], contents[1]))
    bad_sub = np.zeros(len(rows), dtype=bool)
    bad_sub[parent[~good]] = True
    ok[rows[bad_sub]] = False
    text_a, text_b = contents[0].to_pylist(), contents[1].to_pylist()
    where = dict(zip(rows.tolist(), zip(first.tolist(), sizes.tolist(), strict=True), strict=True))

    def texts(i: int) -> tuple[list[str], list[str], list[str]]:
        o, k = where[i]
        return text_a[o : o + k : 2], text_a[o + 1 : o + k : 2], text_b[o + 1 : o + k : 2]

    turns = np.where(ok, len_a // 2, -1)
    return ok, turns, texts


def _mask(a: Any) -> Any:
    return a.fill_null(False).to_numpy(zero_copy_only=False)


def _fields(batch: Any, turns: Any) -> tuple[Any, dict[str, list[Any]]] | None:
    """For the columns other than the conversations: a mask of the rows that pass every check
    of `head_fields`, `check_turn` and `meta_fields`, and each field's values as those give
    them (flags already reduced). None when a column's type is not a usual one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = batch.schema
    n = batch.num_rows
    ok = np.ones(n, dtype=bool)
    values: dict[str, list[Any]] = {}

    def kind(name: str) -> Any:
        return schema.field(name).type if name in schema.names else None

    for name in HEAD:
        if kind(name) is None or not _is_text(kind(name)):
            return None
        col = batch.column(name)
        ok &= _mask(pc.greater(pc.binary_length(col), 0))
        values[name] = col.to_pylist()
    ok &= _mask(pc.not_equal(batch.column("model_a"), batch.column("model_b")))
    ok &= _mask(pc.is_in(batch.column("winner"), value_set=pa.array(VOTES)))
    if turns is None or kind("turn") is None or not _is_signed(kind("turn")):
        return None
    ok &= _mask(pc.equal(batch.column("turn").cast(pa.int64()), pa.array(turns, pa.int64())))
    for name, test in (
        ("judge", _is_text),
        ("anony", pa.types.is_boolean),
        ("language", _is_text),
        ("tstamp", lambda t: pa.types.is_floating(t) or _is_signed(t)),
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
                ok &= _mask(pc.or_kleene(pc.is_null(col), pc.is_finite(col)))
            else:
                wide = col.cast(pa.int64())
                small = pc.and_(
                    pc.greater_equal(wide, -EXACT_FLOAT_INT), pc.less_equal(wide, EXACT_FLOAT_INT)
                )
                ok &= _mask(pc.or_kleene(pc.is_null(col), small))
            col = col.cast(pa.float64(), safe=False)  # rows it would round are masked above
        values[name] = col.to_pylist()
    for name, key in (
        ("openai_moderation", "openai_moderation_flagged"),
        ("toxic_chat_tag", "toxic_chat_flagged"),
    ):
        if kind(name) is None:
            values[key] = [None] * n
            continue
        flags = _arrow_flag(batch.column(name), nested=name == "toxic_chat_tag")
        if flags is None:
            return None
        values[key] = flags
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
