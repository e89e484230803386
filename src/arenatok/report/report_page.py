"""The report as files: report.json and report.html (tables from the numbers that
`report.numbers.build_report` computes, and the plots of `report.plots`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arenatok.dataset.built import Battles, read_built
from arenatok.pages import html_page, html_table
from arenatok.pipeline.battle import DECISIVE, VOTES
from arenatok.report.leaderboards import SEPARATION
from arenatok.report.numbers import build_report
from arenatok.report.plots import report_plots
from arenatok.report.results import (
    FITS,
    Coefficient,
    Counts,
    Filters,
    ModelRow,
    PairRow,
    Ratings,
    Report,
    Slices,
    Sources,
    Tokens,
)
from arenatok.runtime.atomic import dumps_pretty
from arenatok.runtime.derived import REPORT_HTML, REPORT_JSON, write_derived
from arenatok.text import html


def filters_text(f: Filters) -> str:
    """What the filters left, in a sentence."""
    parts = []
    if f.anony_only:
        parts.append("anonymous battles only")
    if f.excluded_models:
        parts.append("without " + ", ".join(f.excluded_models))
    if f.min_battles:
        parts.append(f"models with at least {f.min_battles} battles")
    which = "; ".join(parts) or "no filters"
    return f"Rated: {f.battles_after:,} of {f.battles_before:,} battles ({which})."


LEADERBOARD_COLUMNS = (
    "model",
    "battles",
    "bradley_terry",
    "bradley_terry_ci95",
    "bradley_terry_rank",
    "style_controlled",
    "style_controlled_ci95",
    "style_controlled_rank",
    "length_controlled",
    "length_controlled_ci95",
    "online_elo",
)


def leaderboard_html(models: Sequence[ModelRow]) -> str:
    """One leaderboard as a table: each rating with its interval and rank (model names kept
    on one line); a rating or interval that does not exist in words ("unbounded above", "not
    estimable")."""
    rows = []
    for m in models:
        row = m.to_json()
        for name in FITS:
            for key in (name, f"{name}_ci95"):
                row[key] = m.why_not(key) or row.get(key)
        rows.append(row)
    return html_table(rows, LEADERBOARD_COLUMNS, whole=("model",))


def slices_html(slices: Slices | None) -> list[str]:
    """A leaderboard per slice; slices with too few battles named, with their count."""
    if not slices:
        return []
    out = [
        f"<h2>Leaderboards by {html(slices.by)}</h2>",
        html_table(
            [
                {
                    "slice": x.slice,
                    "battles": x.battles,
                    "rated": "no: too few battles" if x.too_few_battles else "yes",
                }
                for x in slices.slices
            ],
            ["slice", "battles", "rated"],
        ),
    ]
    for x in slices.slices:
        if not x.too_few_battles:
            out.append(f"<h3>{html(x.slice)} ({x.battles:,} battles)</h3>")
            out.append(leaderboard_html(x.models or []))
    return out


def _overview(report: Report) -> list[str]:
    counts = report.counts
    return [
        f"<p>{counts.battles:,} battles, {counts.models} models, "
        f"{counts.model_pairs.ordered} ordered / {counts.model_pairs.unordered} "
        f"unordered model pairs. Tokenizer: {html(report.tokenizer)}.</p>",
        *(f'<p class="note">{html(x)}</p>' for x in report.caveats),
    ]


def _specification(report: Report) -> list[str]:
    return [
        "<h2>Against the specification report</h2>",
        "<p>The specification report (<code>dataset_report.md</code>) is the document that "
        "first defined this dataset's record and files; it gives example figures for the "
        "first 300 battles of the arena. Ours for the first 300 battles of this build, beside "
        "them, with why they differ:</p>",
        html_table(report.specification_report, ["figure", "report", "ours", "why"]),
    ]


def _sources(sources: Sources) -> list[str]:
    n = len(sources.sources)
    return [
        "<h2>Sources and duplicates</h2>",
        html_table(
            [{**row.to_json(), "name": Path(row.name).name} for row in sources.sources],
            [
                "source",
                "name",
                "layout",
                "battles",
                "later_copies_within",
                "later_copies_of_other_sources",
            ],
        ),
        f"<p>Overlap ({html(sources.overlap_matrix_rule)}):</p>",
        html_table(
            [
                {"first in": i, **{f"later in {j}": k for j, k in enumerate(row)}}
                for i, row in enumerate(sources.overlap_matrix)
            ],
            ["first in", *(f"later in {j}" for j in range(n))],
        ),
        f"<p>Copies of one battle whose votes differ: {sources.votes_differ:,}.</p>",
        html_table(
            [
                {
                    "first copy": f"source {d['first']['source']} row {d['first']['row']}",
                    "its vote": d["first"]["winner"],
                    "later copy": f"source {d['later']['source']} row {d['later']['row']}",
                    "its vote ": d["later"]["winner"],
                    "key": d["key"],
                }
                for d in sources.votes_differ_list[:50]
            ],
            ["first copy", "its vote", "later copy", "its vote ", "key"],
        ),
    ]


TIES = tuple(v for v in VOTES if v not in DECISIVE)
"""The ties, each a column of the votes per model."""


def _votes_and_tokens(counts: Counts, tokens: Tokens) -> list[str]:
    return [
        "<h2>Votes</h2>",
        html_table(
            [{"winner": w, **d} for w, d in counts.winner_distribution.items()],
            ["winner", "count", "share"],
        ),
        html_table(
            [
                {**dict.fromkeys(("wins", "losses", *TIES), 0), "model": m, **d}
                for m, d in counts.per_model.items()
            ],
            ["model", "battles", "wins", "losses", *TIES],
            whole=("model",),
        ),
        "<h2>Turns, languages, flags</h2>",
        html_table(
            [{"turns": t, "battles": k} for t, k in counts.turns_per_battle.items()],
            ["turns", "battles"],
        ),
        html_table(
            [{"language": x, "battles": k} for x, k in counts.languages_top20.items()],
            ["language", "battles"],
        ),
        html_table([{"flag": f, "rate": r} for f, r in counts.flagged.items()], ["flag", "rate"]),
        "<h2>Tokens</h2>",
        html_table(
            [{"what": k, **v} for k, v in tokens.distributions().items()],
            ["what", "n", "mean", "p5", "p25", "median", "p75", "p95", "max"],
        ),
        html_table(
            [
                {"turns": t, **v.to_json()}
                for t, v in tokens.full_state_vs_plain_input_by_turns.items()
            ],
            [
                "turns",
                "battles",
                "mean_plain_input",
                "mean_full_state_input",
                "full_state_over_plain",
            ],
        ),
    ]


def _coefficient_words(x: Coefficient) -> dict[str, str]:
    """A coefficient's missing estimate or interval in words ("not estimable")."""
    why = x.get("not_estimable", "").split(":")[0]
    return {k: why for k in ("estimate", "ci95") if x.get(k) is None}


def _misfit(p: PairRow) -> float:
    """How badly the ratings fit a pair, worst first: -|z|."""
    return -abs(p.z or 0.0)


def _ratings(rat: Ratings, plots: list[str]) -> list[str]:
    """The leaderboard with its intervals, then `plots` (its plot), then how it was made, the
    style coefficients and the pairs it fits worst."""
    method = rat.method
    assert rat.filters is not None
    return [
        "<h2>Ratings</h2>",
        leaderboard_html(rat.models),
        *plots,
        f"<p>{html(filters_text(rat.filters))} Intervals: "
        f"{html(method['intervals'])}. Weights: "
        f"{html(method['weights'])}. Rank: {html(method['rank'])}. "
        f"Online Elo: {html(method['online_elo'])}.</p>",
        f"<p>Separation: {html(method.get('separation', SEPARATION))}; an interval the "
        "sandwich or the bootstrap cannot estimate (no spread: all ties, a tie between models "
        "rated equal, one round) is not estimable, never a zero width.</p>",
        f"<p>Style control ({html(method['style_controlled'])}); coefficients: "
        f"{html(method['coefficients'])}.</p>",
        html_table(
            [
                {"fit": fit, "feature": f, **x, **_coefficient_words(x)}
                for fit, features in rat.coefficients.items()
                for f, x in features.items()
            ],
            ["fit", "feature", "estimate", "ci95"],
        ),
        "<h2>Pairs: observed against predicted</h2>",
        "<p>For every pair that met: the first model's observed score (wins plus half the "
        "ties, over battles) and the score the Bradley-Terry ratings predict; z is the "
        "difference in binomial standard errors. The 30 pairs the model fits worst:</p>",
        html_table(
            sorted((p for p in rat.pairwise if p.z is not None), key=_misfit)[:30],
            ["model", "opponent", "battles", "observed_score", "predicted_score", "z"],
            whole=("model", "opponent"),
        ),
    ]


def render_html(report: Report, c: Battles, *, run: str = "") -> str:
    """One self-contained page: inline CSS and SVG, no script, nothing fetched; `run`: the
    sha256 of the report.json written with it."""
    figs = report_plots(report, c)
    sections = [
        *_overview(report),
        *_ratings(report.ratings, figs.leaderboard),
        *figs.ratings,
        *slices_html(report.slices),
        "<h2>Length bias</h2>",
        html_table(
            report.length_bias,
            ["token_difference", "battles", "decisive", "ties", "longer_won_rate"],
        ),
        *figs.length_bias,
        *_votes_and_tokens(report.counts, report.tokens),
        *figs.pairs,
        *figs.tokens,
        *_sources(report.sources),
        *_specification(report),
    ]
    return html_page(
        f"arenatok report: {report.dataset}",
        "\n".join(sections),
        build=report.build,
        run=run,
    )


def write_report(out: str | Path, **options: Any) -> Report:
    """Write report.json and report.html into `out` (atomically); return the report.
    `options`: those of `report.build_report`."""
    built = read_built(out)
    report = build_report(built, **options)
    data = dumps_pretty(report.to_json()).encode()
    page = render_html(report, built.battles, run=hashlib.sha256(data).hexdigest())
    write_derived(
        built.out,
        {REPORT_JSON: data, REPORT_HTML: page.encode("utf-8")},
        build=built.build_id,
        read_from=built.out,
        hint="make the directory writable, or copy the build elsewhere",
    )
    return report
