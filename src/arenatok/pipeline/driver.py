"""The build: read -> check -> count -> metrics -> write, wired together.

`plan.plan` does everything that can fail before work starts (options, sources, tokenizers)
and returns a `Plan`; `run` sends the batches of a plan through an engine (`engine`) into the
writer (`write`), with duplicates marked on the way (`dedup`). The per-batch work itself lives
in `steps`.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing_extensions import Unpack

from arenatok.errors import (
    BadRowError,
    DuplicateError,
    EmptyBuildError,
    SourceError,
    TokenizerError,
)
from arenatok.pipeline import layouts, records
from arenatok.pipeline.battle import VOTES
from arenatok.pipeline.dedup import Index, Match
from arenatok.pipeline.engine import run_local, run_ray
from arenatok.pipeline.metadata import (
    CountedBy,
    Created,
    Draft,
    ExtraTokenizers,
    IndexedSource,
    Metadata,
    Source,
)
from arenatok.pipeline.metrics import DEFINITIONS
from arenatok.pipeline.plan import DEFAULT_LIMIT, Plan, PlanOptions, Progress, plan
from arenatok.pipeline.records import QUALITY_FLAGS
from arenatok.pipeline.sources.filetypes.base import Payload, first_rows
from arenatok.pipeline.stats import Stats
from arenatok.pipeline.steps import BatchResult
from arenatok.pipeline.tokens import CROSS_CHECK_RULE
from arenatok.pipeline.write import MINI_SIZE, DatasetWriter, reject_entry
from arenatok.runtime import interrupts
from arenatok.runtime.atomic import Listed

__all__ = ["DEFAULT_LIMIT", "BuildResult", "Plan", "Progress", "build", "plan", "run"]


@dataclass
class BuildResult:
    """What a build produced."""

    out_dir: Path
    stats: Stats
    files: dict[str, Listed]
    metadata: Metadata
    """artifact_metadata.json as written."""
    cache_hit_rate: float
    kept: tuple[str, ...] = ()
    """Files named like a report, bench or card that the build left in place: not made from
    the build it replaced (each with why)."""
    limited: tuple[tuple[str, int, int | None], ...] = ()
    """Sources that have rows past --limit: (label, rows read, rows in all where known)."""
    late_signal: int | None = None
    """A SIGINT or SIGTERM that came while the finished output was being renamed into place:
    the build completed anyway."""


def run(p: Plan, *, progress: Progress | None = None) -> BuildResult:
    """Run a planned build. SIGINT and SIGTERM stop it between batches (`Interrupted`); until
    the final renames, the files of an earlier build stay as they were."""
    per_source = [Stats() for _ in p.sources]
    # Rows in all where the file says (Parquet's footer), read once: whether a source has rows
    # past --limit, and the summary's "300 of 2,008"; other sources are found out while read.
    totals = [s.file.file_type.rows(s.file.path) for s in p.sources]
    more = [t is not None and p.limit is not None and t > p.limit for t in totals]
    hits = lookups = 0
    index = Index()
    writer = DatasetWriter(
        p.out, keep_rejects=p.on_bad_row == "reject", keep_duplicates=p.duplicates == "drop"
    )
    try:
        with interrupts.held():
            if progress:
                progress(0, p.expected)
            results = _results(p, more)
            try:
                for r in results:
                    interrupts.check()
                    src = p.sources[r.source]
                    _check_batch(p, r)
                    matches = index.see_batch(r.keys, r.source, r.record_rows)
                    renames = _renames(p, r, matches, index)
                    dropped: list[records.Dropped] = []
                    if any(matches) or renames:
                        if p.duplicates == "error":
                            _duplicate_error(p, r, matches)
                        r, dropped = mark_duplicates(
                            r, matches, renames, drop=p.duplicates == "drop", labels=_labels(p)
                        )
                    rejects = (reject_entry(src.label, x) for x in r.rejects)
                    writer.add(r.block, r.records, r.first_records, rejects, dropped)
                    per_source[r.source] += r.stats
                    hits += r.cache_hits
                    lookups += r.cache_hits + r.cache_misses
                    if progress:
                        progress(sum(x.read for x in per_source), p.expected)
            finally:
                results.close()  # shuts the worker processes down now, not at garbage collection
            interrupts.check()
            stats = sum(per_source, Stats())
            _check_not_empty(p, stats, writer)
            metadata = writer.commit(_metadata(p, stats, per_source, index))
            late = interrupts.caught()
    except BaseException:
        writer.discard()
        raise
    assert stats.read == stats.written + stats.rejected + stats.dropped
    rate = hits / lookups if lookups else 0.0
    limited = tuple(
        (s.label, per_source[i].read, totals[i]) for i, s in enumerate(p.sources) if more[i]
    )
    return BuildResult(
        p.out, stats, metadata["files"], metadata, rate, tuple(writer.kept), limited, late
    )


def _check_batch(p: Plan, r: BatchResult) -> None:
    """A counter that disagreed with tiktoken, or a bad row when bad rows are errors."""
    src = p.sources[r.source]
    if r.mismatch:
        raise TokenizerError(
            f"{src.label}: {r.mismatch}",
            hint="build with --counter tiktoken (the reference), and report the text to the "
            "fast counter's authors",
        )
    if r.rejects and p.on_bad_row == "error":
        x = r.rejects[0]
        raise BadRowError(
            file=src.label,
            row=x.row,
            question_id=x.question_id,
            reason=x.reason,
            id_column=layouts.get(src.file.layout).id_column,
        )


def _labels(p: Plan) -> list[str]:
    return [s.label for s in p.sources]


NAMESPACED = re.compile(r"s[0-9]+:")
"""The shape of a namespaced id (`s<source index>:`, at the start): no id kept as it is has it."""


def _renames(p: Plan, r: BatchResult, matches: list[Match | None], index: Index) -> dict[int, str]:
    """New ids that keep every battle's id its own across sources: a record's id becomes
    `s<index>:<id>` (index: its source's, or for a same_id copy its first copy's, whose id it
    takes: it is that battle) when another source used the id first, or when the id has that
    shape already (`NAMESPACED`), so that no id kept as it is looks like one made here. A new
    id thus names one (source, id) pair, and a kept id the source that used it first: no two
    battles share one."""
    if len(p.sources) < 2 or not len(r.keys):
        return {}
    renames = {}
    ids = r.keys.question_ids
    for i, first in enumerate(index.first_sources(r.keys, r.source)):
        m = matches[i]
        owner = m.source if m is not None and m.kind == "same_id" else r.source
        if first != owner or NAMESPACED.match(ids[i]):
            renames[i] = f"s{owner}:{ids[i]}"
    return renames


def _duplicate_error(p: Plan, r: BatchResult, matches: list[Match | None]) -> None:
    i, m = next((i, m) for i, m in enumerate(matches) if m is not None)
    src = p.sources[r.source]
    raise DuplicateError(
        f"{src.label}: row {r.record_rows[i]} ({layouts.get(src.file.layout).id_column} "
        f"{r.keys.question_ids[i]!r}) is a later copy ({m.kind}, key {m.key}) of "
        f"{p.sources[m.source].label} row {m.row}",
        hint="--duplicates flag (the default) marks later copies; --duplicates drop writes "
        "them to duplicates.jsonl",
    )


def mark_duplicates(
    r: BatchResult,
    matches: Sequence[Match | None],
    renames: dict[int, str],
    *,
    drop: bool,
    labels: Sequence[str],
) -> tuple[BatchResult, list[records.Dropped]]:
    """A batch's result with its later copies marked (`quality_flags: duplicate` and
    `duplicate_of`) or, with `drop`, taken out (returned as duplicates.jsonl entries), and ids
    namespaced by `renames` (record index -> new id). Only the records that change are
    decoded again; the counts are made again only where records were taken out."""
    lines = r.block.split(b"\n") if r.records else []
    gone = [drop and m is not None for m in matches]
    edits = {  # only the lines that stay are decoded and edited
        i: records.Edit(renames.get(i), None if m is None else m.reference())
        for i, m in enumerate(matches)
        if not gone[i] and (m is not None or i in renames)
    }
    dropped: list[records.Dropped] = []
    if drop:
        for i, m in enumerate(matches):
            if m is not None:
                dropped.append(
                    {
                        "file": labels[r.source],
                        "row": r.record_rows[i],
                        "question_id": renames.get(i, r.keys.question_ids[i]),
                        "kind": m.kind,
                        "key": m.key,
                        "duplicate_of": {
                            "file": labels[m.source],
                            "source": m.source,
                            "row": m.row,
                            "kind": m.kind,
                            "key": m.key,
                        },
                    }
                )
    edited = records.edit_lines(lines, edits)
    kept = [x for i, x in enumerate(edited) if not gone[i]]
    if dropped:
        decoded = [records.loads(x) for x in kept]
        stats = Stats.of(decoded, len(r.rejects), r.stats.image_parts)
        stats.dropped = len(dropped)
        stats.read += len(dropped)
        stats.cross_checked = r.stats.cross_checked
        first = decoded[:MINI_SIZE]
    else:
        flagged = sum(m is not None for m in matches)
        quality = r.stats.quality_flags + Counter(duplicate=flagged)
        stats = dataclasses.replace(r.stats, quality_flags=quality)
        changed_first = any(i < len(r.first_records) for i in edits)
        first = [records.loads(x) for x in kept[:MINI_SIZE]] if changed_first else r.first_records
    block = b"\n".join(kept)
    new = dataclasses.replace(r, block=block, records=len(kept), first_records=first, stats=stats)
    return new, dropped


def build(
    source: str | Path | Sequence[str | Path] | None = None,
    *,
    progress: Progress | None = None,
    **options: Unpack[PlanOptions],
) -> BuildResult:
    """Build the token-usage dataset from `source` (a local file, `LAYOUT:FILE`, or a list of
    them: one dataset, in that order; None = the pinned Hub file) into `out`. `limit` keeps the
    first N rows of each source (None = all). `duplicates`: later copies of a battle are
    "flag"ged, "drop"ped to duplicates.jsonl, or an "error".

    `encoding`: one tiktoken encoding or several (the first is the primary, the others go to
    `extra_token_usage`), then `tokenizers` (tokenizer.json files). `layout`: a name from
    `layouts.LAYOUTS` (None = detected from the columns). `on_bad_row`: "error" stops at the
    first bad row, "reject" writes it to rejects.jsonl; a build that writes no record fails
    unless `allow_empty`.

    `workers`: 1 = all work in this process (token counting on threads); N > 1 = N worker
    processes (the calling script must be importable: guard it with
    `if __name__ == "__main__":`); None = one per core when the input is large, else 1.
    `engine="ray"` runs the same per-batch step with Ray Data instead (Parquet sources)."""
    return run(plan(source, **options), progress=progress)


def _results(p: Plan, more: list[bool]) -> Generator[BatchResult, None, None]:
    """Every batch's result, in order; sets more[i] when source i has rows past the limit."""
    if p.engine == "ray":
        return run_ray(
            p.sources[0].file.path,
            p.sources[0].file.columns,
            options=p.options,
            limit=p.limit,
            batch_size=p.batch_size,
        )
    return run_local(_batches(p, more), options=p.options, workers=p.workers)


