"""The build: read -> check -> count -> metrics -> write, wired together.

The per-batch work lives in `steps` and runs on an executor from `engine`; this module only
connects the source, the executor and the writer.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from arenatok import formats
from arenatok.check import QUALITY_FLAGS
from arenatok.engine import default_workers, run_local, run_ray
from arenatok.errors import ArenatokError, BadRowError, SourceError
from arenatok.interrupts import deferred_signals
from arenatok.load import (
    ARENA_33K,
    HubFile,
    LocalFile,
    Payload,
    fetch_hub_file,
    head,
    open_local,
    parquet_rows,
    sha256_file,
)
from arenatok.metrics import DEFINITIONS
from arenatok.steps import Job, Stats
from arenatok.tokens import TokenizerFileCounter, describe
from arenatok.write import DatasetWriter, reject_entry

DEFAULT_LIMIT = 300
BadRowPolicy = Literal["error", "reject"]
Engine = Literal["local", "ray"]


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
    source: str | Path | None, hub: HubFile, endpoint: str | None, layout: str | None
) -> tuple[LocalFile, dict[str, Any], str]:
    if source is None:
        path = fetch_hub_file(hub, endpoint=endpoint)
        local = open_local(path, layout=layout)
        prov = {
            "kind": "huggingface_hub",
            "repo_id": hub.repo_id,
            "revision": hub.revision,
            "filename": hub.filename,
            "sha256": hub.sha256,
            "bytes": path.stat().st_size,
        }
        return local, prov, hub.repo_id
    local = open_local(source, layout=layout)
    prov = {
        "kind": "local_file",
        "path": str(source),
        "format": local.filetype,
        "sha256": sha256_file(local.path),
        "bytes": local.path.stat().st_size,
    }
    return local, prov, local.path.name


PROCESS_MIN_ROWS = 5000
"""Below this many rows, worker processes cost more to start than they save."""


def build(
    source: str | Path | None = None,
    *,
    out: str | Path = "arenatok-out",
    limit: int | None = DEFAULT_LIMIT,
    encoding: str | Sequence[str] = "cl100k_base",
    tokenizers: Sequence[str | Path] = (),
    layout: str | None = None,
    allow_null_turns: bool = False,
    chat_overhead: str | None = None,
    on_bad_row: BadRowPolicy = "error",
    dataset_name: str | None = None,
    hub: HubFile = ARENA_33K,
    endpoint: str | None = None,
    batch_size: int = 1024,
    workers: int | None = 1,
    engine: Engine = "local",
    progress: Progress | None = None,
) -> BuildResult:
    """Build the token-usage dataset from `source` (a local file; None = the pinned Hub file)
    into `out`. `limit` keeps the first N source rows (None = all).

    `encoding`: one tiktoken encoding or several (the first is the primary, the others go to
    `extra_token_usage`), then `tokenizers` (tokenizer.json files). `layout`: a name from
    `formats.FORMATS` (None = detected from the columns).

    `workers`: 1 = all work in this process (token counting on threads); N > 1 = N worker
    processes (the calling script must be importable: guard it with
    `if __name__ == "__main__":`); None = one per core when the input is large, else 1.
    `engine="ray"` runs the same per-batch step with Ray Data instead (Parquet sources)."""
    if limit is not None and limit < 1:
        raise SourceError(f"--limit must be a positive number or 'all', got {limit}")
    if chat_overhead not in (None, "openai"):
        raise ArenatokError(f"unknown chat format: {chat_overhead!r}", hint="known: openai")
    started = time.perf_counter()
    created = _created()
    encodings = [encoding] if isinstance(encoding, str) else list(encoding)
    if not encodings:
        raise ArenatokError("no encoding given", hint="for example --encoding cl100k_base")
    # Unknown encodings and unreadable tokenizer files fail here, before any work.
    counted_by = [describe(e) for e in encodings] + [
        TokenizerFileCounter(t).describe() for t in tokenizers
    ]
    local, provenance, default_name = _resolve_source(source, hub, endpoint, layout)
    job = Job(
        dataset=dataset_name or default_name,
        layout=local.layout,
        counters=(*encodings, *map(str, tokenizers)),
        allow_null_turns=allow_null_turns,
        chat_overhead=chat_overhead,
    )
    expected = parquet_rows(local.path) if local.filetype == "parquet" else None
    if limit is not None:
        expected = limit if expected is None else min(limit, expected)
    if workers is None:
        if expected is None:  # CSV, JSON: judge by size (a battle takes about 1.3 KB on disk)
            small = local.path.stat().st_size < PROCESS_MIN_ROWS * 1300
        else:
            small = expected < PROCESS_MIN_ROWS
        workers = 1 if small else default_workers()
    file_label = str(source) if source is not None else f"{hub.repo_id}/{hub.filename}"
    stats = Stats()
    hits = lookups = 0
    if engine == "ray" and local.filetype != "parquet":
        raise SourceError(
            f"{file_label}: --engine ray reads Parquet files, this is {local.filetype}"
        )
    writer = DatasetWriter(Path(out), keep_rejects=on_bad_row == "reject")
    try:
        # Ctrl-C and SIGTERM stop the build between batches, after the workers are shut down.
        with deferred_signals() as stop:
            if progress:
                progress(0, expected)
            results = (
                run_ray(local.path, local.columns, job=job, limit=limit, batch_size=batch_size)
                if engine == "ray"
                else run_local(_jobs(local, limit, batch_size), job=job, workers=workers)
            )
            try:
                for r in results:
                    if r.rejects and on_bad_row == "error":
                        x = r.rejects[0]
                        raise BadRowError(
                            file=file_label, row=x.row, question_id=x.question_id, reason=x.reason
                        )
                    rejects = (reject_entry(file_label, x) for x in r.rejects)
                    writer.add(r.block, r.records, r.head, rejects)
                    stats += r.stats
                    hits += r.cache_hits
                    lookups += r.cache_hits + r.cache_misses
                    if progress:
                        progress(stats.read, expected)
                    if stop:
                        break
            finally:
                results.close()  # shuts the worker processes down now, not at garbage collection
            if not stop:
                if stats.read == 0:
                    raise SourceError(f"{file_label}: the file has no rows")
                metadata = _metadata(provenance, limit, job, counted_by, on_bad_row, stats, created)
                files = writer.commit(metadata)
    except BaseException:
        writer.discard()
        raise
    assert stats.read == stats.written + stats.rejected
    return BuildResult(
        Path(out),
        stats,
        files,
        metadata,
        hits / lookups if lookups else 0.0,
        time.perf_counter() - started,
    )


def _jobs(local: LocalFile, limit: int | None, batch_size: int) -> Iterator[tuple[int, Payload]]:
    """(start row, batch) pairs, cut at `limit` rows."""
    read = 0
    for payload in local.payloads(batch_size):
        if limit is not None and read + len(payload) > limit:
            payload = head(payload, limit - read)
        yield read, payload
        read += len(payload)
        if limit is not None and read >= limit:
            return


def _metadata(
    provenance: dict[str, Any],
    limit: int | None,
    job: Job,
    counted_by: list[dict[str, str]],
    on_bad_row: str,
    stats: Stats,
    created: str | None,
) -> dict[str, Any]:
    layout = formats.get(job.layout)
    meta: dict[str, Any] = {
        "description": (
            "Token usage of Chatbot Arena battles: per-turn token counts of the shared user "
            "prompt and of both models' answers, per-battle totals, communication-efficiency "
            "ratios, full-state (history resent) input sizes, and the human vote as a quality "
            "label. Made by arenatok."
        ),
        "dataset": job.dataset,
        "arenatok_version": importlib.metadata.version("arenatok"),
        "source": {**provenance, "layout": layout.name, "layout_of": layout.source},
        "selection": {
            "limit": "all" if limit is None else limit,
            "rule": "the first rows of the source, in source order",
        },
        "options": {
            "counters": list(job.counters),
            "on_bad_row": on_bad_row,
            "allow_null_turns": job.allow_null_turns,
            "chat_overhead": job.chat_overhead,
        },
        "tokenizer": counted_by[0],
        **({"extra_tokenizers": counted_by[1:]} if len(counted_by) > 1 else {}),
        **stats.summary(layout.winners),
        "definitions": DEFINITIONS,
        "quality_flag_definitions": QUALITY_FLAGS,
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
