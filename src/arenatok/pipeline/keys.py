"""The duplicate keys of a batch's battles, made where the batch is processed (in worker
processes); `dedup.Index` matches them in the build process.

Each key is 8 bytes of a sha256 digest:

- `same_id`: of the release and the battle's id; `any_id`: of the id alone.
- `exact` and `normalized` (the same battle): of the kind, the two models ordered by name and
  the number of turns, each followed by 0xFF (a byte that UTF-8 never holds); then each text's
  size in UTF-8 bytes (uint64, little-endian); then the texts one after another: the users',
  then the answers of the model first by name, then the other's (so that a battle with A and
  B swapped has the same keys); as stored (`exact`), or each one normalized (`normalized`:
  Unicode NFC, every run of whitespace one space, ends stripped).

A batch's texts are normalized together, in Arrow: one regular expression (RE2, over bytes)
replaces each run of whitespace that is not a single space.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from arenatok.pipeline.battle import DECISIVE, Battle

T = TypeVar("T")

_SEPARATOR = b"\xff"
"""Ends each part of a digest's head: a byte that UTF-8 never holds."""

Sides = tuple[Sequence[str], Sequence[str], Sequence[str], str, str]
"""A battle's texts and models: users, answers of A, answers of B, model A, model B."""


@dataclass(frozen=True)
class BatchKeys:
    """The keys of a batch's battles, one entry each, the digests in uint64 arrays: what a
    worker process sends back."""

    question_ids: list[str]
    any_id: Any
    """The id's digest whatever the release (to keep ids unique across sources)."""
    same_id: Any | None
    """None where the release's ids are not battle ids (the same for a whole batch)."""
    exact: Any
    normalized: Any
    vote: Any
    """Each battle's vote in the keys' side order: 0 the first model won, 1 the second, 2 a
    tie (uint8)."""
    sides: list[tuple[str, str]]
    """The two models in the keys' side order (by name), to name the winner of a vote."""

    def __len__(self) -> int:
        return len(self.question_ids)


def _utf8(text: str) -> bytes:
    """A text's UTF-8 (a lone surrogate kept as its three bytes, never an error)."""
    return text.encode("utf-8", "surrogatepass")


def _sha(*parts: bytes) -> bytes:
    """The first 8 bytes of the sha256 of the parts joined by 0xFF."""
    return hashlib.sha256(_SEPARATOR.join(parts)).digest()[:8]


def _uint64(digests: list[bytes]) -> Any:
    """8-byte digests as a uint64 array (read little-endian)."""
    import numpy as np

    return np.frombuffer(b"".join(digests), dtype="<u8").astype(np.uint64)


def normalize(text: str) -> str:
    """Unicode NFC, every run of whitespace one space, ends stripped."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def by_name(model_a: str, model_b: str, side_a: T, side_b: T) -> tuple[T, T]:
    """Two sides ordered by their models' names (the two names always differ), so that a battle
    with A and B swapped gives the same key."""
    return (side_b, side_a) if model_a > model_b else (side_a, side_b)


_WIDE = r"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80"
"""The UTF-8 of the whitespace characters (`str.isspace`) above ASCII."""
_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]|" + _WIDE
"""One whitespace character's UTF-8."""
_NOT_ONE_SPACE = rf"(?:{_SPACE}){{2,}}|[\t\n\x0b\x0c\r\x1c-\x1f]|{_WIDE}"
"""A run of whitespace that is not a single space: only these are replaced (a pattern that
also matched each single space would make a replacement of every word gap, 6x slower). Arrow
runs RE2 over a binary array in Latin-1 mode, a byte a character: hence the UTF-8 bytes."""


