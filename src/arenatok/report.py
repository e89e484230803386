"""`arenatok report`: the numbers people look at before they trust the data.

Pure functions of the battles of a built dataset (`built.Battles`); `report_page` writes them
as report.json and report.html.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from arenatok import ratings
from arenatok.built import Battles, Built
from arenatok.errors import OptionError, SourceError, check_seed
from arenatok.records import QUALITY_FLAGS
from arenatok.style import FEATURES
from arenatok.write import JSONL

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


def quantiles(values: Sequence[float]) -> dict[str, float]:
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


def histogram(values: Sequence[int]) -> dict[str, int]:
    """Counts per bin of HISTOGRAM_EDGES, keyed "[lo, hi)" (the last ">= lo")."""
    counts = np.histogram(np.asarray(values, dtype=float), bins=[*HISTOGRAM_EDGES, float("inf")])[0]
    keys = [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(HISTOGRAM_EDGES)]
    return dict(zip([*keys, f">= {HISTOGRAM_EDGES[-1]}"], counts.tolist(), strict=True))


def counts_section(c: Battles) -> dict[str, Any]:
    n = len(c.winner)
    pairs = Counter(zip(c.model_a, c.model_b, strict=True))
    unordered = Counter(tuple(sorted(p)) for p in zip(c.model_a, c.model_b, strict=True))
    models = sorted(set(c.model_a) | set(c.model_b))
    per_model: dict[str, Counter[str]] = {m: Counter() for m in models}
    for a, b, w in zip(c.model_a, c.model_b, c.winner, strict=True):
        for model, side in ((a, "model_a"), (b, "model_b")):
            per_model[model]["battles"] += 1
            if w in ratings.DECISIVE:
                per_model[model]["wins" if w == side else "losses"] += 1
            else:
                per_model[model][w] += 1
    languages = Counter(lang or "(none)" for lang in c.language)
    quality = Counter(f for flags in c.quality_flags for f in flags)
    return {
        "battles": n,
        "models": len(models),
        "model_pairs": {"ordered": len(pairs), "unordered": len(unordered)},
        "pair_counts": [
            {"model_a": a, "model_b": b, "battles": k} for (a, b), k in sorted(pairs.items())
        ],
        "winner_distribution": {
            w: {"count": k, "share": k / n} for w, k in sorted(Counter(c.winner).items())
        },
        "per_model": {m: dict(sorted(per_model[m].items())) for m in models},
        "turns_per_battle": {str(t): k for t, k in sorted(Counter(c.turns).items())},
        "languages_top20": dict(languages.most_common(20)),
        "flagged": {
            "openai_moderation": sum(map(bool, c.moderation_flagged)) / n,
            "toxic_chat": sum(map(bool, c.toxic_flagged)) / n,
            **{f"quality:{f}": k / n for f, k in sorted(quality.items())},
        },
    }


def tokens_section(c: Battles) -> dict[str, Any]:
    by_turns: dict[int, list[int]] = {}
    for i, t in enumerate(c.turns):
        by_turns.setdefault(t, []).append(i)
    inp = np.asarray(c.input_tokens, dtype=float)
    fs = (np.asarray(c.full_state_a, dtype=float) + np.asarray(c.full_state_b, dtype=float)) / 2
    prompts, responses = prompt_tokens(c), response_tokens(c)
    every_response = [x for v in responses.values() for x in v]
    return {
        "prompt_tokens_per_message": quantiles(prompts),
        "response_tokens_per_message": quantiles(every_response),
        "response_tokens_by_model": {m: quantiles(v) for m, v in sorted(responses.items())},
        "histograms": {
            "prompt_tokens_per_message": histogram(prompts),
            "response_tokens_per_message": histogram(every_response),
            "response_tokens_by_model": {m: histogram(v) for m, v in sorted(responses.items())},
        },
        "total_tokens_per_battle": quantiles(c.total),
        "coordination_overhead": quantiles(c.overhead),
        "full_state_vs_plain_input_by_turns": {
            str(t): {
                "battles": len(idx),
                "mean_plain_input": float(inp[idx].mean()),
                "mean_full_state_input": float(fs[idx].mean()),
                "full_state_over_plain": float(fs[idx].sum() / inp[idx].sum())
                if inp[idx].sum()
                else None,
            }
            for t, idx in sorted(by_turns.items())
        },
    }


def length_bias(c: Battles, bins: Sequence[int] = LENGTH_BINS) -> list[dict[str, Any]]:
    """Per bin of |tokens_a - tokens_b|: decisive battles, and how often the longer answer won;
    ties (of any kind) are counted apart."""
    rows = []
    a, b = np.asarray(c.output_a), np.asarray(c.output_b)
    diff = np.abs(a - b)
    w = np.asarray(c.winner)
    decisive = np.isin(w, list(ratings.DECISIVE))
    longer_won = ((a > b) & (w == "model_a")) | ((b > a) & (w == "model_b"))
    for lo, hi in itertools.pairwise([*bins, None]):
        in_bin = (diff >= lo) & ((diff < hi) if hi is not None else True) & (a != b)
        n_dec = int((in_bin & decisive).sum())
        rows.append(
            {
                "token_difference": f"[{lo}, {hi})" if hi is not None else f">= {lo}",
                "battles": int(in_bin.sum()),
                "decisive": n_dec,
                "ties": int((in_bin & ~decisive).sum()),
                "longer_won_rate": float((in_bin & decisive & longer_won).sum() / n_dec)
                if n_dec
                else None,
            }
        )
    return rows


STYLE_FEATURES = ("length", *FEATURES)
"""The arena's style-control features, in its order: answer tokens, headers, list items, bold."""

