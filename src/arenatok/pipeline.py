"""The build: read -> check -> count -> metrics -> write, wired together, in two parts.

`plan` does everything that can fail before work starts (options, source, tokenizers) and
returns a `Plan`; `run` sends the batches of a plan through an engine (`engine`) into the
writer (`write`). The per-batch work itself lives in `steps`.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from arenatok import formats, interrupts
from arenatok.check import QUALITY_FLAGS
from arenatok.engine import default_workers, run_local, run_ray
from arenatok.errors import (
    BadRowError,
    EmptyBuildError,
    OptionError,
    SourceError,
    TokenizerError,
)
from arenatok.hub import ARENA_33K, HubFile, fetch_hub_file
from arenatok.load import LocalFile, Payload, first_rows, open_local, parquet_rows, sha256_file
from arenatok.metrics import DEFINITIONS
from arenatok.stats import Stats
from arenatok.steps import BatchResult, StepOptions
from arenatok.tokens import (
    COUNTERS,
    CROSS_CHECK_RULE,
    TokenizerFileCounter,
    describe,
    fast_provenance,
)
from arenatok.write import DatasetWriter, reject_entry

DEFAULT_LIMIT = 300
BadRowPolicy = Literal["error", "reject"]
Engine = Literal["local", "ray"]

PROCESS_MIN_ROWS = 5000
"""Below this many rows, worker processes cost more to start than they save."""

Progress = Callable[[int, int | None], None]
"""Called with (rows read so far, rows expected or None)."""


@dataclass(frozen=True)
class Plan:
    """A build ready to run: every option checked, the source found, the tokenizers known."""

    source: LocalFile
    label: str
    """The source as messages and rejects.jsonl name it."""
    provenance: dict[str, Any]
    options: StepOptions
    tokenizers: list[dict[str, str]]
    """Provenance of each tokenizer, the primary first."""
    out: Path
    limit: int | None
    expected: int | None
    """Rows the build will read, where the source says (Parquet), else None."""
    workers: int
    engine: Engine
    on_bad_row: BadRowPolicy
    allow_empty: bool
    batch_size: int
    created: str | None


@dataclass
class BuildResult:
    """What a build produced."""

    out_dir: Path
    stats: Stats
    files: dict[str, dict[str, object]]
    metadata: dict[str, Any]
    cache_hit_rate: float
    late_signal: int | None = None
    """A SIGINT or SIGTERM that came while the finished output was being renamed into place:
    the build completed anyway."""


def plan(
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
    allow_empty: bool = False,
    dataset_name: str | None = None,
    hub: HubFile = ARENA_33K,
    endpoint: str | None = None,
    batch_size: int = 1024,
    workers: int | None = 1,
    engine: Engine = "local",
    counter: str = "tiktoken",
) -> Plan:
    """Check every option and find the source (see `build` for what they mean)."""
    if limit is not None and limit < 1:
        raise OptionError(f"--limit must be a positive number or 'all', got {limit}")
    if chat_overhead not in (None, "openai"):
        raise OptionError(f"unknown chat format: {chat_overhead!r}", hint="known: openai")
    if on_bad_row not in ("error", "reject"):
        raise OptionError(f"unknown bad-row policy: {on_bad_row!r}", hint="error or reject")
    if engine not in ("local", "ray"):
        raise OptionError(f"unknown engine: {engine!r}", hint="local or ray")
    if counter not in COUNTERS:
        raise OptionError(f"unknown counter: {counter!r}", hint=f"known: {', '.join(COUNTERS)}")
    encodings = [encoding] if isinstance(encoding, str) else list(encoding)
    if not encodings:
        raise OptionError("no encoding given", hint="for example --encoding cl100k_base")
    created = _created()
    # Unknown encodings and unreadable tokenizer files fail here, before any work.
    described = [fast_provenance(e) if counter == "fast" else describe(e) for e in encodings]
    described += [TokenizerFileCounter(t).provenance for t in tokenizers]
    local, provenance, default_name, label = _resolve_source(source, hub, endpoint, layout)
    if engine == "ray" and local.filetype != "parquet":
        raise OptionError(f"{label}: --engine ray reads Parquet files, this is {local.filetype}")
    expected = parquet_rows(local.path) if local.filetype == "parquet" else None
    if limit is not None:
        expected = limit if expected is None else min(limit, expected)
    if workers is None:
        if expected is None:  # CSV, JSON: judge by size (a battle takes about 1.3 KB on disk)
            small = local.path.stat().st_size < PROCESS_MIN_ROWS * 1300
        else:
            small = expected < PROCESS_MIN_ROWS
        workers = 1 if small else default_workers()
    options = StepOptions(
        dataset=dataset_name or default_name,
        layout=local.layout,
        counters=(*encodings, *map(str, tokenizers)),
        allow_null_turns=allow_null_turns,
        chat_overhead=chat_overhead,
        counter=counter,
    )
    return Plan(
        source=local,
        label=label,
        provenance=provenance,
        options=options,
        tokenizers=described,
        out=Path(out),
        limit=limit,
        expected=expected,
        workers=workers,
        engine=engine,
        on_bad_row=on_bad_row,
        allow_empty=allow_empty,
        batch_size=batch_size,
        created=created,
    )


def run(p: Plan, *, progress: Progress | None = None) -> BuildResult:
    """Run a planned build. SIGINT and SIGTERM stop it between batches (`Interrupted`); until
    the final renames, the files of an earlier build stay as they were."""
    stats = Stats()
    hits = lookups = 0
    layout = formats.get(p.options.layout)
    writer = DatasetWriter(p.out, keep_rejects=p.on_bad_row == "reject")
    try:
        with interrupts.held():
            if progress:
                progress(0, p.expected)
            results = _results(p)
            try:
                for r in results:
                    interrupts.check()
                    if r.mismatch:
                        raise TokenizerError(
                            f"{p.label}: {r.mismatch}",
                            hint="build with --counter tiktoken (the reference), and report the "
                            "text to the fast counter's authors",
                        )
                    if r.rejects and p.on_bad_row == "error":
                        x = r.rejects[0]
                        raise BadRowError(
                            file=p.label,
                            row=x.row,
                            question_id=x.question_id,
                            reason=x.reason,
                            id_column=layout.id_column,
                        )
                    rejects = (reject_entry(p.label, x) for x in r.rejects)
                    writer.add(r.block, r.records, r.first_records, rejects)
                    stats += r.stats
                    hits += r.cache_hits
                    lookups += r.cache_hits + r.cache_misses
                    if progress:
                        progress(stats.read, p.expected)
            finally:
                results.close()  # shuts the worker processes down now, not at garbage collection
            interrupts.check()
            _check_not_empty(p, stats, writer)
            metadata = _metadata(p, stats)
            files = writer.commit(metadata)
            late = interrupts.caught()
    except BaseException:
        writer.discard()
        raise
    assert stats.read == stats.written + stats.rejected
    return BuildResult(p.out, stats, files, metadata, hits / lookups if lookups else 0.0, late)


def build(
    source: str | Path | None = None,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> BuildResult:
    """Build the token-usage dataset from `source` (a local file; None = the pinned Hub file)
    into `out`. `limit` keeps the first N source rows (None = all).

    `encoding`: one tiktoken encoding or several (the first is the primary, the others go to
    `extra_token_usage`), then `tokenizers` (tokenizer.json files). `layout`: a name from
    `formats.FORMATS` (None = detected from the columns). `on_bad_row`: "error" stops at the
    first bad row, "reject" writes it to rejects.jsonl; a build that writes no record fails
    unless `allow_empty`.

    `workers`: 1 = all work in this process (token counting on threads); N > 1 = N worker
    processes (the calling script must be importable: guard it with
    `if __name__ == "__main__":`); None = one per core when the input is large, else 1.
    `engine="ray"` runs the same per-batch step with Ray Data instead (Parquet sources)."""
    return run(plan(source, **options), progress=progress)


def _results(p: Plan) -> Generator[BatchResult, None, None]:
    if p.engine == "ray":
        return run_ray(
            p.source.path,
            p.source.columns,
            options=p.options,
            limit=p.limit,
            batch_size=p.batch_size,
        )
    return run_local(_batches(p), options=p.options, workers=p.workers)


def _batches(p: Plan) -> Iterator[tuple[int, Payload]]:
    """(first row number, counted from 1; batch) pairs, cut at the limit."""
    read = 0
    for payload in p.source.payloads(p.batch_size):
        if p.limit is not None and read + len(payload) > p.limit:
            payload = first_rows(payload, p.limit - read)
        yield read + 1, payload
        read += len(payload)
        if p.limit is not None and read >= p.limit:
            return


def _check_not_empty(p: Plan, stats: Stats, writer: DatasetWriter) -> None:
    if stats.read == 0:
        raise SourceError(f"{p.label}: the file has no rows")
    if stats.written == 0 and not p.allow_empty:
        first = writer.first_reject
        why = f"; the first: {first['reason']} (row {first['row']})" if first else ""
        raise EmptyBuildError(
            f"{p.label}: all {stats.read:,} rows were rejected, none written{why}",
            hint="fix the source (or choose its layout with --format); --allow-empty writes an "
            "empty dataset anyway",
        )


def _resolve_source(
    source: str | Path | None, hub: HubFile, endpoint: str | None, layout: str | None
) -> tuple[LocalFile, dict[str, Any], str, str]:
    """The source file, its provenance, the default dataset name and the label for messages.
    A local path is recorded resolved (absolute, links followed): one rule, so `./x.parquet`
    and `x.parquet` give the same bytes."""
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
        return local, prov, hub.repo_id, f"{hub.repo_id}/{hub.filename}"
    local = open_local(Path(source).resolve(), layout=layout)
    prov = {
        "kind": "local_file",
        "path": str(local.path),
        "format": local.filetype,
        "sha256": sha256_file(local.path),
        "bytes": local.path.stat().st_size,
    }
    return local, prov, local.path.name, str(local.path)


def _metadata(p: Plan, stats: Stats) -> dict[str, Any]:
    layout = formats.get(p.options.layout)
    meta: dict[str, Any] = {
        "description": (
            "Token usage of Chatbot Arena battles: per-turn token counts of the shared user "
            "prompt and of both models' answers, per-battle totals, communication-efficiency "
            "ratios, full-state (history resent) input sizes, and the human vote as a quality "
            "label. Made by arenatok."
        ),
        "dataset": p.options.dataset,
        "arenatok_version": importlib.metadata.version("arenatok"),
        "source": {**p.provenance, "layout": layout.name, "layout_of": layout.source},
        "selection": {
            "limit": "all" if p.limit is None else p.limit,
            "rule": "the first rows of the source, in source order",
            "row_numbers": "rows are numbered from 1 in source order (JSON Lines: the line)",
        },
        "options": {
            "counters": list(p.options.counters),
            "on_bad_row": p.on_bad_row,
            "allow_null_turns": p.options.allow_null_turns,
            "chat_overhead": p.options.chat_overhead,
        },
        "counter": _counter_metadata(p, stats),
        "tokenizer": p.tokenizers[0],
        **({"extra_tokenizers": p.tokenizers[1:]} if len(p.tokenizers) > 1 else {}),
        **stats.summary(layout.winners),
        "definitions": DEFINITIONS,
        "quality_flag_definitions": QUALITY_FLAGS,
    }
    if p.created:
        meta["created"] = p.created
    return meta


def _counter_metadata(p: Plan, stats: Stats) -> dict[str, Any]:
    """Which counter ran, and the proof that its counts are tiktoken's."""
    if p.options.counter == "tiktoken":
        return {"name": "tiktoken", "counts": "tiktoken's own (the reference)"}
    return {
        "name": p.options.counter,
        "counts": "equal to tiktoken's len(encode_ordinary(text))",
        "cross_check": {"rule": CROSS_CHECK_RULE, "texts": stats.cross_checked, "differences": 0},
    }


def _created() -> str | None:
    """Build time for the metadata, only from SOURCE_DATE_EPOCH (so builds stay reproducible)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    if not epoch.isdigit():
        raise OptionError(f"SOURCE_DATE_EPOCH must be whole seconds, got {epoch!r}")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))
