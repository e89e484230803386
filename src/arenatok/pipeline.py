"""The build: read -> check -> count -> metrics -> write, wired together.

The per-batch work (`process_batch`) is a pure function of the rows (and a token counter), so the
local loop in `build` and any other engine run the same code.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from arenatok.errors import ArenatokError, BadRowError, SourceError
from arenatok.load import (
    ARENA_33K,
    HubFile,
    LocalFile,
    RowProblem,
    battle_from_row,
    fetch_hub_file,
    open_local,
    parquet_rows,
    sha256_file,
)
from arenatok.metrics import DEFINITIONS, token_usage
from arenatok.records import WINNERS, Battle, Record, Reject
from arenatok.tokens import TokenCounter, describe
from arenatok.write import DatasetWriter, reject_entry

DEFAULT_LIMIT = 300
BadRowPolicy = Literal["error", "reject"]


def make_record(
    battle: Battle,
    users: Sequence[int],
    answers_a: Sequence[int],
    answers_b: Sequence[int],
    *,
    dataset: str,
) -> Record:
    """The output record of one battle, given the token counts of its messages."""
    return {
        "input": battle.users[0],
        "context": {
            "model_a": battle.model_a,
            "model_b": battle.model_b,
            "winner": battle.winner,
            "response_a": battle.answers_a[0],
            "response_b": battle.answers_b[0],
            "conversation": [
                {"user": u, "response_a": a, "response_b": b}
                for u, a, b in zip(battle.users, battle.answers_a, battle.answers_b, strict=True)
            ],
            "token_usage": token_usage(
                users, answers_a, answers_b, has_timestamp=battle.tstamp is not None
            ),
            "api_metadata": {
                "question_id": battle.question_id,
                "timestamp": battle.tstamp,
                "language": battle.language,
                "judge": battle.judge,
                "anony": battle.anony,
            },
            "flags": {
                "openai_moderation_flagged": battle.openai_moderation_flagged,
                "toxic_chat_flagged": battle.toxic_chat_flagged,
            },
        },
        "output": f"Winner: {battle.winner}",
        "dataset": dataset,
    }


def _plain_id(row: object) -> object:
    qid = row.get("question_id") if isinstance(row, dict) else None
    return qid if qid is None or isinstance(qid, str | int) else repr(qid)


def parse_batch(rows: Sequence[object], *, start: int) -> tuple[list[Battle], list[Reject]]:
    """Check each row; `start` is the source row number of rows[0]."""
    battles: list[Battle] = []
    rejects: list[Reject] = []
    for i, row in enumerate(rows):
        try:
            battles.append(battle_from_row(row))
        except RowProblem as e:
            rejects.append(Reject(start + i, _plain_id(row), str(e)))
    return battles, rejects


def count_battles(
    battles: Sequence[Battle], counter: TokenCounter, *, dataset: str
) -> list[Record]:
    """Records of checked battles; all texts of the batch are counted in one call."""
    texts = [t for b in battles for part in (b.users, b.answers_a, b.answers_b) for t in part]
    counts = counter.count_many(texts)
    records: list[Record] = []
    pos = 0
    for b in battles:
        n = len(b.users)
        records.append(
            make_record(
                b,
                counts[pos : pos + n],
                counts[pos + n : pos + 2 * n],
                counts[pos + 2 * n : pos + 3 * n],
                dataset=dataset,
            )
        )
        pos += 3 * n
    return records


def process_batch(
    rows: Sequence[object], *, start: int, counter: TokenCounter, dataset: str
) -> tuple[list[Record], list[Reject]]:
    """Rows in, records and rejects out: the whole per-batch step."""
    battles, rejects = parse_batch(rows, start=start)
    return count_battles(battles, counter, dataset=dataset), rejects


@dataclass
class Stats:
    """Counts over a build; two Stats add up, so batches or shards merge without a second pass."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    winners: Counter[str] = field(default_factory=Counter)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    turns: int = 0
    input_tokens: int = 0
    output_tokens_a: int = 0
    output_tokens_b: int = 0

    @classmethod
    def of(cls, records: Sequence[Record], rejected: int) -> Stats:
        """Stats of one batch."""
        s = cls(read=len(records) + rejected, written=len(records), rejected=rejected)
        for r in records:
            c = r["context"]
            u = c["token_usage"]
            s.winners[c["winner"]] += 1
            s.pairs.add((c["model_a"], c["model_b"]))
            s.turns += len(u["turns"])
            s.input_tokens += u["total_input_tokens"]
            s.output_tokens_a += u["total_output_tokens_a"]
            s.output_tokens_b += u["total_output_tokens_b"]
        return s

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.read + other.read,
            self.written + other.written,
            self.rejected + other.rejected,
            self.winners + other.winners,
            self.pairs | other.pairs,
            self.turns + other.turns,
            self.input_tokens + other.input_tokens,
            self.output_tokens_a + other.output_tokens_a,
            self.output_tokens_b + other.output_tokens_b,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens_a + self.output_tokens_b

    def summary(self) -> dict[str, Any]:
        """The figures that go into artifact_metadata.json."""
        n = self.written

        def mean(x: int) -> float | None:
            return x / n if n else None

        return {
            "counts": {"rows_read": self.read, "rows_written": n, "rows_rejected": self.rejected},
            "winner_distribution": {
                w: {"count": self.winners[w], "share": self.winners[w] / n if n else None}
                for w in WINNERS
            },
            "model_pairs": {
                "ordered": len(self.pairs),
                "unordered": len({tuple(sorted(p)) for p in self.pairs}),
            },
            "means": {
                "turns": mean(self.turns),
                "total_tokens": mean(self.total_tokens),
                "total_input_tokens": mean(self.input_tokens),
                "total_output_tokens_a": mean(self.output_tokens_a),
                "total_output_tokens_b": mean(self.output_tokens_b),
            },
            "totals": {
                "turns": self.turns,
                "total_tokens": self.total_tokens,
                "total_input_tokens": self.input_tokens,
                "total_output_tokens_a": self.output_tokens_a,
                "total_output_tokens_b": self.output_tokens_b,
            },
        }


