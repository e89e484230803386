"""The per-batch step: rows -> checked battles -> token counts -> records -> JSON lines.

Everything here is a pure function of its inputs (and the token counters), so any executor (the
local loop, worker processes, Ray) runs the same code and gets the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arenatok import formats
from arenatok.check import QUALITY_FLAGS, battles_from_arrow, parse_rows, plain_id, quality_flags
from arenatok.load import JsonLines, Payload, rows_of
from arenatok.metrics import chat_overhead, token_usage
from arenatok.records import Battle, Record, Reject, TokenUsage
from arenatok.tokens import TokenCounter, counter_for
from arenatok.write import MINI_SIZE, dumps_lines, has_line_breaks


@dataclass(frozen=True)
class Job:
    """What every batch of one build is processed with; small and picklable, so that worker
    processes and Ray actors get it whole."""

    dataset: str
    layout: str = formats.DEFAULT
    counters: tuple[str, ...] = ("cl100k_base",)
    """tiktoken encoding names, or paths of tokenizer.json files; the first is the primary."""
    allow_null_turns: bool = False
    chat_overhead: str | None = None

    def make_counters(self, threads: int | None = None) -> list[TokenCounter]:
        """One counter per tokenizer, in order."""
        return [counter_for(c, threads=threads) for c in self.counters]


def make_record(
    battle: Battle,
    usages: Sequence[TokenUsage],
    names: Sequence[str],
    *,
    dataset: str,
) -> Record:
    """The output record of one battle, given its token usage under each tokenizer (the first
    is the primary: `token_usage`; the others go to `extra_token_usage`, keyed by name)."""
    api: dict[str, Any] = {
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
    context: dict[str, Any] = {
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
    }
    if len(usages) > 1:
        context["extra_token_usage"] = dict(zip(names[1:], usages[1:], strict=True))
    context["api_metadata"] = api
    context["flags"] = {
        "openai_moderation_flagged": battle.openai_moderation_flagged,
        "toxic_chat_flagged": battle.toxic_chat_flagged,
    }
    context["quality_flags"] = quality_flags(battle)
    return {
        "input": battle.users[0],
        "context": context,  # type: ignore[typeddict-item]
        "output": f"Winner: {battle.winner}",
        "dataset": dataset,
    }


def parse_batch(
    payload: Payload, *, start: int, job: Job = Job("")
) -> tuple[list[Battle], list[Reject]]:
    """Check each row of a batch; `start` is the source row number of its first row."""
    layout = formats.get(job.layout)
    if isinstance(payload, JsonLines | list) or layout.name != formats.DEFAULT:
        items = parse_rows(
            rows_of(payload), start=start, parse=lambda r: layout.parse(r, job.allow_null_turns)
        )
    else:
        try:
            items = battles_from_arrow(payload, start=start)
        except (UnicodeDecodeError, ValueError):  # invalid data (UTF-8) in some Parquet row
            items = _invalid_rows_apart(payload, start)
    battles = [x for x in items if isinstance(x, Battle)]
    return battles, [x for x in items if isinstance(x, Reject)]


def _invalid_rows_apart(batch: Any, start: int) -> list[Battle | Reject]:
    """Rows that fail Arrow's full validation become rejects; the others are checked as usual."""
    import pyarrow as pa

    items: list[Battle | Reject] = []
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        broken = []
        for name, column in zip(row.schema.names, row.columns, strict=True):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as e:
                broken.append(f"{name}: {str(e).splitlines()[0][:120]}")
        if not broken:
            items.extend(battles_from_arrow(row, start=start + i))
            continue
        qid = None
        if "question_id" in row.schema.names and not any(
            b.startswith("question_id:") for b in broken
        ):
            qid = plain_id({"question_id": row.column("question_id")[0].as_py()})
        items.append(Reject(start + i, qid, "invalid data in " + "; ".join(broken)))
    return items


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
        usage = token_usage(
            counts[pos : pos + n],
            counts[pos + n : pos + 2 * n],
            counts[pos + 2 * n : pos + 3 * n],
            has_timestamp=b.tstamp is not None,
        )
        if roles is not None:
            usage["chat_overhead"] = chat_overhead(n, roles)
        usages.append(usage)
        pos += 3 * n
    return usages


def records_of(
    battles: Sequence[Battle],
    counters: Sequence[TokenCounter],
    *,
    job: Job,
    texts: Sequence[str] | None = None,
) -> list[Record]:
    """Records of checked battles: every text counted by every counter, once per batch
    (`texts`: `texts_of(battles)`, when the caller has it already)."""
    texts = texts_of(battles) if texts is None else texts
    per_counter = []
    for counter in counters:
        roles = None
        if job.chat_overhead:
            roles = dict(
                zip(("user", "assistant"), counter.count_many(["user", "assistant"]), strict=True)
            )
        per_counter.append(usages_of(battles, counter.count_many(texts), roles=roles))
    names = [c.name for c in counters]
    return [
        make_record(b, [usages[i] for usages in per_counter], names, dataset=job.dataset)
        for i, b in enumerate(battles)
    ]


