"""The one reader of a built dataset (what `arenatok build` wrote), for report, bench, card and
push: its metadata and records, read through the checks of `dataset.check` (a build that
`validate` rejects is refused at its first problem), and its battles as columns (`Battles`,
for the report). The bench reads data_out.jsonl in shards with the same per-record check."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arenatok.dataset.check import (
    Problems,
    Stream,
    build_id,
    check_files,
    check_record,
    decoded,
    lines_of,
)
from arenatok.dataset.check import read_metadata as read_metadata_checked
from arenatok.errors import SourceError
from arenatok.pipeline.battle import Vote, vote
from arenatok.pipeline.metadata import Metadata
from arenatok.pipeline.records import Record
from arenatok.pipeline.style import FEATURES
from arenatok.pipeline.write import JSONL, METADATA
from arenatok.runtime.files import exists
from arenatok.runtime.journal import pending

__all__ = [
    "Battles",
    "Built",
    "build_id",
    "check_stream",
    "read_built",
    "read_metadata",
    "records",
]


@dataclass
class Battles:
    """One entry per battle, in the dataset's order; every field is a per-battle list."""

    model_a: list[str] = field(default_factory=list)
    model_b: list[str] = field(default_factory=list)
    winner: list[Vote] = field(default_factory=list)
    language: list[str | None] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)
    input_tokens: list[int] = field(default_factory=list)
    output_a: list[int] = field(default_factory=list)
    output_b: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    full_state_a: list[int] = field(default_factory=list)
    full_state_b: list[int] = field(default_factory=list)
    turn_input_tokens: list[list[int]] = field(default_factory=list)
    turn_a_tokens: list[list[int]] = field(default_factory=list)
    turn_b_tokens: list[list[int]] = field(default_factory=list)
    users: list[tuple[str, ...]] = field(default_factory=list)
    answers_a: list[tuple[str, ...]] = field(default_factory=list)
    answers_b: list[tuple[str, ...]] = field(default_factory=list)
    moderation_flagged: list[bool | None] = field(default_factory=list)
    toxic_flagged: list[bool | None] = field(default_factory=list)
    quality_flags: list[list[str]] = field(default_factory=list)
    timestamp: list[float | None] = field(default_factory=list)
    anony: list[bool | None] = field(default_factory=list)
    style_a: list[tuple[int, ...]] = field(default_factory=list)
    """Model A's (header_count, list_count, bold_count), summed over the turns."""
    style_b: list[tuple[int, ...]] = field(default_factory=list)
    categories: list[dict[str, bool]] = field(default_factory=list)
    """The release's yes/no labels (empty where it has none)."""

    def __len__(self) -> int:
        return len(self.winner)

    def head(self, n: int) -> Battles:
        """The first n battles."""
        return Battles(**{f.name: getattr(self, f.name)[:n] for f in dataclasses.fields(self)})

    def take(self, indices: Sequence[int]) -> Battles:
        """The battles at `indices`, in that order."""
        return Battles(
            **{
                f.name: [getattr(self, f.name)[i] for i in indices]
                for f in dataclasses.fields(self)
            }
        )

    @classmethod
    def concat(cls, parts: Sequence[Battles]) -> Battles:
        """Several sets of battles as one, in the order given."""
        return cls(
            **{
                f.name: [x for p in parts for x in getattr(p, f.name)]
                for f in dataclasses.fields(cls)
            }
        )

    def add(self, record: Record) -> None:
        """Append one output record."""
        ctx = record["context"]
        usage = ctx["token_usage"]
        turns = usage["turns"]
        conv = ctx["conversation"]
        fs = usage["full_state"]
        self.model_a.append(ctx["model_a"])
        self.model_b.append(ctx["model_b"])
        self.winner.append(vote(ctx["winner"]))
        self.language.append(ctx["api_metadata"]["language"])
        self.turns.append(len(turns))
        self.input_tokens.append(usage["total_input_tokens"])
        self.output_a.append(usage["total_output_tokens_a"])
        self.output_b.append(usage["total_output_tokens_b"])
        self.total.append(usage["total_tokens"])
        self.overhead.append(usage["communication_efficiency"]["coordination_overhead"])
        self.full_state_a.append(fs["full_state_input_tokens_a"])
        self.full_state_b.append(fs["full_state_input_tokens_b"])
        self.turn_input_tokens.append([t["input_tokens"] for t in turns])
        self.turn_a_tokens.append([t["response_a_tokens"] for t in turns])
        self.turn_b_tokens.append([t["response_b_tokens"] for t in turns])
        self.users.append(tuple(t["user"] for t in conv))
        self.answers_a.append(tuple(t["response_a"] for t in conv))
        self.answers_b.append(tuple(t["response_b"] for t in conv))
        self.moderation_flagged.append(ctx["flags"]["openai_moderation_flagged"])
        self.toxic_flagged.append(ctx["flags"]["toxic_chat_flagged"])
        self.quality_flags.append(ctx["quality_flags"])
        api = ctx["api_metadata"]
        self.timestamp.append(api["timestamp"])
        self.anony.append(api["anony"])
        style = ctx["style"]
        self.style_a.append(tuple(style["total_a"][k] for k in FEATURES))
        self.style_b.append(tuple(style["total_b"][k] for k in FEATURES))
        self.categories.append(api.get("categories") or {})


