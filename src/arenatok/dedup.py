"""Duplicate battles, within a source and across sources, found with fixed-size digests.

Two kinds, each a definition:

- `same_id`: the same release id seen again, in the same release (the layout's dataset).
- `same_battle`: the same pair of models, the same user messages and the same answers on each
  side, whichever side is A: a battle with A and B swapped (and its vote mirrored) is the same
  battle. Two keys: `exact` (the bytes as stored) and `normalized` (Unicode NFC, every run of
  whitespace one space, ends stripped), so that one battle exported twice with other whitespace
  is still found.

`battle_keys` runs where a batch is processed (in worker processes); `Index` runs once, in the
build process, in source order, so the first copy is always the one that comes first. Each key
is 8 bytes of a sha256 digest (2^-64 chance of a false match per pair), and the index holds only
digests and (source, row) pairs: memory grows by about 200 bytes per battle, not by its texts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from arenatok.records import Battle, DuplicateOf

T = TypeVar("T")

KINDS = ("same_id", "same_battle")
DECISIVE = ("model_a", "model_b")
_SEPARATOR = b"\xff"
"""Joins the parts of a digest: a byte that UTF-8 never holds."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The digests of one battle (`same_id` is None where the release's ids are not battle
    ids), and its vote in each same_battle key's side order (an index into VOTES)."""

    question_id: str
    any_id: int
    """The id's digest whatever the release (to keep ids unique across sources)."""
    same_id: int | None
    exact: int
    normalized: int
    vote: int
    sides: tuple[str, str]
    """The two models in the keys' side order (by name), to name the winner of a vote."""


@dataclass(frozen=True)
class BatchKeys:
    """The keys of a batch's battles, one entry each, the digests in uint64 arrays: what a
    worker process sends back (a list of `Keys` would be unpickled object by object)."""

    question_ids: list[str]
    any_id: Any
    same_id: Any | None
    """None where the release's ids are not battle ids (the same for a whole batch)."""
    exact: Any
    normalized: Any
    vote: Any
    sides: list[tuple[str, str]]

    @classmethod
    def of(cls, keys: Sequence[Keys]) -> BatchKeys:
        import numpy as np

        def digests(values: Any) -> Any:
            return np.fromiter(values, dtype=np.uint64, count=len(keys))

        has_id = bool(keys) and keys[0].same_id is not None
        return cls(
            [k.question_id for k in keys],
            digests(k.any_id for k in keys),
            digests(k.same_id or 0 for k in keys) if has_id else None,
            digests(k.exact for k in keys),
            digests(k.normalized for k in keys),
            np.fromiter((k.vote for k in keys), dtype=np.uint8, count=len(keys)),
            [k.sides for k in keys],
        )

    def __len__(self) -> int:
        return len(self.question_ids)


def _utf8(text: str) -> bytes:
    """A text's UTF-8 (a lone surrogate kept as its three bytes, never an error)."""
    return text.encode("utf-8", "surrogatepass")


def _sha(*parts: bytes) -> int:
    """The first 8 bytes of the sha256 of the parts joined by 0xFF (a byte that UTF-8 never
    holds, so that the parts are always told apart), as an integer."""
    return int.from_bytes(hashlib.sha256(_SEPARATOR.join(parts)).digest()[:8], "little")


def normalize(text: str) -> str:
    """Unicode NFC, every run of whitespace one space, ends stripped."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def by_name(model_a: str, model_b: str, side_a: T, side_b: T) -> tuple[T, T]:
    """Two sides ordered by their models' names (the two names always differ), so that a battle
    with A and B swapped gives the same key."""
    return (side_b, side_a) if model_a > model_b else (side_a, side_b)


_ASCII_SPACE = bytes(32 if chr(c).isspace() else c for c in range(128)) + bytes(range(128, 256))
"""A bytes.translate table: every ASCII whitespace character (str.isspace) to a space."""
_SPACE_RUNS = re.compile(b"  +")


def _normalized_bytes(text: str, data: bytes | None = None) -> bytes:
    """`normalize(text)` as UTF-8 (`data`: the text's UTF-8, if at hand); for an ASCII text in
    C passes over its bytes (whitespace to spaces, each run of spaces one, strip), with no word
    list."""
    if not text.isascii():
        return _utf8(normalize(text))
    data = (text.encode() if data is None else data).translate(_ASCII_SPACE)
    if b"  " in data:
        data = _SPACE_RUNS.sub(b" ", data)
    return data.strip(b" ")


def _battle_digests(
    users: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    model_a: str,
    model_b: str,
    *,
    exact: bool = True,
) -> tuple[int, int]:
    """The battle's exact and normalized digests (exact 0 unless `exact`): the first 8 bytes of
    the sha256 of the kind, the models (ordered by name), the number of turns, then the texts
    (users, then the answers of each side, the sides ordered by model name), as stored or
    normalized, all joined by 0xFF."""
    first, second = by_name(model_a, model_b, answers_a, answers_b)
    texts = (*users, *first, *second)
    head = (*map(_utf8, by_name(model_a, model_b, model_a, model_b)), b"%d" % len(users))
    raw = [_utf8(t) for t in texts]
    normalized = [_normalized_bytes(t, x) for t, x in zip(texts, raw, strict=True)]
    return (_sha(b"exact", *head, *raw) if exact else 0), _sha(b"normalized", *head, *normalized)


def normalized_key(
    users: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    model_a: str,
    model_b: str,
) -> int:
    """The same-battle key of these texts and models, with every text normalized: also what the
    bench pools builds by."""
    return _battle_digests(users, answers_a, answers_b, model_a, model_b, exact=False)[1]


def battle_keys(b: Battle, release: str | None) -> Keys:
    """The keys of a battle from the release `release` (a layout's dataset id; None: its ids
    are not battle ids, as in mt_bench, where one question has many judgments)."""
    models = by_name(b.model_a, b.model_b, b.model_a, b.model_b)
    qid = _utf8(b.question_id)
    same_id = None if release is None else _sha(b"id", _utf8(release), qid)
    exact, normalized = _battle_digests(b.users, b.answers_a, b.answers_b, b.model_a, b.model_b)
    # the vote in the keys' side order: 0 the first model won, 1 the second, 2 a tie
    vote = int((b.winner == "model_a") == (models[0] != b.model_a)) if b.winner in DECISIVE else 2
    any_id = _sha(b"any id", qid)
    return Keys(b.question_id, any_id, same_id, exact, normalized, vote, models)


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
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    """Copies of one battle whose votes differ."""

    def see(self, keys: Keys, source: int, row: int) -> Match | None:
        """The match of one battle with an earlier one, or None (then it is remembered)."""
        return self.see_batch(BatchKeys.of([keys]), source, [row])[0]

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

    def summary(self) -> dict[str, Any]:
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
