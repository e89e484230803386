"""One id, one battle: the check that a build's `question_id`s name one battle each, as its
records stream by (`Ids`), for `validate` and the reader of a build alike.

Two records may share an id only when the later is a copy found by `same_id` of the first
record with that id (`duplicate_of` names its source and row: a copy keeps its battle's id), or
when both are judgments of one question of one source whose release has no battle ids
(mt_bench). Memory: 8-byte digests of the ids in `dedup.Table` (16 bytes an entry, at most
half full) and each record's source and row (8 bytes): about 40 bytes a record, not its id.
Two different ids whose digests agree (odds of 2^-64 a pair) would be taken for one.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import Any

from arenatok.pipeline.dedup import ROW_BITS, Table
from arenatok.pipeline.layouts import LAYOUTS

BATCH = 4096
"""Records whose ids are looked up in the table at once."""
LISTED = 20
"""Shared ids listed in full (`Ids.found`); beyond that only counted (`Ids.more`)."""


def _question_ids(layout: object) -> bool:
    """Whether a layout's ids name questions, not battles (many records each)."""
    known = LAYOUTS.get(layout) if isinstance(layout, str) else None
    return known is not None and not known.battle_ids


def _place(ref: object) -> int | None:
    """A `{source, row}` or `{index, row}` reference's source and row packed in one integer
    (source << ROW_BITS | row), or None when it has no such numbers."""
    if not isinstance(ref, dict):
        return None
    source, row = ref.get("index", ref.get("source")), ref.get("row")
    if type(source) is not int or type(row) is not int:
        return None
    if not (0 <= row < 2**ROW_BITS and 0 <= source < 2 ** (64 - ROW_BITS)):
        return None
    return source << ROW_BITS | row


class Ids:
    """The ids of a build's records, fed in order (`see`); `finish` gives what is wrong."""

    def __init__(self) -> None:
        self.table = Table()
        self.places = array("Q")
        """Each record's (source, row), packed: source << ROW_BITS | row."""
        self.pending: list[tuple[int, bytes, dict[str, Any]]] = []
        self.found: list[tuple[int, str]] = []
        """(line, what) of the first LISTED records that share an id with another battle."""
        self.more = 0

    def see(self, line: int, record: object) -> None:
        """The record of data_out.jsonl line `line` (from 1); a record without the shape of
        one is left to the schema check."""
        context = record.get("context") if isinstance(record, dict) else None
        api = context.get("api_metadata") if isinstance(context, dict) else None
        qid = api.get("question_id") if isinstance(api, dict) else None
        if not isinstance(context, dict) or not isinstance(api, dict) or not isinstance(qid, str):
            return
        source = api.get("source")
        place = _place(source)
        self.places.append(line if place is None else place)
        digest = hashlib.sha256(qid.encode("utf-8", "surrogatepass")).digest()[:8]
        info = {
            "id": qid,
            "copy_of": _copy_of(context.get("duplicate_of")),
            "questions": isinstance(source, dict) and _question_ids(source.get("layout")),
        }
        self.pending.append((line, digest, info))
        if len(self.pending) >= BATCH:
            self._lookup()

    def finish(self) -> list[tuple[int, str]]:
        """(line, what) for each record that shares its id with another battle (the first
        LISTED of them; `more` counts the rest)."""
        self._lookup()
        return self.found

    def _lookup(self) -> None:
        import numpy as np

        if not self.pending:
            return
        first_line = len(self.places) - len(self.pending)
        digests = np.frombuffer(b"".join(d for _, d, _ in self.pending), "<u8").astype(np.uint64)
        digests[digests == 0] = np.uint64(2**64 - 1)  # 0 marks an empty slot of the table
        mine = np.arange(first_line, len(self.places), dtype=np.uint64)
        firsts = self.table.first_values(digests, mine)
        for k in np.flatnonzero(firsts != mine).tolist():
            line, _, info = self.pending[k]
            self._shared(line, info, self.places[first_line + k], self.places[int(firsts[k])])
        self.pending = []

    def _shared(self, line: int, info: dict[str, Any], place: int, first: int) -> None:
        """A record whose id an earlier record holds (at `first`): a problem unless it is
        that battle's copy, or a judgment of the same question of the same source."""
        same_source = place >> ROW_BITS == first >> ROW_BITS
        if info["copy_of"] == first or (info["questions"] and same_source):
            return
        if len(self.found) >= LISTED:
            self.more += 1
            return
        self.found.append(
            (
                line,
                f"question_id {info['id']!r} ({_where(place)}) is also the id of {_where(first)}, "
                "another battle: an id names one battle",
            )
        )


def _copy_of(reference: object) -> int | None:
    """The packed (source, row) of the battle that a `same_id` copy's `duplicate_of` names."""
    if not isinstance(reference, dict) or reference.get("kind") != "same_id":
        return None
    return _place(reference)


def _where(place: int) -> str:
    return f"source {place >> ROW_BITS} row {place & (2**ROW_BITS - 1)}"
