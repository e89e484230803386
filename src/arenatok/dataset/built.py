"""A built dataset (what `arenatok build` wrote) read for the report: its metadata and its
battles as columns (`Battles`). The bench reads data_out.jsonl in shards itself
(`bench.corpus`), `card` and `validate` in blocks; all take the file names from `write`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from arenatok.errors import SourceError
from arenatok.style import FEATURES
from arenatok.write import JSONL, METADATA


@dataclass
class Battles:
    """One entry per battle, in the dataset's order; every field is a per-battle list."""

    model_a: list[str] = field(default_factory=list)
    model_b: list[str] = field(default_factory=list)
    winner: list[str] = field(default_factory=list)
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
    style_a: list[tuple[int, int, int]] = field(default_factory=list)
    """Model A's (header_count, list_count, bold_count), summed over the turns."""
    style_b: list[tuple[int, int, int]] = field(default_factory=list)
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

    def add(self, record: dict[str, Any]) -> None:
        """Append one output record."""
        ctx = record["context"]
        usage = ctx["token_usage"]
        turns = usage["turns"]
        conv = ctx["conversation"]
        fs = usage["full_state"]
        self.model_a.append(ctx["model_a"])
        self.model_b.append(ctx["model_b"])
        self.winner.append(ctx["winner"])
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
    metadata: dict[str, Any]
    battles: Battles

    @property
    def build_id(self) -> str:
        """The sha256 of its data_out.jsonl: what files derived from it name."""
        return build_id(self.metadata)


def build_id(metadata: dict[str, Any]) -> str:
    """The sha256 of data_out.jsonl, as artifact_metadata.json lists it."""
    return str(metadata["files"][JSONL]["sha256"])


def read_metadata(out: Path) -> dict[str, Any]:
    """artifact_metadata.json of a built directory; a clear error if there is none."""
    try:
        meta = orjson.loads((out / METADATA).read_bytes())  # refuses nesting past 1,024
        build_id(meta)
    except FileNotFoundError as e:
        raise SourceError(
            f"{out}: no {METADATA} here (not a finished build)",
            hint="run arenatok build --out DIR first",
        ) from e
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise SourceError(
            f"{out / METADATA}: unreadable ({type(e).__name__})",
            hint=f"check it with: arenatok validate {out}",
        ) from e
    if not isinstance(meta, dict):
        raise SourceError(
            f"{out / METADATA}: not an arenatok metadata file",
            hint=f"check it with: arenatok validate {out}",
        )
    return meta


def records(out: Path, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of a built directory, in order (the first `limit`)."""
    path = out / JSONL
    try:
        with path.open("rb") as lines:
            for n, line in enumerate(lines):
                if limit is not None and n >= limit:
                    break
                yield orjson.loads(line)
    except FileNotFoundError as e:
        raise SourceError(
            f"{out}: no {JSONL} here", hint="run arenatok build --out DIR first"
        ) from e
    except orjson.JSONDecodeError as e:
        raise SourceError(
            f"{path}: not an arenatok dataset ({e})",
            hint=f"check it with: arenatok validate {out}",
        ) from e


def read_built(out: str | Path, *, limit: int | None = None) -> Built:
    """A built directory's metadata and battles (the first `limit`); a missing or foreign
    directory is a SourceError that says what to do."""
    out = Path(out)
    meta = read_metadata(out)
    battles = Battles()
    for r in records(out, limit=limit):
        try:
            battles.add(r)
        except (KeyError, TypeError, IndexError) as e:
            raise SourceError(
                f"{out / JSONL}: not an arenatok dataset of this version ({type(e).__name__}: {e})",
                hint=f"check it with: arenatok validate {out}; a build by an older arenatok "
                "lacks newer fields (such as context.style): build it again",
            ) from e
    return Built(out, meta, battles)
