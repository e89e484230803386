"""The bench's view of one or more builds: what it reads of each record, read in shards by
worker processes, and the split.

A shard is a byte range of a build's data_out.jsonl (whole lines). A worker parses its lines,
keeps the fields the bench needs and turns every message into its cl100k_base token ids, so
the texts never reach the process that runs the bench: it holds token ids and a few numbers
per battle (see `Corpus`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from arenatok.errors import SourceError
from arenatok.pipeline.battle import Vote
from arenatok.pipeline.battle import vote as as_vote
from arenatok.pipeline.keys import Sides, same_battle_keys
from arenatok.pipeline.records import Record
from arenatok.pipeline.style import FEATURES
from arenatok.pipeline.write import JSONL
from arenatok.runtime.files import open_owned

TEST_SHARE = 0.2
SHARD_BYTES = 8 << 20
"""A shard's size in data_out.jsonl (whole lines): about 1,600 battles."""

VOTE_CODES: dict[Vote, int] = {"model_b": 0, "model_a": 1, "tie": 2, "tie (bothbad)": 2}
"""Vote codes: 0 model_b, 1 model_a, 2 a tie of either kind."""


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, ... start+length-1 of every span, one after another."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    return offsets + np.arange(total, dtype=np.int64)


def turn_numbers(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ... size-1 for each group of `sizes`, one group after another (the turn of each
    (side, turn) row, for groups of a side's turns)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    out: np.ndarray = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return out


def in_test_split(first_prompt: str, *, seed: int, share: float = TEST_SHARE) -> bool:
    """A battle is in the test split by a seeded hash of its first user message: battles that
    share a prompt are always on the same side of the split."""
    digest = hashlib.sha256(f"{seed}\0{first_prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass
class Corpus:
    """Battles as arrays, in the order of the builds and their records. Messages are numbered
    battle by battle, turn by turn: user message t, answer A t, answer B t."""

    vote: np.ndarray
    """Per battle: 0 model_b, 1 model_a, 2 a tie label."""
    test: np.ndarray
    """Per battle: in the test split."""
    turns: np.ndarray
    """Per battle: its number of turns."""
    model_a: list[str]
    model_b: list[str]
    style_a: np.ndarray
    """Per battle: answer tokens and markdown counts of side A (as
    `report.leaderboards.style_matrix`)."""
    style_b: np.ndarray
    lengths: np.ndarray
    """Per message: its number of cl100k_base tokens."""
    sizes: np.ndarray
    """Per message: its size in UTF-8 bytes."""
    ids: np.ndarray
    """Every message's token ids, one after another (int32)."""
    key: np.ndarray
    """Per battle: its normalized same-battle key (`keys.same_battle_keys`, uint64): a copy of a
    battle in another build has the same (0 where the shards were read without keys)."""

    def __len__(self) -> int:
        return len(self.vote)

    @property
    def starts(self) -> np.ndarray:
        """Per message: where its ids start in `ids`."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def first_message(self) -> np.ndarray:
        """Per battle: the number of its first message (3 a turn)."""
        return np.concatenate([[0], np.cumsum(3 * self.turns)[:-1]]).astype(np.int64)

    def take(self, keep: np.ndarray) -> Corpus:
        """The battles where `keep` (a mask) is true, with their messages and ids."""
        messages = np.repeat(keep, 3 * self.turns.astype(np.int64))
        lengths = self.lengths[messages]
        picked = self.ids[spans(self.starts[messages], lengths)]
        return Corpus(
            vote=self.vote[keep],
            test=self.test[keep],
            turns=self.turns[keep],
            model_a=[m for m, k in zip(self.model_a, keep, strict=True) if k],
            model_b=[m for m, k in zip(self.model_b, keep, strict=True) if k],
            style_a=self.style_a[keep],
            style_b=self.style_b[keep],
            lengths=lengths,
            sizes=self.sizes[messages],
            ids=picked,
            key=self.key[keep],
        )

    @classmethod
    def concat(cls, parts: Sequence[Corpus]) -> Corpus:
        out: dict[str, Any] = {}
        for f in fields(cls):
            values = [getattr(p, f.name) for p in parts]
            out[f.name] = (
                [x for v in values for x in v]
                if isinstance(values[0], list)
                else np.concatenate(values)
            )
        return cls(**out)


@dataclass(frozen=True)
class Shard:
    """Lines [start, end) (bytes) of a build's data_out.jsonl."""

    path: Path
    start: int
    end: int
    seed: int
    keys: bool = False
    """Whether to make the same-battle keys (only pooling needs them)."""


def plan_shards(out: Path, *, limit: int | None, seed: int, keys: bool = False) -> list[Shard]:
    """A build's data_out.jsonl (its first `limit` lines) cut into shards of whole lines."""
    path = out / JSONL
    try:
        with open_owned(path) as f:
            size = os.fstat(f.fileno()).st_size
            end = _end_of_line(f, limit) if limit is not None else size
            cuts = [0]
            while cuts[-1] + SHARD_BYTES < end:
                f.seek(cuts[-1] + SHARD_BYTES)
                f.readline()
                cuts.append(min(f.tell(), end))
            if cuts[-1] < end:
                cuts.append(end)
    except FileNotFoundError as e:
        raise SourceError(
            f"{out}: no {JSONL} here", hint="run arenatok build --out DIR first"
        ) from e
    return [Shard(path, a, b, seed, keys) for a, b in itertools.pairwise(cuts) if b > a]


def _end_of_line(f: Any, n: int) -> int:
    """The byte offset after line n (or the end of the file)."""
    for _ in range(n):
        if not f.readline():
            break
    return int(f.tell())


KEYS_AT_ONCE = 1024
"""Battles whose keys are made together (their texts held meanwhile)."""


def _checked(shard: Shard, lines: list[bytes]) -> Iterator[Record]:
    """A shard's records, each checked as the reader of a build checks it
    (`dataset.check.check_record`): a BuildError names the first that fails, by its line."""
    from arenatok.dataset.check import Problems, check_record

    out = shard.path.parent
    for i, line in enumerate(lines):
        found = Problems(out)
        record = check_record(line, "", found)
        if record is None:
            with open_owned(shard.path) as f:
                before = f.read(shard.start).count(b"\n")
            Problems(out, first=True).add(f"{JSONL} line {before + i + 1}", found[0][2:])
        assert record is not None
        yield record


def read_shard(shard: Shard) -> Corpus:
    """A shard's battles, every record checked (runs in a worker process)."""
    from arenatok.pipeline.encodings import get_encoding

    encode = get_encoding("cl100k_base").encode_ordinary
    with open_owned(shard.path) as f:
        f.seek(shard.start)
        lines = f.read(shard.end - shard.start).splitlines()
    vote, test, turns, model_a, model_b = [], [], [], [], []
    sides: list[Sides] = []  # the battles whose keys are still to make
    keys: list[np.ndarray] = []
    style_a, style_b = [], []
    ids: list[int] = []
    lengths: list[int] = []
    sizes: list[int] = []
    for record in _checked(shard, lines):
        ctx = record["context"]
        conv = ctx["conversation"]
        usage = ctx["token_usage"]
        style = ctx["style"]
        texts = [m for t in conv for m in (t["user"], t["response_a"], t["response_b"])]
        first = conv[0]["user"]
        if shard.keys:
            sides.append((texts[0::3], texts[1::3], texts[2::3], ctx["model_a"], ctx["model_b"]))
        row_a = [usage["total_output_tokens_a"], *(style["total_a"][k] for k in FEATURES)]
        row_b = [usage["total_output_tokens_b"], *(style["total_b"][k] for k in FEATURES)]
        vote.append(VOTE_CODES[as_vote(ctx["winner"])])
        model_a.append(ctx["model_a"])
        model_b.append(ctx["model_b"])
        test.append(in_test_split(first, seed=shard.seed))
        turns.append(len(conv))
        style_a.append(row_a)
        style_b.append(row_b)
        if len(sides) == KEYS_AT_ONCE:
            keys.append(same_battle_keys(sides, exact=False)[1])
            sides.clear()
        for text in texts:
            tokens = encode(text)
            ids += tokens
            lengths.append(len(tokens))
            sizes.append(len(text.encode("utf-8", "surrogatepass")))
    keys.append(same_battle_keys(sides, exact=False)[1])
    width = 1 + len(FEATURES)
    return Corpus(
        vote=np.array(vote, dtype=np.int8),
        test=np.array(test, dtype=bool),
        turns=np.array(turns, dtype=np.int32),
        model_a=model_a,
        model_b=model_b,
        style_a=np.array(style_a, dtype=float).reshape(-1, width),
        style_b=np.array(style_b, dtype=float).reshape(-1, width),
        lengths=np.array(lengths, dtype=np.int64),
        sizes=np.array(sizes, dtype=np.int64),
        ids=np.array(ids, dtype=np.int32),
        key=np.concatenate(keys) if shard.keys else np.zeros(len(vote), dtype=np.uint64),
    )