MIN_SLICE_BATTLES = 50
"""Slices with fewer battles get no leaderboard; they are listed with their count."""


def interval95(samples: np.ndarray) -> list[float]:
    """The 95% percentile interval of bootstrap samples (NaN samples left out)."""
    return [float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))]


def style_matrix(c: Battles) -> tuple[np.ndarray, np.ndarray]:
    """Per battle and side: answer tokens and the markdown counts (battles x STYLE_FEATURES)."""
    a = np.column_stack([np.asarray(c.output_a, dtype=float), np.asarray(c.style_a, float)])
    b = np.column_stack([np.asarray(c.output_b, dtype=float), np.asarray(c.style_b, float)])
    width = len(STYLE_FEATURES)
    return a.reshape(len(c), width), b.reshape(len(c), width)


def style_matchups(c: Battles, scores: Sequence[float]) -> ratings.Matchups:
    """The battles with every style feature, as the arena normalises them (each column
    standardised on its own, so a fit on some columns takes them as they are)."""
    a, b = style_matrix(c)
    x = ratings.normalised_difference(a, b)
    return ratings.Matchups.of(c.model_a, c.model_b, scores, x)


def leaderboard(c: Battles, *, rounds: int, seed: int, jobs: int | str = 1) -> dict[str, Any]:
    """Ratings of the battles `c`: Bradley-Terry, online Elo in arrival order, and the
    length- and style-controlled Bradley-Terry, each with a bootstrap interval and the arena's
    rank with uncertainty; the controlled fits' coefficients with intervals."""
    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    models = cells.models
    n = len(models)
    order = ratings.arrival_order(c.timestamp)
    elo = ratings.online_elo(
        [c.model_a[k] for k in order], [c.model_b[k] for k in order], [scores[k] for k in order]
    )
    bt = ratings.bt_ratings(cells)  # in the order of `models`
    columns: dict[str, np.ndarray] = {"bradley_terry": np.fromiter(bt.values(), float, n)}
    samples: dict[str, np.ndarray] = {}
    if rounds:
        samples["bradley_terry"] = ratings.bt_bootstrap(cells, rounds=rounds, seed=seed)
    coefficients: dict[str, dict[str, Any]] = {}
    every = slice(0, len(STYLE_FEATURES))
    matchups = style_matchups(c, scores)
    for name, cols in (("length_controlled", slice(0, 1)), ("style_controlled", every)):
        fit_on = matchups.columns(cols)
        full = ratings.contextual_bt(fit_on)
        boot = (
            ratings.controlled_bootstrap(fit_on, full, rounds=rounds, seed=seed, jobs=jobs)
            if rounds
            else None
        )
        columns[name] = ratings.SCALE * full[:n] + ratings.INIT
        features = STYLE_FEATURES[cols]
        coefficients[name] = {f: {"estimate": float(full[n + k])} for k, f in enumerate(features)}
        if boot is not None:
            samples[name] = ratings.SCALE * boot[:, :n] + ratings.INIT
            for k, f in enumerate(features):
                coefficients[name][f]["ci95"] = interval95(boot[:, n + k])
    table = []
    intervals = {name: [interval95(x[:, k]) for k in range(n)] for name, x in samples.items()}
    ranks = {
        name: ratings.rank_with_uncertainty([i[0] for i in iv], [i[1] for i in iv])
        for name, iv in intervals.items()
    }
    per_model = Counter(c.model_a) + Counter(c.model_b)
    for k, m in enumerate(models):
        row: dict[str, Any] = {"model": m, "battles": per_model[m], "online_elo": elo[m]}
        for name, values in columns.items():
            row[name] = float(values[k])
            if name in intervals:
                row[f"{name}_ci95"] = intervals[name][k]
                row[f"{name}_rank"] = ranks[name][k]
        table.append(row)
    table.sort(key=lambda r: (-r["bradley_terry"], r["model"]))
    return {"battles": len(c), "coefficients": coefficients, "models": table}