def _arrays(texts: list[str]) -> tuple[Any, Any]:
    """The texts as stored and normalized, as Arrow large_binary arrays."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        raw = pa.array(texts, pa.large_string())
    except UnicodeEncodeError:  # a lone surrogate: not UTF-8, so Python does it all
        return (
            pa.array([_utf8(t) for t in texts], pa.large_binary()),
            pa.array([_utf8(normalize(t)) for t in texts], pa.large_binary()),
        )
    # a text not in NFC (rare) is normalized whole in Python; the pattern leaves it as it is
    composed = [
        t if t.isascii() or unicodedata.is_normalized("NFC", t) else normalize(t) for t in texts
    ]
    changed = any(a is not b for a, b in zip(composed, texts, strict=True))
    raw = raw.cast(pa.large_binary())
    spaced = pc.replace_substring_regex(
        pa.array(composed, pa.large_string()).cast(pa.large_binary()) if changed else raw,
        pattern=_NOT_ONE_SPACE,
        replacement=" ",
    )
    normalized = pc.utf8_trim(spaced.cast(pa.large_string()), characters=" ")
    return raw, normalized.cast(pa.large_binary())


def _digests(kind: bytes, heads: list[bytes], bounds: list[int], texts: Any) -> Any:
    """Each battle's digest of `kind` over its texts in `texts` (an Arrow large_binary array,
    battle i's texts at bounds[i]:bounds[i + 1])."""
    import numpy as np

    offsets = np.frombuffer(texts.buffers()[1], np.int64, len(texts) + 1, 8 * texts.offset)
    data = memoryview(texts.buffers()[2])
    sizes = memoryview(np.diff(offsets).astype("<u8").tobytes())
    at = offsets.tolist()
    prefix = kind + _SEPARATOR
    sha256 = hashlib.sha256
    return _uint64(
        [
            sha256(b"".join((prefix, head, sizes[8 * i : 8 * j], data[at[i] : at[j]]))).digest()[:8]
            for head, i, j in zip(heads, bounds, bounds[1:], strict=False)
        ]
    )


def same_battle_keys(battles: Sequence[Sides], *, exact: bool = True) -> tuple[Any, Any]:
    """The `exact` and `normalized` keys of battles (uint64 arrays; `exact` None unless
    asked for)."""
    if not battles:
        return (_uint64([]) if exact else None), _uint64([])
    texts: list[str] = []
    heads: list[bytes] = []
    bounds = [0]
    for users, answers_a, answers_b, model_a, model_b in battles:
        first, second = by_name(model_a, model_b, answers_a, answers_b)
        texts += users
        texts += first
        texts += second
        bounds.append(len(texts))
        names = by_name(model_a, model_b, model_a, model_b)
        heads.append(b"%s\xff%s\xff%d\xff" % (_utf8(names[0]), _utf8(names[1]), len(users)))
    raw, normalized = _arrays(texts)
    return (
        _digests(b"exact", heads, bounds, raw) if exact else None,
        _digests(b"normalized", heads, bounds, normalized),
    )


def batch_keys(battles: Sequence[Battle], release: str | None) -> BatchKeys:
    """The keys of a batch's battles from the release `release` (a layout's dataset id; None:
    its ids are not battle ids, as in mt_bench, where one question has many judgments)."""
    import numpy as np

    exact, normalized = same_battle_keys(
        [(b.users, b.answers_a, b.answers_b, b.model_a, b.model_b) for b in battles]
    )
    ids = [_utf8(b.question_id) for b in battles]
    sides = [by_name(b.model_a, b.model_b, b.model_a, b.model_b) for b in battles]
    # a decisive vote is 0 where the winner is the first model in name order, else 1
    votes = [
        int((b.winner == "model_a") == (s[0] != b.model_a)) if b.winner in DECISIVE else 2
        for b, s in zip(battles, sides, strict=True)
    ]
    same_id = None
    if release is not None:
        name = _utf8(release)
        same_id = _uint64([_sha(b"id", name, q) for q in ids])
    return BatchKeys(
        [b.question_id for b in battles],
        _uint64([_sha(b"any id", q) for q in ids]),
        same_id,
        exact,
        normalized,
        np.array(votes, dtype=np.uint8),
        sides,
    )
