"""The per-batch step: rows -> checked battles -> token counts -> records -> JSON lines.

The same inputs give the same bytes whatever runs it (the local loop, worker processes, Ray):
the only state is the token counters' caches, which change speed, never a count.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypedDict

from arenatok.options import ChatOverhead
from arenatok.pipeline import layouts
from arenatok.pipeline.battle import Battle, Reject
from arenatok.pipeline.keys import BatchKeys, batch_keys
from arenatok.pipeline.layouts.checks import parse_rows, quality_flags
from arenatok.pipeline.metrics import chat_overhead, token_usage
from arenatok.pipeline.records import (
    ApiMetadata,
    Context,
    DuplicateOf,
    Record,
    SourceRef,
    TokenUsage,
    dumps_lines,
)
from arenatok.pipeline.sources.filetypes.base import JsonLines, Payload, rows_of
from arenatok.pipeline.stats import Stats
from arenatok.pipeline.style import battle_style
from arenatok.pipeline.tokens import FastCounter, TokenCounter, counter_for, cross_checked
from arenatok.pipeline.write import MINI_SIZE


@dataclass(frozen=True)
class SourceStamp:
    """What a record says of the input it comes from (`api_metadata.source`, with its index and
    row): the input's layout and sha256."""

    layout: str = layouts.DEFAULT
    sha256: str = ""


@dataclass(frozen=True)
class StepOptions:
    """What every batch of one build is processed with; small and picklable, so that worker
    processes and Ray actors get it whole."""

    dataset: str
    sources: tuple[SourceStamp, ...] = (SourceStamp(),)
    tokenizers: tuple[str, ...] = ("cl100k_base",)
    """tiktoken encoding names, or paths of tokenizer.json files; the first is the primary
    (artifact_metadata.json's `counters`)."""
    allow_null_turns: bool = False
    chat_overhead: ChatOverhead | None = None
    counter: str = "tiktoken"
    """The implementation that counts the tiktoken encodings (`--counter`; see
    `options.Counter`)."""

    def make_counters(self, threads: int | None = None) -> list[TokenCounter]:
        """One counter per tokenizer, in order."""
        return [counter_for(c, threads=threads, counter=self.counter) for c in self.tokenizers]


class _Optional(TypedDict, total=False):
    """The context's keys a record may lack: the other tokenizers' usage (set here) and
    `duplicate_of` (set by the driver, which sees every source)."""

    extra_token_usage: dict[str, TokenUsage]
    duplicate_of: DuplicateOf


def make_record(
    battle: Battle,
    usages: Sequence[TokenUsage],
    names: Sequence[str],
    *,
    dataset: str,
    source: SourceRef | None = None,
) -> Record:
    """The output record of one battle, given its token usage under each tokenizer (the first
    is the primary: `token_usage`; the others go to `extra_token_usage`, keyed by name) and
    where it comes from (`source`: the source's index, layout, sha256 and row number)."""
    api: ApiMetadata = {
        "question_id": battle.question_id,
        "timestamp": battle.tstamp,
        "language": battle.language,
        "judge": battle.judge,
        "anony": battle.anony,
    }
    if battle.judged_turn is not None:
        api["judged_turn"] = battle.judged_turn
    if battle.source_tokens is not None:
        api["source_token_counts"] = battle.source_tokens
    if battle.source_style is not None:
        api["source_style_counts"] = battle.source_style
    if battle.categories is not None:
        api["categories"] = battle.categories
    if source is not None:
        api["source"] = source
    extra: _Optional = {}
    if len(usages) > 1:
        extra["extra_token_usage"] = dict(zip(names[1:], usages[1:], strict=True))
    context: Context = {
        "model_a": battle.model_a,
        "model_b": battle.model_b,
        "winner": battle.winner,
        "response_a": battle.answers_a[0],
        "response_b": battle.answers_b[0],
        "conversation": [
            {"user": u, "response_a": a, "response_b": b}
            for u, a, b in zip(battle.users, battle.answers_a, battle.answers_b, strict=True)
        ],
        "token_usage": usages[0],
        **extra,
        "style": battle_style(battle.answers_a, battle.answers_b),
        "api_metadata": api,
        "flags": {
            "openai_moderation_flagged": battle.openai_moderation_flagged,
            "toxic_chat_flagged": battle.toxic_chat_flagged,
        },
        "quality_flags": quality_flags(battle),
    }
    return {
        "input": battle.users[0],
        "context": context,
        "output": f"Winner: {battle.winner}",
        "dataset": dataset,
    }


def parse_batch(
    payload: Payload, *, first_row: int, options: StepOptions, source: int = 0
) -> tuple[list[Battle], list[Reject], list[int]]:
    """Check each row of a batch of source `source`; `first_row` is the source row number
    (from 1) of its first row. Returns the battles, the rejects, and each battle's row."""
    layout = layouts.get(options.sources[source].layout)
    allow_null = options.allow_null_turns
    if isinstance(payload, JsonLines | list) or layout.parse_arrow is None:
        items = parse_rows(
            rows_of(payload),
            first_row=first_row,
            parse=lambda r: layout.parse(r, allow_null),
            id_key=layout.id_column,
        )
    else:
        items = layout.parse_arrow(payload, first_row=first_row, allow_null_turns=allow_null)
    battles = [x for x in items if isinstance(x, Battle)]
    rows = [first_row + i for i, x in enumerate(items) if isinstance(x, Battle)]
    return battles, [x for x in items if isinstance(x, Reject)], rows