@dataclass
class BuildResult:
    """What a build produced."""

    out_dir: Path
    stats: Stats
    files: dict[str, dict[str, object]]
    metadata: dict[str, Any]
    cache_hit_rate: float
    seconds: float


Progress = Callable[[int, int | None], None]
"""Called with (rows read so far, rows expected or None)."""


def _resolve_source(
    source: str | Path | None, hub: HubFile, endpoint: str | None
) -> tuple[LocalFile, dict[str, Any], str]:
    if source is None:
        path = fetch_hub_file(hub, endpoint=endpoint)
        local = open_local(path)
        prov = {
            "kind": "huggingface_hub",
            "repo_id": hub.repo_id,
            "revision": hub.revision,
            "filename": hub.filename,
            "sha256": hub.sha256,
            "bytes": path.stat().st_size,
        }
        return local, prov, hub.repo_id
    local = open_local(source)
    prov = {
        "kind": "local_file",
        "path": str(source),
        "format": local.format,
        "sha256": sha256_file(local.path),
        "bytes": local.path.stat().st_size,
    }
    return local, prov, local.path.name


def build(
    source: str | Path | None = None,
    *,
    out: str | Path = "arenatok-out",
    limit: int | None = DEFAULT_LIMIT,
    encoding: str = "cl100k_base",
    on_bad_row: BadRowPolicy = "error",
    dataset_name: str | None = None,
    hub: HubFile = ARENA_33K,
    endpoint: str | None = None,
    batch_size: int = 2048,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the token-usage dataset from `source` (a local file; None = the pinned Hub file)
    into `out`. `limit` keeps the first N source rows (None = all)."""
    if limit is not None and limit < 1:
        raise SourceError(f"--limit must be a positive number or 'all', got {limit}")
    started = time.perf_counter()
    created = _created()
    local, provenance, default_name = _resolve_source(source, hub, endpoint)
    dataset = dataset_name or default_name
    expected = parquet_rows(local.path) if local.format == "parquet" else None
    if limit is not None:
        expected = limit if expected is None else min(limit, expected)
    out_dir = Path(out)
    file_label = str(source) if source is not None else f"{hub.repo_id}/{hub.filename}"
    stats = Stats()
    with TokenCounter(encoding) as counter:
        writer = DatasetWriter(out_dir, keep_rejects=on_bad_row == "reject")
        try:
            if progress:
                progress(0, expected)
            for rows in local.batches(batch_size):
                if limit is not None:
                    rows = rows[: limit - stats.read]
                battles, rejects = parse_batch(rows, start=stats.read)
                if rejects and on_bad_row == "error":
                    r = rejects[0]
                    raise BadRowError(
                        file=file_label, row=r.row, question_id=r.question_id, reason=r.reason
                    )
                records = count_battles(battles, counter, dataset=dataset)
                writer.add(records, (reject_entry(file_label, r) for r in rejects))
                stats += Stats.of(records, len(rejects))
                if progress:
                    progress(stats.read, expected)
                if limit is not None and stats.read >= limit:
                    break
            if stats.read == 0:
                raise SourceError(f"{file_label}: the file has no rows")
            metadata = _metadata(provenance, limit, encoding, on_bad_row, dataset, stats, created)
            files = writer.commit(metadata)
        except BaseException:
            writer.discard()
            raise
        lookups = counter.hits + counter.misses
        hit_rate = counter.hits / lookups if lookups else 0.0
    assert stats.read == stats.written + stats.rejected
    return BuildResult(out_dir, stats, files, metadata, hit_rate, time.perf_counter() - started)


def _metadata(
    provenance: dict[str, Any],
    limit: int | None,
    encoding: str,
    on_bad_row: str,
    dataset: str,
    stats: Stats,
    created: str | None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "description": (
            "Token usage of Chatbot Arena battles: per-turn token counts of the shared user "
            "prompt and of both models' answers, per-battle totals, communication-efficiency "
            "ratios, full-state (history resent) input sizes, and the human vote as a quality "
            "label. Made by arenatok."
        ),
        "dataset": dataset,
        "arenatok_version": importlib.metadata.version("arenatok"),
        "source": provenance,
        "selection": {
            "limit": "all" if limit is None else limit,
            "rule": "the first rows of the source, in source order",
        },
        "options": {"encoding": encoding, "on_bad_row": on_bad_row},
        "tokenizer": describe(encoding),
        **stats.summary(),
        "definitions": DEFINITIONS,
    }
    if created:
        meta["created"] = created
    return meta


def _created() -> str | None:
    """Build time for the metadata, only from SOURCE_DATE_EPOCH (so builds stay reproducible)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    if not epoch.isdigit():
        raise ArenatokError(f"SOURCE_DATE_EPOCH must be whole seconds, got {epoch!r}")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))