def pairwise(c: Battles, board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pair of models that met: battles, the observed score of the first (wins + half
    the ties, over battles) and what the Bradley-Terry ratings predict for it."""
    rating = {r["model"]: r["bradley_terry"] for r in board["models"]}
    met: dict[tuple[str, str], list[float]] = {}
    for a, b, w in zip(c.model_a, c.model_b, c.winner, strict=True):
        score = ratings.score(w)
        key, score = ((a, b), score) if a < b else ((b, a), 1 - score)
        met.setdefault(key, []).append(score)
    rows = []
    for (x, y), s in sorted(met.items()):
        predicted = ratings.expected_score(rating[x], rating[y])
        observed = sum(s) / len(s)
        rows.append(
            {
                "model": x,
                "opponent": y,
                "battles": len(s),
                "observed_score": observed,
                "predicted_score": predicted,
                "difference": observed - predicted,
                # How many standard errors apart (binomial, at the predicted rate).
                "z": (observed - predicted) / math.sqrt(predicted * (1 - predicted) / len(s)),
            }
        )
    return rows


def select(
    c: Battles,
    *,
    anony_only: bool = False,
    min_battles: int = 0,
    exclude: Sequence[str] = (),
) -> tuple[Battles, dict[str, Any]]:
    """The battles the leaderboards use, and what the filters did: `anony_only` keeps the
    battles whose models were hidden from the voter (anony true); `exclude` drops every battle
    of the named models; `min_battles` then drops the models with fewer battles (one pass)."""
    keep = [
        k
        for k in range(len(c))
        if (not anony_only or c.anony[k] is True)
        and c.model_a[k] not in exclude
        and c.model_b[k] not in exclude
    ]
    per_model = Counter(c.model_a[k] for k in keep) + Counter(c.model_b[k] for k in keep)
    few = {m for m, n in per_model.items() if n < min_battles}
    keep = [k for k in keep if c.model_a[k] not in few and c.model_b[k] not in few]
    unknown = sorted(set(exclude) - set(c.model_a) - set(c.model_b))
    if unknown:
        raise OptionError(
            f"--exclude-model {unknown[0]}: no such model in this dataset",
            hint="the models are listed in report.json (counts.per_model)",
        )
    return c.take(keep), {
        "anony_only": anony_only,
        "min_battles": min_battles,
        "excluded_models": sorted(exclude),
        "models_below_min_battles": sorted(few),
        "battles_before": len(c),
        "battles_after": len(keep),
    }


SLICE_KINDS = ("language", "turns", "category", "flag:NAME")


def slice_members(c: Battles, by: str) -> dict[str, list[int]]:
    """The battles of each slice, by index. `language`, `turns`: one slice per value;
    `category`: one slice per yes/no label of the release (a battle is in every slice whose
    label it has); `flag:NAME`: the battles with quality flag NAME (or `openai_moderation`,
    `toxic_chat`) and those without."""
    out: dict[str, list[int]] = {}
    if by == "language":
        for k, lang in enumerate(c.language):
            out.setdefault(lang or "(none)", []).append(k)
    elif by == "turns":
        for k, t in enumerate(c.turns):
            out.setdefault(f"{t} turn{'s' if t > 1 else ''}", []).append(k)
    elif by == "category":
        for k, labels in enumerate(c.categories):
            for name, yes in labels.items():
                if yes:
                    out.setdefault(name, []).append(k)
        if not any(c.categories):
            raise OptionError(
                "--by category: this dataset has no category labels",
                hint="only the 100k and 140k releases carry them (is_code, dedup_tag, "
                "category_tag); try --by language or --by turns",
            )
    elif by.startswith("flag:"):
        name = by.removeprefix("flag:")
        special = {"openai_moderation": c.moderation_flagged, "toxic_chat": c.toxic_flagged}
        if name not in special and name not in QUALITY_FLAGS:
            raise OptionError(
                f"--by {by}: no such flag",
                hint=f"flags: {', '.join([*special, *QUALITY_FLAGS])}",
            )
        has = (
            [bool(x) for x in special[name]]
            if name in special
            else [name in f for f in c.quality_flags]
        )
        for k, yes in enumerate(has):
            out.setdefault(f"{name}" if yes else f"not {name}", []).append(k)
    else:
        raise OptionError(f"--by {by}: unknown slice", hint=f"one of: {', '.join(SLICE_KINDS)}")
    if by == "turns":
        return dict(sorted(out.items(), key=lambda kv: int(kv[0].split()[0])))
    return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def slices_section(
    c: Battles, by: str, *, rounds: int, seed: int, jobs: int | str = 1
) -> dict[str, Any]:
    """A leaderboard per slice; slices under MIN_SLICE_BATTLES battles are listed, unrated."""
    rows = []
    for name, members in slice_members(c, by).items():
        row: dict[str, Any] = {"slice": name, "battles": len(members)}
        if len(members) < MIN_SLICE_BATTLES:
            row["too_few_battles"] = True
        else:
            row |= leaderboard(c.take(members), rounds=rounds, seed=seed, jobs=jobs)
        rows.append(row)
    return {"by": by, "min_battles_per_slice": MIN_SLICE_BATTLES, "slices": rows}


def ratings_section(c: Battles, *, rounds: int, seed: int, jobs: int | str = 1) -> dict[str, Any]:
    board = leaderboard(c, rounds=rounds, seed=seed, jobs=jobs)
    order = "by timestamp (stable on ties; a battle without one keeps its source position)"
    return {
        "method": {
            "scores": "model_a 1, model_b 0, every kind of tie 0.5 (half a win each way)",
            "online_elo": f"K=4, base 10, scale 400, initial 1000, battles in arrival order: "
            f"{order}",
            "bradley_terry": "maximum likelihood, Elo scale (400 per factor 10 of odds), mean 1000",
            "length_controlled": "Bradley-Terry with one feature, (tokens_a - tokens_b) / "
            "(tokens_a + tokens_b + 1) standardised; L2 penalty 0.5 as the arena's; "
            "rating = 400 r + 1000",
            "style_controlled": "the arena's style control: Bradley-Terry with four features, "
            "each (a - b) / (a + b + 1) standardised, for answer tokens, markdown headers, list "
            "items and bold spans (summed over turns); L2 penalty 0.5 as the arena's; "
            "rating = 400 r + 1000",
            "coefficients": "change in the log-odds of A winning per standard deviation of the "
            "feature",
            "rank": "the arena's rank with uncertainty: 1 + the number of models whose 95% "
            "interval lies entirely above this model's",
            "bootstrap": f"{rounds} rounds, seed {seed}: for Bradley-Terry each a multinomial "
            "draw of the battles over the (model_a, model_b, outcome) cells, which is what "
            "resampling battles with replacement does to it; for the controlled fits the "
            "battles resampled with replacement, refitted by Newton steps from the full fit; "
            "95% percentile intervals",
        },
        "length_coefficient": board["coefficients"]["length_controlled"]["length"]["estimate"],
        "length_coefficient_definition": (
            "change in the log-odds of A winning per standard deviation of "
            "(tokens_a - tokens_b) / (tokens_a + tokens_b + 1)"
        ),
        **board,
        "pairwise": pairwise(c, board),
    }


def spec_comparison(c: Battles, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Our figures over the first 300 battles beside the specification report's, with why they
    differ."""
    first = c.head(SPEC_SAMPLE)
    n = len(first.winner)
    shares = Counter(first.winner)
    ties = sum(k for w, k in shares.items() if w not in ratings.DECISIVE)
    source = meta.get("source", {})
    same_source = source.get("kind") == "huggingface_hub"
    note = (
        ""
        if same_source
        else " (our source is not the Hub file: " + str(source.get("path")) + ", so the rows "
        "differ too)"
    )
    return [
        {
            "figure": "winner shares, % (model_a / model_b / ties)",
            "report": "40 / 37.7 / 22.3",
            "ours": f"{shares['model_a'] / n:.1%} / {shares['model_b'] / n:.1%} / "
            f"{ties / n:.1%}".replace("%", ""),
            "why": "ties here add every kind of tie label" + note,
        },
        {
            "figure": "unique model pairs",
            "report": "48",
            "ours": f"{len(set(zip(first.model_a, first.model_b, strict=True)))} ordered, "
            f"{len({tuple(sorted(p)) for p in zip(first.model_a, first.model_b, strict=True)})}"
            " unordered",
            "why": "the report does not say whether (A, B) and (B, A) are one pair" + note,
        },
        {
            "figure": "mean turns per battle",
            "report": "2.7 (804 turns)",
            "ours": f"{sum(first.turns) / n:.2f} ({sum(first.turns)} turns)",
            "why": "ours counts user turns; 2.68 (804 / 300) looks like a count of the messages "
            "of one side (a user message and an answer per turn), not of turns" + note,
        },
        {
            "figure": "mean tokens per battle",
            "report": "630.7",
            "ours": f"{sum(first.total) / n:.1f}",
            "why": "the report adds response A to the input (battle 0: 725 = 181 + 171 + 373 "
            "against our 554 = 10 + 171 + 373)" + note,
        },
    ]


def sources_section(meta: dict[str, Any]) -> dict[str, Any]:
    """Per source: its battles, its later copies of its own battles, and its overlap with
    every other source (a matrix: row = where the first copy is, column = where the later
    copy is), and the copies whose votes differ. From the build's metadata."""
    sources = meta.get("sources") or [meta.get("source", {})]
    n = len(sources)
    dup = meta.get("duplicates", {})
    matrix = [[0] * n for _ in range(n)]
    for x in dup.get("by_source_pair", []):
        matrix[x["first_in"]][x["later_in"]] += x["later_copies"]
    return {
        "sources": [
            {
                "source": i,
                "name": str(s.get("path") or s.get("repo_id")),
                "layout": s.get("layout"),
                "battles": s.get("counts", {}).get("rows_written"),
                "later_copies_within": matrix[i][i],
                "later_copies_of_other_sources": sum(matrix[j][i] for j in range(n) if j != i),
            }
            for i, s in enumerate(sources)
        ],
        "overlap_matrix": matrix,
        "overlap_matrix_rule": "row i, column j: battles first seen in source i whose later "
        "copies are in source j",
        "later_copies": dup.get("later_copies"),
        "votes_differ": dup.get("votes_differ", 0),
        "votes_differ_list": dup.get("votes_differ_list", []),
    }


THIN_BATTLES = 300
"""Below this many rated battles a report says its data is thin."""
PLOT_MIN_BATTLES = 30
"""Models with fewer rated battles are left out of the plots (their ratings are in the tables):
with a handful of battles a rating is little more than noise and stretches every axis, which is
why the arena's own leaderboard shows only models with enough votes."""


def caveats(rating: dict[str, Any]) -> list[str]:
    """What a reader must know before reading the ratings: thin data, rough models."""
    models = rating["models"]
    battles = rating["filters"]["battles_after"]
    out = []
    if battles < THIN_BATTLES:
        out.append(
            f"Thin data: {battles:,} rated battles (under {THIN_BATTLES}). Ratings and ranks move "
            "a lot with so few votes: read the 95% intervals, not the points; a shared rank of 1 "
            "means the intervals overlap, not a tie."
        )
    rough = [m["model"] for m in models if m["battles"] < PLOT_MIN_BATTLES]
    if rough:
        out.append(
            f"{len(rough)} of {len(models)} models have fewer than {PLOT_MIN_BATTLES} rated "
            "battles: their ratings are rough (wide intervals) and they are left out of the "
            "plots; the tables keep them."
        )
    return out


def build_report(
    built: Built,
    *,
    rounds: int = 1000,
    seed: int = 0,
    by: str | None = None,
    anony_only: bool = False,
    min_battles: int = 0,
    exclude: Sequence[str] = (),
    jobs: int | str = 1,
) -> dict[str, Any]:
    """Every number of the report of a built dataset. The filters (`select`) apply to the
    ratings, the slices (`by`) and the pairwise view; the counts and tokens describe every
    battle. `jobs`: worker processes for the bootstrap of the controlled fits, or "auto" (one
    per core for large inputs; the numbers do not depend on it; the calling script must be
    importable: guard it with `if __name__ == "__main__":`). Keys that start with `_`
    (timings) are for the terminal only."""
    c, meta = built.battles, built.metadata
    check_seed(seed)
    if not isinstance(rounds, int) or rounds < 0:
        raise OptionError(
            f"--rounds must be a whole number, 0 or more, got {rounds!r}",
            hint="for example --rounds 1000",
        )
    if not len(c):
        raise SourceError(
            f"{built.out / JSONL}: no battles to report on",
            hint="build from a source with usable rows (see rejects.jsonl)",
        )
    started = time.perf_counter()
    rated, filters = select(c, anony_only=anony_only, min_battles=min_battles, exclude=exclude)
    if not len(rated):
        raise OptionError(
            "no battles are left to rate after the filters",
            hint="loosen --anony-only / --min-battles / --exclude-model",
        )
    rating = ratings_section(rated, rounds=rounds, seed=seed, jobs=jobs)
    rating["filters"] = filters
    slices = slices_section(rated, by, rounds=rounds, seed=seed, jobs=jobs) if by else None
    return {
        "arenatok_version": importlib.metadata.version("arenatok"),
        "build": built.build_id,
        "dataset": meta.get("dataset"),
        "source": meta.get("source"),
        "tokenizer": meta.get("tokenizer", {}).get("name"),
        "counts": counts_section(c),
        "tokens": tokens_section(c),
        "ratings": rating,
        **({"slices": slices} if slices else {}),
        "length_bias": length_bias(c),
        "source_token_agreement": meta.get("source_token_agreement"),
        "source_style_agreement": meta.get("source_style_agreement"),
        "specification_report": spec_comparison(c, meta),
        "sources": sources_section(meta),
        "caveats": caveats(rating),
        "_ratings_seconds": time.perf_counter() - started,
    }