SOURCE_TOKEN_FIELDS = {
    "sum_user_tokens": "total_input_tokens",
    "sum_assistant_a_tokens": "total_output_tokens_a",
    "sum_assistant_b_tokens": "total_output_tokens_b",
}
"""A release's own token counts (conv_metadata) and the field of ours that counts the same
texts. Theirs come from their tokenizer, so agreement measures the tokenizers, not errors."""


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
    flags: Counter[str] = field(default_factory=Counter)
    image_parts: int = 0
    source_compared: Counter[str] = field(default_factory=Counter)
    source_equal: Counter[str] = field(default_factory=Counter)
    source_abs_diff: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, records: Sequence[Record], rejected: int, image_parts: int = 0) -> Stats:
        """Stats of one batch."""
        s = cls(
            read=len(records) + rejected,
            written=len(records),
            rejected=rejected,
            image_parts=image_parts,
        )
        for r in records:
            c = r["context"]
            u = c["token_usage"]
            s.winners[c["winner"]] += 1
            s.pairs.add((c["model_a"], c["model_b"]))
            s.turns += len(u["turns"])
            s.input_tokens += u["total_input_tokens"]
            s.output_tokens_a += u["total_output_tokens_a"]
            s.output_tokens_b += u["total_output_tokens_b"]
            s.flags.update(c["quality_flags"])
            theirs = c["api_metadata"].get("source_token_counts") or {}
            for key, ours in SOURCE_TOKEN_FIELDS.items():
                if key in theirs:
                    diff = abs(theirs[key] - u[ours])  # type: ignore[literal-required]
                    s.source_compared[key] += 1
                    s.source_equal[key] += diff == 0
                    s.source_abs_diff[key] += diff
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
            self.flags + other.flags,
            self.image_parts + other.image_parts,
            self.source_compared + other.source_compared,
            self.source_equal + other.source_equal,
            self.source_abs_diff + other.source_abs_diff,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens_a + self.output_tokens_b

    def summary(
        self, labels: Sequence[str] = formats.FORMATS[formats.DEFAULT].winners
    ) -> dict[str, Any]:
        """The figures that go into artifact_metadata.json; `labels` are the source's votes."""
        n = self.written

        def mean(x: int) -> float | None:
            return x / n if n else None

        summary: dict[str, Any] = {
            "counts": {"rows_read": self.read, "rows_written": n, "rows_rejected": self.rejected},
            "winner_distribution": {
                w: {"count": self.winners[w], "share": self.winners[w] / n if n else None}
                for w in [*labels, *sorted(set(self.winners) - set(labels))]
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
            "quality_flags": {f: self.flags[f] for f in QUALITY_FLAGS},
        }
        if self.image_parts:
            summary["image_parts_not_counted"] = self.image_parts
        if self.source_compared:
            summary["source_token_agreement"] = {
                key: {
                    "ours": SOURCE_TOKEN_FIELDS[key],
                    "compared": self.source_compared[key],
                    "equal": self.source_equal[key],
                    "agreement_rate": self.source_equal[key] / self.source_compared[key],
                    "mean_abs_difference": self.source_abs_diff[key] / self.source_compared[key],
                }
                for key in sorted(self.source_compared)
            }
        return summary


@dataclass
class BatchResult:
    """What one batch produced: its records as JSON lines, its first records, its rejects."""

    start: int
    rows: int
    block: bytes
    records: int
    head: list[Record]
    rejects: list[Reject]
    stats: Stats
    cache_hits: int
    cache_misses: int


def run_batch(
    payload: Payload, *, start: int, job: Job, counters: Sequence[TokenCounter]
) -> BatchResult:
    """The whole step for one batch; `start` is the source row number of its first row."""
    battles, rejects = parse_batch(payload, start=start, job=job)
    primary = counters[0]
    hits, misses = primary.hits, primary.misses
    texts = texts_of(battles)
    records = records_of(battles, counters, job=job, texts=texts)
    labels = (
        s
        for b in battles
        for s in (b.question_id, b.model_a, b.model_b, b.judge or "", b.language or "")
    )
    escape = has_line_breaks(texts) or has_line_breaks(labels) or has_line_breaks([job.dataset])
    return BatchResult(
        start=start,
        rows=len(payload),
        block=dumps_lines(records, escape=escape),
        records=len(records),
        head=records[:MINI_SIZE],
        rejects=rejects,
        stats=Stats.of(records, len(rejects), sum(b.image_parts for b in battles)),
        cache_hits=primary.hits - hits,
        cache_misses=primary.misses - misses,
    )
