"""Counts over a build: one `Stats` per batch, added up field by field (like datatrove's
stats), so batches and shards merge without a second pass."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arenatok.pipeline.battle import VOTES
from arenatok.pipeline.metadata import Agreement, Summary
from arenatok.pipeline.records import QUALITY_FLAGS, Record

SOURCE_TOKEN_FIELDS = {
    "sum_user_tokens": "total_input_tokens",
    "sum_assistant_a_tokens": "total_output_tokens_a",
    "sum_assistant_b_tokens": "total_output_tokens_b",
}
"""A release's own token counts (conv_metadata) and the field of ours that counts the same
texts. Theirs come from their tokenizer, so agreement measures the tokenizers, not errors."""


@dataclass
class Stats:
    """Counts over a build; `a + b` adds every field by name (sets are united)."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    dropped: int = 0
    """Later copies of a battle left out with --duplicates drop."""
    winners: Counter[str] = field(default_factory=Counter)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    turns: int = 0
    input_tokens: int = 0
    output_tokens_a: int = 0
    output_tokens_b: int = 0
    quality_flags: Counter[str] = field(default_factory=Counter)
    image_parts: int = 0
    source_compared: Counter[str] = field(default_factory=Counter)
    source_equal: Counter[str] = field(default_factory=Counter)
    source_abs_diff: Counter[str] = field(default_factory=Counter)
    cross_checked: int = 0
    """Texts of the dataset in the sample that tiktoken recounts (see tokens.cross_checked),
    once per fast counter."""

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
            s.quality_flags.update(c["quality_flags"])
            theirs = c["api_metadata"].get("source_token_counts") or {}
            for key, ours in SOURCE_TOKEN_FIELDS.items():
                if key in theirs:
                    s._compare(key, theirs[key], u[ours])  # type: ignore[literal-required]
            theirs = c["api_metadata"].get("source_style_counts") or {}
            for key, value in theirs.items():
                feature, side = key.rsplit("_", 1)
                s._compare(key, value, c["style"][f"total_{side}"][feature])  # type: ignore[literal-required]
        return s

    def _compare(self, key: str, theirs: int, ours: int) -> None:
        """Count one comparison of a release's own count with ours."""
        diff = abs(theirs - ours)
        self.source_compared[key] += 1
        self.source_equal[key] += diff == 0
        self.source_abs_diff[key] += diff

    def __add__(self, other: Stats) -> Stats:
        merged: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            merged[f.name] = a | b if isinstance(a, set) else a + b
        return Stats(**merged)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens_a + self.output_tokens_b

    def summary(self, labels: Sequence[str] = VOTES) -> Summary:
        """The figures that go into artifact_metadata.json; `labels` are the source's votes."""
        n = self.written

        def mean(x: int) -> float | None:
            return x / n if n else None

        summary: Summary = {
            "counts": {
                "rows_read": self.read,
                "rows_written": n,
                "rows_rejected": self.rejected,
                "rows_dropped": self.dropped,
            },
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
            "quality_flags": {f: self.quality_flags[f] for f in QUALITY_FLAGS},
        }
        if self.image_parts:
            summary["image_parts_not_counted"] = self.image_parts
        tokens = sorted(k for k in self.source_compared if k in SOURCE_TOKEN_FIELDS)
        style = sorted(k for k in self.source_compared if k not in SOURCE_TOKEN_FIELDS)
        if tokens:
            summary["source_token_agreement"] = self._agreement(
                {k: SOURCE_TOKEN_FIELDS[k] for k in tokens}
            )
        if style:
            summary["source_style_agreement"] = self._agreement(
                {k: "style.total_{1}.{0}".format(*k.rsplit("_", 1)) for k in style}
            )
        return summary

    def _agreement(self, ours: dict[str, str]) -> dict[str, Agreement]:
        """Per field the release counts too: how often its count equals ours."""
        return {
            key: {
                "ours": field,
                "compared": self.source_compared[key],
                "equal": self.source_equal[key],
                "agreement_rate": self.source_equal[key] / self.source_compared[key],
                "mean_abs_difference": self.source_abs_diff[key] / self.source_compared[key],
            }
            for key, field in ours.items()
        }