@dataclass(frozen=True)
class Built:
    """A built dataset: its directory, metadata and battles."""

    out: Path
    metadata: Metadata
    battles: Battles

    @property
    def build_id(self) -> str:
        """The sha256 of its data_out.jsonl: what files derived from it name."""
        return build_id(self.metadata)


def _missing(out: Path) -> None:
    """A clear SourceError when `out` holds no build at all."""
    if not exists(out / METADATA) and not pending(out):
        raise SourceError(
            f"{out}: no {METADATA} here (not a finished build)",
            hint="run arenatok build --out DIR first",
        )


def read_metadata(out: str | Path) -> Metadata:
    """artifact_metadata.json of a built directory, checked (its shape, its counts, its file
    table, every listed file's size): a BuildError at its first problem."""
    out = Path(out)
    _missing(out)
    problems = Problems(out, first=True)
    meta = read_metadata_checked(out, problems)
    assert meta is not None  # a problem raised
    check_files(out, meta, problems, hashed=set(meta["files"]))
    return meta


def checked_lines(out: Path, meta: Metadata, *, limit: int | None = None) -> Iterator[Record]:
    """The records of a build whose metadata is checked (`read_metadata`), in order, each
    checked (`check.check_record`: schema and metric definitions), the first `limit` of
    them; then the files against the metadata (sha256s, counts, mini and preview): a
    BuildError at the first problem."""
    problems = Problems(out, first=True)
    stream = Stream()
    for n, line in enumerate(_lines(out, problems), start=1):
        if limit is None or n <= limit:
            record = check_record(line, f"{JSONL} line {n}", problems)
            assert record is not None  # a problem raised
            stream.feed(line, record)
            yield record
        else:
            stream.feed(line, decoded(line))
    stream.finish(out, meta, problems)
    check_files(out, meta, problems, hashed={JSONL})


def check_stream(out: Path, meta: Metadata) -> None:
    """The files of a build whose metadata is checked, against it (sha256s, counts, mini and
    preview), without checking each record (the bench's workers do): a BuildError at the
    first problem."""
    problems = Problems(out, first=True)
    stream = Stream()
    for line in _lines(out, problems):
        stream.feed(line, decoded(line))
    stream.finish(out, meta, problems)
    check_files(out, meta, problems, hashed={JSONL})


def _lines(out: Path, problems: Problems) -> Iterator[bytes]:
    """data_out.jsonl's lines; a file that cannot be read is a BuildError (`problems` raises)."""
    try:
        yield from lines_of(out / JSONL)
    except OSError as e:
        problems.add(JSONL, f"cannot be read ({e.strerror or e})")


def records(out: Path, *, limit: int | None = None) -> Iterator[Record]:
    """The records of a built directory, in order (the first `limit`), each checked."""
    out = Path(out)
    return checked_lines(out, read_metadata(out), limit=limit)


def read_built(out: str | Path, *, limit: int | None = None) -> Built:
    """A built directory's metadata and battles (the first `limit`), read through the checks
    of `dataset.check`: a missing directory, or one that `validate` would reject, is a
    SourceError (BuildError) at its first problem, which says what to do."""
    out = Path(out)
    meta = read_metadata(out)
    battles = Battles()
    for r in checked_lines(out, meta, limit=limit):
        battles.add(r)
    return Built(out, meta, battles)