def _batches(p: Plan, more: list[bool]) -> Iterator[tuple[int, int, Payload]]:
    """(source, first row number counted from 1, batch), source after source, each cut at the
    limit; more[i] is set when source i has rows past it (one batch more is read to know)."""
    for index, source in enumerate(p.sources):
        read = 0
        payloads = source.file.payloads(p.batch_size)
        for payload in payloads:
            if p.limit is not None and read + len(payload) > p.limit:
                payload = first_rows(payload, p.limit - read)
                more[index] = True
            yield index, read + 1, payload
            read += len(payload)
            if p.limit is not None and read >= p.limit:
                more[index] = more[index] or next(iter(payloads), None) is not None
                break


def _check_not_empty(p: Plan, stats: Stats, writer: DatasetWriter) -> None:
    label = ", ".join(_labels(p))
    if stats.read == 0:
        raise SourceError(f"{label}: the file has no rows", hint="check the path (--source FILE)")
    if stats.written == 0 and not p.allow_empty:
        first = writer.first_reject
        why = f"; the first: {first['reason']} (row {first['row']})" if first else ""
        raise EmptyBuildError(
            f"{label}: all {stats.read:,} rows were rejected or dropped, none written{why}",
            hint="fix the source (or choose its layout with --layout); --allow-empty writes an "
            "empty dataset anyway",
        )