def texts_of(battles: Sequence[Battle]) -> list[str]:
    """Every text to count, battle by battle: users, then answers A, then answers B."""
    return [t for b in battles for part in (b.users, b.answers_a, b.answers_b) for t in part]


def usages_of(
    battles: Sequence[Battle],
    counts: Sequence[int],
    *,
    roles: dict[str, int] | None = None,
) -> list[TokenUsage]:
    """Token usage of each battle from the counts of `texts_of(battles)`, in that order; with
    `roles` (tokens of the role names), the OpenAI chat-format overhead as well."""
    usages: list[TokenUsage] = []
    pos = 0
    for b in battles:
        n = len(b.users)
        end = pos + 3 * n
        usage = token_usage(
            counts[pos : pos + n],
            counts[pos + n : end - n],
            counts[end - n : end],
            has_timestamp=b.tstamp is not None,
        )
        if roles is not None:
            usage["chat_overhead"] = chat_overhead(n, roles)
        usages.append(usage)
        pos = end
    return usages


def records_of(
    battles: Sequence[Battle],
    counters: Sequence[TokenCounter],
    *,
    options: StepOptions,
    source: int = 0,
    rows: Sequence[int] | None = None,
) -> list[Record]:
    """Records of checked battles: every text counted by every counter, once per batch.
    `rows`: each battle's row in source `source` (for `api_metadata.source`)."""
    texts = texts_of(battles)
    per_counter = []
    for counter in counters:
        roles = None
        if options.chat_overhead:
            roles = dict(
                zip(("user", "assistant"), counter.count_many(["user", "assistant"]), strict=True)
            )
        per_counter.append(usages_of(battles, counter.count_many(texts), roles=roles))
    names = [c.name for c in counters]
    info = options.sources[source]
    refs: list[SourceRef | None] = (
        [{"index": source, "layout": info.layout, "sha256": info.sha256, "row": r} for r in rows]
        if rows is not None
        else [None] * len(battles)
    )
    return [
        make_record(b, [u[i] for u in per_counter], names, dataset=options.dataset, source=refs[i])
        for i, b in enumerate(battles)
    ]


@dataclass
class BatchResult:
    """What one batch produced: its records as JSON lines, its first records, its rejects, and
    each record's row and duplicate keys."""

    source: int
    first_row: int
    rows: int
    block: bytes
    records: int
    first_records: list[Record]
    rejects: list[Reject]
    stats: Stats
    cache_hits: int
    cache_misses: int
    mismatch: str | None = None
    """Where a counter disagreed with tiktoken on a text of this batch, and both counts."""
    record_rows: list[int] = field(default_factory=list)
    """Each record's row in its source."""
    keys: BatchKeys = field(default_factory=lambda: batch_keys([], None))
    """Each record's duplicate keys (see `keys`)."""


def locate(battles: Sequence[Battle], text: str) -> str:
    """Where a text stands in a batch's battles: the battle's id, the message and its turn."""
    for b in battles:
        for role, part in (
            ("user message", b.users),
            ("answer of model A", b.answers_a),
            ("answer of model B", b.answers_b),
        ):
            if text in part:
                return f"question_id {b.question_id!r}, the {role} of turn {part.index(text) + 1}"
    return "a text of this batch"


def _mismatch(battles: Sequence[Battle], counters: Sequence[TokenCounter]) -> str | None:
    for c in counters:
        if c.mismatch is not None:
            text, ours, reference = c.mismatch
            return (
                f"{locate(battles, text)}: {c.provenance['counter']} counts {ours} tokens "
                f"({c.name}), tiktoken {reference}"
            )
    return None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off meanwhile, and back as it was. A batch makes about
    25 containers a battle (dicts and lists that hold no cycles, freed by reference counting);
    the collector's passes over them cost 8% of the step."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_batch(
    payload: Payload,
    *,
    first_row: int,
    options: StepOptions,
    counters: Sequence[TokenCounter],
    source: int = 0,
) -> BatchResult:
    """The whole step for one batch of source `source`; `first_row` is the source row number
    (from 1) of its first row."""
    with gc_paused():
        battles, rejects, rows = parse_batch(
            payload, first_row=first_row, options=options, source=source
        )
        primary = counters[0]
        hits, misses = primary.hits, primary.misses
        records = records_of(battles, counters, options=options, source=source, rows=rows)
        stats = Stats.of(records, len(rejects), sum(b.image_parts for b in battles))
        checking = sum(isinstance(c, FastCounter) for c in counters)
        if checking:
            # Counted per text of the dataset, not per check (each distinct text is checked once
            # per process), so that the number does not depend on batches or workers.
            stats.cross_checked = checking * sum(map(cross_checked, texts_of(battles)))
        layout = layouts.get(options.sources[source].layout)
        release = layout.source if layout.battle_ids else None
        return BatchResult(
            source=source,
            first_row=first_row,
            rows=len(payload),
            block=dumps_lines(records),
            records=len(records),
            first_records=records[:MINI_SIZE],
            rejects=rejects,
            stats=stats,
            cache_hits=primary.hits - hits,
            cache_misses=primary.misses - misses,
            mismatch=_mismatch(battles, counters),
            record_rows=rows,
            keys=batch_keys(battles, release),
        )
