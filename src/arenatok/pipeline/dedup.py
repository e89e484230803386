"""Duplicate battles, within a source and across sources, found with fixed-size digests.

Two kinds, each a definition:

- `same_id`: the same release id seen again, in the same release (the layout's dataset).
- `same_battle`: the same pair of models, the same user messages and the same answers on each
  side, whichever side is A: a battle with A and B swapped (and its vote mirrored) is the same
  battle. Two keys: `exact` (the bytes as stored) and `normalized` (Unicode NFC, every run of
  whitespace one space, ends stripped), so that one battle exported twice with other whitespace
  is still found.

The keys are made where a batch is processed, in worker processes (`keys`); `Index` runs
once, in the build process, in source order, so the first copy is always the one that comes
first. Each key is 8 bytes of a sha256 digest (2^-64 chance of a false match per pair), and
the index holds only digests and (source, row) pairs: memory grows by about 200 bytes per
battle, not by its texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arenatok.pipeline.keys import BatchKeys
from arenatok.pipeline.metadata import Copies, VotesDiffer
from arenatok.pipeline.records import DuplicateOf

KINDS = ("same_id", "same_battle")


@dataclass(frozen=True, slots=True)
class Match:
    """A later copy: which kind and key matched, and the first copy's (source, row)."""

    kind: str
    key: str
    source: int
    row: int
    votes_differ: bool

    def reference(self) -> DuplicateOf:
        """`duplicate_of` of a record: the first copy and how it was found."""
        return {"source": self.source, "row": self.row, "kind": self.kind, "key": self.key}


ROW_BITS = 40


def _winner(vote: int, sides: tuple[str, str]) -> str:
    """A vote as the winning model's name, or `tie`."""
    return "tie" if vote == 2 else sides[vote]