def _metadata(p: Plan, stats: Stats, per_source: list[Stats], index: Index) -> Draft:
    from arenatok._version import __version__

    used = [layouts.get(s.file.layout) for s in p.sources]
    sources: list[IndexedSource] = [
        {
            "index": s.index,
            **s.provenance,
            "layout": layout.name,
            "layout_of": layout.source,
            "counts": x.summary(layout.votes)["counts"],
        }
        for s, layout, x in zip(p.sources, used, per_source, strict=True)
    ]
    first = p.sources[0]
    source: Source = {**first.provenance, "layout": used[0].name, "layout_of": used[0].source}
    labels = [v for v in VOTES if any(v in layout.votes for layout in used)]
    meta: Draft = {
        "description": (
            "Token usage of Chatbot Arena battles: per-turn token counts of the shared user "
            "prompt and of both models' answers, per-battle totals, communication-efficiency "
            "ratios, full-state (history resent) input sizes, and the human vote as a quality "
            "label. Made by arenatok."
        ),
        "dataset": p.options.dataset,
        "arenatok_version": __version__,
        "source": source,
        "sources": sources,
        "selection": {
            "limit": "all" if p.limit is None else p.limit,
            "rule": "the first rows of each source, in source order, source after source",
            "row_numbers": "rows are numbered from 1 in source order (JSON Lines: the line)",
        },
        "options": {
            "counters": list(p.options.tokenizers),
            "on_bad_row": p.on_bad_row,
            "duplicates": p.duplicates,
            "allow_null_turns": p.options.allow_null_turns,
            "chat_overhead": p.options.chat_overhead,
        },
        "counter": _counter_metadata(p, stats),
        "tokenizer": p.tokenizers[0],
        **_extra_tokenizers(p),
        **stats.summary(labels),
        "duplicates": {"policy": p.duplicates, **index.summary()},
        "definitions": DEFINITIONS,
        "quality_flag_definitions": QUALITY_FLAGS,
        **_created(p),
    }
    return meta


def _created(p: Plan) -> Created:
    """When the build was made, where SOURCE_DATE_EPOCH says so."""
    return {"created": p.created} if p.created else {}


def _extra_tokenizers(p: Plan) -> ExtraTokenizers:
    """The tokenizers after the first, where there are any."""
    return {"extra_tokenizers": p.tokenizers[1:]} if len(p.tokenizers) > 1 else {}


def _counter_metadata(p: Plan, stats: Stats) -> CountedBy:
    """Which counter ran, and the proof that its counts are tiktoken's."""
    if p.options.counter == "tiktoken":
        return {"name": "tiktoken", "counts": "tiktoken's own (the reference)"}
    return {
        "name": p.options.counter,
        "counts": "equal to tiktoken's len(encode_ordinary(text))",
        "cross_check": {"rule": CROSS_CHECK_RULE, "texts": stats.cross_checked, "differences": 0},
    }
