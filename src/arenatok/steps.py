"""The per-batch step: rows -> checked battles -> token counts -> records -> JSON lines.

Everything here is a pure function of its inputs (and a token counter), so any executor (the
local loop, worker processes, Ray) runs the same code and gets the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arenatok.check import battles_from_arrow, parse_rows, plain_id
from arenatok.load import JsonLines, Payload, rows_of
from arenatok.metrics import token_usage
from arenatok.records import WINNERS, Battle, Record, Reject
from arenatok.tokens import TokenCounter
from arenatok.write import MINI_SIZE, dumps_lines, has_line_breaks


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


def parse_batch(payload: Payload, *, start: int) -> tuple[list[Battle], list[Reject]]:
    """Check each row of a batch; `start` is the source row number of its first row."""
    if isinstance(payload, JsonLines | list):
        items = parse_rows(rows_of(payload), start=start)
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


def records_of(battles: Sequence[Battle], counts: Sequence[int], *, dataset: str) -> list[Record]:
    """Records of checked battles, given the counts of `texts_of(battles)`, in that order."""
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


def run_batch(payload: Payload, *, start: int, counter: TokenCounter, dataset: str) -> BatchResult:
    """The whole step for one batch; `start` is the source row number of its first row."""
    battles, rejects = parse_batch(payload, start=start)
    hits, misses = counter.hits, counter.misses
    texts = texts_of(battles)
    records = records_of(battles, counter.count_many(texts), dataset=dataset)
    labels = (
        s
        for b in battles
        for s in (b.question_id, b.model_a, b.model_b, b.judge or "", b.language or "")
    )
    escape = has_line_breaks(texts) or has_line_breaks(labels) or has_line_breaks([dataset])
    return BatchResult(
        start=start,
        rows=len(payload),
        block=dumps_lines(records, escape=escape),
        records=len(records),
        head=records[:MINI_SIZE],
        rejects=rejects,
        stats=Stats.of(records, len(rejects)),
        cache_hits=counter.hits - hits,
        cache_misses=counter.misses - misses,
    )