class Table:
    """An open-addressing hash table of uint64 digests to uint64 values in two numpy arrays
    (16 bytes an entry, at most half full): a Python dict would take about 130 bytes an entry.
    Used a batch at a time, vectorised."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        import numpy as np

        self.keys = np.zeros(capacity, dtype=np.uint64)
        self.values = np.zeros(capacity, dtype=np.uint64)
        self.size = 0

    def first_values(self, digests: Any, values: Any) -> Any:
        """For each digest (0 is reserved), the value of its first occurrence: in an earlier
        call, or else its first place in this one; digests new to the table are added."""
        import numpy as np

        unique, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        found, stored = self._find(unique)
        firsts = np.where(found, stored, values[first])
        self._insert(unique[~found], values[first][~found])
        return firsts[inverse.reshape(-1)]

    def _find(self, keys: Any) -> tuple[Any, Any]:
        import numpy as np

        mask = np.uint64(len(self.keys) - 1)
        slots = keys & mask
        found = np.zeros(len(keys), dtype=bool)
        stored = np.zeros(len(keys), dtype=np.uint64)
        pending = np.arange(len(keys))
        while pending.size:
            s = slots[pending]
            here = self.keys[s]
            hit = here == keys[pending]
            found[pending[hit]] = True
            stored[pending[hit]] = self.values[s[hit]]
            pending = pending[~hit & (here != 0)]  # a filled slot of another key: go on
            slots[pending] = (slots[pending] + np.uint64(1)) & mask
        return found, stored

    def _insert(self, keys: Any, values: Any) -> None:
        import numpy as np

        if 2 * (self.size + len(keys)) > len(self.keys):
            old = self.keys != 0
            old_keys, old_values = self.keys[old], self.values[old]
            capacity = len(self.keys)
            while 2 * (self.size + len(keys)) > capacity:
                capacity *= 2
            self.keys = np.zeros(capacity, dtype=np.uint64)
            self.values = np.zeros(capacity, dtype=np.uint64)
            self.size = 0
            self._insert(old_keys, old_values)
        mask = np.uint64(len(self.keys) - 1)
        slots = keys & mask
        pending = np.arange(len(keys))
        while pending.size:
            s = slots[pending]
            empty = self.keys[s] == 0
            taken, at = np.unique(s[empty], return_index=True)  # one key per empty slot
            winners = pending[empty][at]
            self.keys[taken] = keys[winners]
            self.values[taken] = values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slots[pending] = (slots[pending] + np.uint64(1)) & mask
        self.size += len(keys)


@dataclass
class Index:
    """The battles seen so far (digests only); `see` them in source order, a batch at a time."""

    table: Table = field(default_factory=Table)
    """digest (xor its kind) -> the first battle with that key: (source, row, vote) packed in
    one integer."""
    counts: Counter[str] = field(default_factory=Counter)
    """`kind` and `kind:key` -> later copies."""
    pairs: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(source of the first copy, source of the later copy) -> later copies."""
    disagreements: list[VotesDiffer] = field(default_factory=list)
    """Copies of one battle whose votes differ."""

    def see_batch(self, batch: BatchKeys, source: int, rows: Sequence[int]) -> list[Match | None]:
        """For each battle of a batch of source `source` (rows: where each stands there), in
        order: its match with an earlier battle (of an earlier batch or this one), or None.
        A battle's keys are tried in order (same_id first: an id seen again is named as
        such), so it is named by the first that matches."""
        import numpy as np

        if not len(batch):
            return []
        place = (np.uint64(source) << np.uint64(ROW_BITS) | np.asarray(rows, np.uint64)) << (
            np.uint64(2)
        )
        kinds = [] if batch.same_id is None else [("same_id", "id", batch.same_id, 1)]
        kinds += [
            ("same_battle", "exact", batch.exact, 2),
            ("same_battle", "normalized", batch.normalized, 3),
        ]
        digests = np.concatenate([d ^ np.uint64(tag) for _, _, d, tag in kinds])
        digests[digests == 0] = np.uint64(2**64 - 1)  # 0 marks an empty slot of the table
        values = np.tile(place | batch.vote.astype(np.uint64), len(kinds))
        firsts = self.table.first_values(digests, values).reshape(len(kinds), len(batch))
        later = (firsts >> np.uint64(2)) != (place >> np.uint64(2))
        which = later.argmax(axis=0)
        out: list[Match | None] = [None] * len(batch)
        for i in np.flatnonzero(later.any(axis=0)).tolist():
            kind, key, _, _ = kinds[which[i]]
            found = (kind, key, int(firsts[which[i], i]), int(batch.vote[i]), batch.sides[i])
            out[i] = self._later(found, source, rows[i])
        return out

    def first_sources(self, batch: BatchKeys, source: int) -> list[int]:
        """For each battle's id (whatever its release), the source that used it first, this
        one if none did (kept in the same table, as digests)."""
        import numpy as np

        digests = batch.any_id ^ np.uint64(4)
        digests[digests == 0] = np.uint64(1)
        values = np.full(len(batch), source, dtype=np.uint64)
        return [int(x) for x in self.table.first_values(digests, values).tolist()]

    def _later(
        self, found: tuple[str, str, int, int, tuple[str, str]], source: int, row: int
    ) -> Match:
        kind, key, earlier, vote, sides = found
        first_vote = earlier & 3
        where = earlier >> 2
        match = Match(
            kind,
            key,
            where >> ROW_BITS,
            where & (2**ROW_BITS - 1),
            kind == "same_battle" and first_vote != vote,
        )
        self.counts[kind] += 1
        self.counts[f"{kind}:{key}"] += 1
        self.pairs[(match.source, source)] += 1
        if match.votes_differ:
            self.disagreements.append(
                {
                    "first": {
                        "source": match.source,
                        "row": match.row,
                        "winner": _winner(first_vote, sides),
                    },
                    "later": {"source": source, "row": row, "winner": _winner(vote, sides)},
                    "key": key,
                }
            )
        return match

    def summary(self) -> Copies:
        """The figures for artifact_metadata.json (sources by their index in `sources`)."""
        return {
            "definitions": DEFINITIONS,
            "later_copies": {kind: self.counts[kind] for kind in KINDS},
            "by_key": {k: self.counts[f"same_battle:{k}"] for k in ("exact", "normalized")},
            "by_source_pair": [
                {"first_in": a, "later_in": b, "later_copies": n}
                for (a, b), n in sorted(self.pairs.items())
            ],
            "votes_differ": len(self.disagreements),
            "votes_differ_list": self.disagreements,
        }


DEFINITIONS = {
    "same_id": "the same release id seen again in the same release (the layout's dataset).",
    "same_battle": (
        "the same model pair, the same user messages and the same answers on each side, "
        "whichever side is A (a battle with A and B swapped is the same battle); key `exact`: "
        "the bytes as stored; key `normalized`: Unicode NFC, whitespace runs as one space."
    ),
    "first_copy": "the copy that comes first in source order (sources in the order given).",
    "votes_differ": (
        "copies of one battle whose votes differ, the vote seen from the same side order; "
        "every tie label counts as a tie."
    ),
}
"""The README and artifact_metadata.json carry the same text."""
