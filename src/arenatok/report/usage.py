"""The report's numbers about tokens: counts, per-battle token quantiles and histograms, the
length bias of the votes, the specification's comparison, and the sources.

Pure functions of the battles of a built dataset (`dataset.built.Battles`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from arenatok.dataset.built import Battles
from arenatok.pipeline.battle import DECISIVE
from arenatok.pipeline.metadata import Metadata
from arenatok.report.results import (
    BiasRow,
    Counts,
    Histogram,
    ModelPairs,
    PairCount,
    Quantiles,
    SourceRow,
    Sources,
    SpecRow,
    Tokens,
    TurnCost,
)

SPEC_SAMPLE = 300
"""The specification report (dataset_report.md) describes the first 300 battles."""

LENGTH_BINS = (0, 10, 50, 100, 200, 400, 800)
"""Bins of |tokens_a - tokens_b| for the length-bias table (the last one is open)."""


def prompt_tokens(c: Battles) -> list[int]:
    """Tokens of every user message (per message, not per battle)."""
    return [x for turns in c.turn_input_tokens for x in turns]


def response_tokens(c: Battles) -> dict[str, list[int]]:
    """Tokens of every answer, by model."""
    out: dict[str, list[int]] = {}
    for sides in ((c.model_a, c.turn_a_tokens), (c.model_b, c.turn_b_tokens)):
        for model, turns in zip(*sides, strict=True):
            out.setdefault(model, []).extend(turns)
    return out


def quantiles(values: Sequence[float]) -> Quantiles:
    """Mean and the 5/25/50/75/95th percentiles (linear interpolation), min and max."""
    a = np.asarray(values, dtype=float)
    if not len(a):
        return {}
    q = np.percentile(a, [5, 25, 50, 75, 95])
    return {
        "n": len(a),
        "mean": float(a.mean()),
        "min": float(a.min()),
        "p5": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "max": float(a.max()),
    }


HISTOGRAM_EDGES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
"""Token-count bins (powers of two; the last bin is open) for the histograms in report.json."""


def histogram(values: Sequence[int]) -> Histogram:
    """Counts per bin of HISTOGRAM_EDGES, keyed "[lo, hi)" (the last ">= lo")."""
    counts = np.histogram(np.asarray(values, dtype=float), bins=[*HISTOGRAM_EDGES, float("inf")])[0]
    keys = [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(HISTOGRAM_EDGES)]
    return dict(zip([*keys, f">= {HISTOGRAM_EDGES[-1]}"], counts.tolist(), strict=True))


def counts_section(c: Battles) -> Counts:
    n = len(c.winner)
    pairs = Counter(zip(c.model_a, c.model_b, strict=True))
    unordered = Counter(tuple(sorted(p)) for p in zip(c.model_a, c.model_b, strict=True))
    models = sorted(set(c.model_a) | set(c.model_b))
    per_model: dict[str, Counter[str]] = {m: Counter() for m in models}
    for a, b, w in zip(c.model_a, c.model_b, c.winner, strict=True):
        for model, side in ((a, "model_a"), (b, "model_b")):
            per_model[model]["battles"] += 1
            if w in DECISIVE:
                per_model[model]["wins" if w == side else "losses"] += 1
            else:
                per_model[model][w] += 1
    languages = Counter(lang or "(none)" for lang in c.language)
    quality = Counter(f for flags in c.quality_flags for f in flags)
    return Counts(
        battles=n,
        models=len(models),
        model_pairs=ModelPairs(ordered=len(pairs), unordered=len(unordered)),
        pair_counts=[
            PairCount(model_a=a, model_b=b, battles=k) for (a, b), k in sorted(pairs.items())
        ],
        winner_distribution={
            w: {"count": k, "share": k / n} for w, k in sorted(Counter(c.winner).items())
        },
        per_model={m: dict(sorted(per_model[m].items())) for m in models},
        turns_per_battle={str(t): k for t, k in sorted(Counter(c.turns).items())},
        languages_top20=dict(languages.most_common(20)),
        flagged={
            "openai_moderation": sum(map(bool, c.moderation_flagged)) / n,
            "toxic_chat": sum(map(bool, c.toxic_flagged)) / n,
            **{f"quality:{f}": k / n for f, k in sorted(quality.items())},
        },
    )


def tokens_section(c: Battles) -> Tokens:
    by_turns: dict[int, list[int]] = {}
    for i, t in enumerate(c.turns):
        by_turns.setdefault(t, []).append(i)
    inp = np.asarray(c.input_tokens, dtype=float)
    fs = (np.asarray(c.full_state_a, dtype=float) + np.asarray(c.full_state_b, dtype=float)) / 2
    prompts, responses = prompt_tokens(c), response_tokens(c)
    every_response = [x for v in responses.values() for x in v]
    return Tokens(
        prompt_tokens_per_message=quantiles(prompts),
        response_tokens_per_message=quantiles(every_response),
        response_tokens_by_model={m: quantiles(v) for m, v in sorted(responses.items())},
        histograms={
            "prompt_tokens_per_message": histogram(prompts),
            "response_tokens_per_message": histogram(every_response),
            "response_tokens_by_model": {m: histogram(v) for m, v in sorted(responses.items())},
        },
        total_tokens_per_battle=quantiles(c.total),
        coordination_overhead=quantiles(c.overhead),
        full_state_vs_plain_input_by_turns={
            str(t): TurnCost(
                battles=len(idx),
                mean_plain_input=float(inp[idx].mean()),
                mean_full_state_input=float(fs[idx].mean()),
                full_state_over_plain=float(fs[idx].sum() / inp[idx].sum())
                if inp[idx].sum()
                else None,
            )
            for t, idx in sorted(by_turns.items())
        },
    )


def length_bias(c: Battles, bins: Sequence[int] = LENGTH_BINS) -> list[BiasRow]:
    """Per bin of |tokens_a - tokens_b|: decisive battles, and how often the longer answer won;
    ties (of any kind) are counted apart."""
    rows = []
    a, b = np.asarray(c.output_a), np.asarray(c.output_b)
    diff = np.abs(a - b)
    w = np.asarray(c.winner)
    decisive = np.isin(w, list(DECISIVE))
    longer_won = ((a > b) & (w == "model_a")) | ((b > a) & (w == "model_b"))
    for lo, hi in itertools.pairwise([*bins, None]):
        in_bin = (diff >= lo) & ((diff < hi) if hi is not None else True) & (a != b)
        n_dec = int((in_bin & decisive).sum())
        rows.append(
            BiasRow(
                token_difference=f"[{lo}, {hi})" if hi is not None else f">= {lo}",
                battles=int(in_bin.sum()),
                decisive=n_dec,
                ties=int((in_bin & ~decisive).sum()),
                longer_won_rate=float((in_bin & decisive & longer_won).sum() / n_dec)
                if n_dec
                else None,
            )
        )
    return rows


def spec_comparison(c: Battles, meta: Metadata) -> list[SpecRow]:
    """Our figures over the first 300 battles beside the specification report's, with why they
    differ."""
    first = c.head(SPEC_SAMPLE)
    n = len(first.winner)
    shares = Counter(first.winner)
    ties = sum(k for w, k in shares.items() if w not in DECISIVE)
    source = meta.get("source", {})
    same_source = source.get("kind") == "huggingface_hub"
    note = (
        ""
        if same_source
        else " (our source is not the Hub file: "
        + Path(str(source.get("path"))).name
        + ", so the rows "
        "differ too)"
    )
    return [
        SpecRow(
            figure="winner shares, % (model_a / model_b / ties)",
            report="40 / 37.7 / 22.3",
            ours=f"{shares['model_a'] / n:.1%} / {shares['model_b'] / n:.1%} / "
            f"{ties / n:.1%}".replace("%", ""),
            why="ties here add every kind of tie label" + note,
        ),
        SpecRow(
            figure="unique model pairs",
            report="48",
            ours=f"{len(set(zip(first.model_a, first.model_b, strict=True)))} ordered, "
            f"{len({tuple(sorted(p)) for p in zip(first.model_a, first.model_b, strict=True)})}"
            " unordered",
            why="the report does not say whether (A, B) and (B, A) are one pair" + note,
        ),
        SpecRow(
            figure="mean turns per battle",
            report="2.7 (804 turns)",
            ours=f"{sum(first.turns) / n:.2f} ({sum(first.turns)} turns)",
            why="ours counts user turns; 2.68 (804 / 300) looks like a count of the messages "
            "of one side (a user message and an answer per turn), not of turns" + note,
        ),
        SpecRow(
            figure="mean tokens per battle",
            report="630.7",
            ours=f"{sum(first.total) / n:.1f}",
            why="the report adds response A to the input (battle 0: 725 = 181 + 171 + 373 "
            "against our 554 = 10 + 171 + 373)" + note,
        ),
    ]


def sources_section(meta: Metadata) -> Sources:
    """Per source: its battles, its later copies of its own battles, and its overlap with
    every other source (a matrix: row = where the first copy is, column = where the later
    copy is), and the copies whose votes differ. From the build's metadata."""
    sources = meta["sources"]
    n = len(sources)
    dup = meta["duplicates"]
    matrix = [[0] * n for _ in range(n)]
    for x in dup["by_source_pair"]:
        matrix[x["first_in"]][x["later_in"]] += x["later_copies"]
    return Sources(
        sources=[
            SourceRow(
                source=i,
                name=str(s.get("path") or s.get("repo_id")),
                layout=s["layout"],
                battles=s["counts"]["rows_written"],
                later_copies_within=matrix[i][i],
                later_copies_of_other_sources=sum(matrix[j][i] for j in range(n) if j != i),
            )
            for i, s in enumerate(sources)
        ],
        overlap_matrix=matrix,
        overlap_matrix_rule="row i, column j: battles first seen in source i whose later "
        "copies are in source j",
        later_copies=dup["later_copies"],
        votes_differ=dup["votes_differ"],
        votes_differ_list=dup["votes_differ_list"],
    )
