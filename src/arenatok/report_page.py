"""The report as files: report.json and report.html (tables and plots from the numbers that
`report.build_report` computes; the plots need matplotlib, the `report` extra)."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from arenatok.atomic import dumps_pretty, write_together
from arenatok.built import Battles, read_built
from arenatok.derived import REPORT_HTML, REPORT_JSON
from arenatok.page import error_bars, figure, html_page, html_table, plot
from arenatok.report import PLOT_MIN_BATTLES, build_report, prompt_tokens, response_tokens

__all__ = ["REPORT_HTML", "REPORT_JSON", "render_html", "report_plots", "write_report"]


def report_plots(report: dict[str, Any], c: Battles) -> list[str]:
    """Each plot of the report as a page section. Needs matplotlib (the `report` extra)."""
    figs: list[str] = []

    def svg(title: str, fig: Any, *, wide: bool = False) -> None:
        figs.append(plot(title, fig, wide=wide))

    models = plotted_models(report)
    if len(models) > 1:
        svg(
            "Battles per model pair (models ordered by rating, best first)",
            pairs_figure(report),
            wide=True,
        )

    fig, ax = figure(7, 3.5)
    bins = sorted({int(x) for x in np.geomspace(1, max(2, max(c.total)) + 1, 40)})
    ax.hist(
        [prompt_tokens(c), [x for v in response_tokens(c).values() for x in v]],
        bins=bins,
        label=["prompt (user message)", "response (answer)"],
        histtype="step",
        linewidth=1.5,
    )
    ax.set_xscale("log")
    ax.set_xlabel("tokens per message")
    ax.set_ylabel("messages")
    ax.legend()
    svg("Tokens per message, by role", fig)

    fig, ax = figure(7, 3.5)
    ax.hist(c.overhead, bins=40, range=(0, 1))
    ax.set_xlabel("coordination_overhead = |out_b - out_a| / total")
    ax.set_ylabel("battles")
    svg("Coordination overhead", fig)

    rows = report["tokens"]["full_state_vs_plain_input_by_turns"]
    if len(rows) > 1:
        fig, ax = figure(7, 3.5)
        turns = [int(t) for t in rows]
        ax.plot(turns, [rows[str(t)]["mean_plain_input"] for t in turns], "o-", label="plain input")
        ax.plot(
            turns,
            [rows[str(t)]["mean_full_state_input"] for t in turns],
            "s-",
            label="full-state input (history resent)",
        )
        ax.set_xlabel("turns in the battle")
        ax.set_ylabel("mean tokens")
        ax.legend()
        svg("What resending the history costs", fig)
    else:
        figs.append(
            '<p class="note">What resending the history costs: not drawn, because every battle '
            "here has one turn (nothing to resend: full-state input equals plain input).</p>"
        )

    if models:
        svg("Ratings with 95% intervals: plain and style-controlled", ratings_figure(report))
    if len(models) > 1:
        svg(
            "Pairs: observed score minus the score Bradley-Terry predicts (row model against "
            "column model)",
            pairwise_figure(report),
            wide=True,
        )
    if len(models) < 2:
        figs.append(
            f'<p class="note">The rating and pair plots are not drawn: {len(models)} model(s) '
            f"have {PLOT_MIN_BATTLES} rated battles or more. The tables give every rating.</p>"
        )
    svg("Style control: each feature's coefficient with its 95% interval", style_figure(report))

    bias = report["length_bias"]
    fig, ax = figure(7, 3.5)
    xs = np.arange(len(bias))
    rated = [r for r in bias if r["longer_won_rate"] is not None]
    ax.bar(
        [x for x, r in zip(xs, bias, strict=True) if r["longer_won_rate"] is not None],
        [r["longer_won_rate"] for r in rated],
    )
    for x, r in zip(xs, bias, strict=True):
        rate = r["longer_won_rate"]
        label = f"n={r['decisive']:,}" if rate is not None else "no decisive\nvotes"
        ax.annotate(
            label, (x, (rate or 0) + 0.02), ha="center", va="bottom", fontsize=8, color="#333"
        )
    ax.set_xticks(xs, [r["token_difference"] for r in bias], fontsize=9)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.15)
    ax.set_xlabel("|tokens_a - tokens_b| (n: decisive votes in the bin)")
    ax.set_ylabel("longer answer won")
    svg("Length bias", fig)
    return figs


def plotted_models(report: dict[str, Any]) -> list[str]:
    """The models the plots show, best rated first: those with at least PLOT_MIN_BATTLES rated
    battles (the others are rough, and would stretch every axis)."""
    return [m["model"] for m in report["ratings"]["models"] if m["battles"] >= PLOT_MIN_BATTLES]


def model_grid(models: Sequence[str], cells: Sequence[tuple[str, str, float]]) -> Any:
    """A models x models array of the (row model, column model, value) cells, summed where a
    cell comes twice; NaN where none comes (a blank in a heatmap); cells of other models left
    out."""
    index = {m: k for k, m in enumerate(models)}
    grid = np.full((len(models), len(models)), np.nan)
    for a, b, value in cells:
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None:
            grid[i, j] = np.nan_to_num(grid[i, j]) + value
    return grid


def heatmap_axes(n: int) -> tuple[Any, Any]:
    """A square heatmap for n models, large enough for 9-point model names."""
    size = max(4.0, 0.3 * n + 2.5)
    return figure(size + 1.5, size)


def model_ticks(ax: Any, models: Sequence[str]) -> None:
    """Model names on both axes of a heatmap, in the same order: left to right, top down."""
    ticks = np.arange(len(models)) + 0.5
    ax.set_xticks(ticks, models, rotation=90, fontsize=9)
    ax.set_yticks(ticks, models, fontsize=9)
    ax.invert_yaxis()


def pairs_figure(report: dict[str, Any]) -> Any:
    """A heatmap of the battles of every ordered pair of plotted models, on a log scale (a
    linear one makes most pairs one dark block), rows and columns in the rating order."""
    from matplotlib.colors import LogNorm

    models = plotted_models(report)
    grid = model_grid(
        models,
        [(p["model_a"], p["model_b"], p["battles"]) for p in report["counts"]["pair_counts"]],
    )
    fig, ax = heatmap_axes(len(models))
    top = max(2.0, float(np.nanmax(grid)) if np.isfinite(grid).any() else 2.0)
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="viridis", norm=LogNorm(vmin=1, vmax=top))
    model_ticks(ax, models)
    ax.set_xlabel("model_b")
    ax.set_ylabel("model_a")
    fig.colorbar(mesh, ax=ax, label="battles (log scale; blank: never met)")
    return fig


def ratings_figure(report: dict[str, Any]) -> Any:
    """Each plotted model's Bradley-Terry and style-controlled rating with its interval, one
    row per model, best first."""
    shown = set(plotted_models(report))
    table = [m for m in report["ratings"]["models"] if m["model"] in shown]
    fig, ax = figure(8, max(3.0, 0.32 * len(table) + 1.2))
    ys = np.arange(len(table))[::-1].astype(float)
    for name, label, shift, fmt in (
        ("bradley_terry", "Bradley-Terry", 0.15, "o"),
        ("style_controlled", "style-controlled", -0.15, "s"),
    ):
        x = np.array([r[name] for r in table])
        if all(f"{name}_ci95" in r for r in table):
            bars = error_bars(x.tolist(), [r[f"{name}_ci95"] for r in table])
            ax.errorbar(x, ys + shift, xerr=bars, fmt=fmt, capsize=2, label=label)
        else:
            ax.plot(x, ys + shift, fmt, label=label)
    ax.set_yticks(ys, [r["model"] for r in table], fontsize=9)
    ax.set_xlabel("rating (Elo scale)")
    ax.legend(fontsize=9)
    return fig


def pairwise_figure(report: dict[str, Any]) -> Any:
    """A heatmap of observed minus predicted score for every pair that met (blank: never
    met)."""
    models = plotted_models(report)
    pairs = report["ratings"]["pairwise"]
    grid = model_grid(
        models,
        [(p["model"], p["opponent"], p["difference"]) for p in pairs]
        + [(p["opponent"], p["model"], -p["difference"]) for p in pairs],
    )
    fig, ax = heatmap_axes(len(models))
    top = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-top, vmax=top)
    model_ticks(ax, models)
    fig.colorbar(mesh, ax=ax, label="observed - predicted score of the row model")
    return fig


def style_figure(report: dict[str, Any]) -> Any:
    """The style features' coefficients (log-odds per standard deviation) with intervals."""
    coef = report["ratings"]["coefficients"]["style_controlled"]
    names = list(coef)
    est = np.array([coef[n]["estimate"] for n in names])
    fig, ax = figure(7, 2.8)
    ys = np.arange(len(names))[::-1]
    if all("ci95" in coef[n] for n in names):
        bars = error_bars(est.tolist(), [coef[n]["ci95"] for n in names])
        ax.errorbar(est, ys, xerr=bars, fmt="o", capsize=3)
    else:
        ax.plot(est, ys, "o")
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(ys, names, fontsize=9)
    ax.set_xlabel("change in the log-odds of A winning per sd of (a - b) / (a + b + 1)")
    return fig


def filters_text(f: dict[str, Any]) -> str:
    """What the filters left, in a sentence."""
    parts = []
    if f["anony_only"]:
        parts.append("anonymous battles only")
    if f["excluded_models"]:
        parts.append("without " + ", ".join(f["excluded_models"]))
    if f["min_battles"]:
        parts.append(f"models with at least {f['min_battles']} battles")
    which = "; ".join(parts) or "no filters"
    return f"Rated: {f['battles_after']:,} of {f['battles_before']:,} battles ({which})."


def leaderboard_html(board: dict[str, Any]) -> str:
    """One leaderboard as a table: each rating with its interval and rank."""
    return html_table(
        board["models"],
        [
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
        ],
    )


def slices_html(slices: dict[str, Any] | None) -> list[str]:
    """A leaderboard per slice; slices with too few battles named, with their count."""
    if not slices:
        return []
    out = [
        f"<h2>Leaderboards by {html.escape(slices['by'])}</h2>",
        html_table(
            [
                {
                    "slice": x["slice"],
                    "battles": x["battles"],
                    "rated": "no: too few battles" if x.get("too_few_battles") else "yes",
                }
                for x in slices["slices"]
            ],
            ["slice", "battles", "rated"],
        ),
    ]
    for x in slices["slices"]:
        if not x.get("too_few_battles"):
            out.append(f"<h3>{html.escape(x['slice'])} ({x['battles']:,} battles)</h3>")
            out.append(leaderboard_html(x))
    return out


def render_html(report: dict[str, Any], c: Battles, *, run: str = "") -> str:
    """One self-contained page: inline CSS and SVG, no script, nothing fetched; `run`: the
    sha256 of the report.json written with it."""
    figs = report_plots(report, c)
    counts, tokens, rat = report["counts"], report["tokens"], report["ratings"]
    sections = [
        f"<p>{counts['battles']:,} battles, {counts['models']} models, "
        f"{counts['model_pairs']['ordered']} ordered / {counts['model_pairs']['unordered']} "
        f"unordered model pairs. Tokenizer: {html.escape(str(report['tokenizer']))}.</p>",
        *(f'<p class="note">{html.escape(x)}</p>' for x in report.get("caveats", [])),
        "<h2>The specification report's example figures against this dataset's (its first "
        "300 battles)</h2>",
        html_table(report["specification_report"], ["figure", "report", "ours", "why"]),
        "<h2>Sources and duplicates</h2>",
        html_table(
            report["sources"]["sources"],
            [
                "source",
                "name",
                "layout",
                "battles",
                "later_copies_within",
                "later_copies_of_other_sources",
            ],
        ),
        f"<p>Overlap ({html.escape(report['sources']['overlap_matrix_rule'])}):</p>",
        html_table(
            [
                {"first in": i, **{f"later in {j}": n for j, n in enumerate(row)}}
                for i, row in enumerate(report["sources"]["overlap_matrix"])
            ],
            ["first in", *(f"later in {j}" for j in range(len(report["sources"]["sources"])))],
        ),
        f"<p>Copies of one battle whose votes differ: {report['sources']['votes_differ']:,}.</p>",
        html_table(
            [
                {
                    "first copy": f"source {d['first']['source']} row {d['first']['row']}",
                    "its vote": d["first"]["winner"],
                    "later copy": f"source {d['later']['source']} row {d['later']['row']}",
                    "its vote ": d["later"]["winner"],
                    "key": d["key"],
                }
                for d in report["sources"]["votes_differ_list"][:50]
            ],
            ["first copy", "its vote", "later copy", "its vote ", "key"],
        ),
        "<h2>Votes</h2>",
        html_table(
            [{"winner": w, **d} for w, d in counts["winner_distribution"].items()],
            ["winner", "count", "share"],
        ),
        html_table(
            [
                {"wins": 0, "losses": 0, "tie": 0, "tie (bothbad)": 0, "both_bad": 0, "model": m}
                | d
                for m, d in counts["per_model"].items()
            ],
            ["model", "battles", "wins", "losses", "tie", "tie (bothbad)", "both_bad"],
        ),
        "<h2>Turns, languages, flags</h2>",
        html_table(
            [{"turns": t, "battles": k} for t, k in counts["turns_per_battle"].items()],
            ["turns", "battles"],
        ),
        html_table(
            [{"language": x, "battles": k} for x, k in counts["languages_top20"].items()],
            ["language", "battles"],
        ),
        html_table(
            [{"flag": f, "rate": r} for f, r in counts["flagged"].items()], ["flag", "rate"]
        ),
        "<h2>Tokens</h2>",
        html_table(
            [{"what": k, **v} for k, v in tokens.items() if isinstance(v, dict) and "n" in v],
            ["what", "n", "mean", "p5", "p25", "median", "p75", "p95", "max"],
        ),
        html_table(
            [{"turns": t, **v} for t, v in tokens["full_state_vs_plain_input_by_turns"].items()],
            [
                "turns",
                "battles",
                "mean_plain_input",
                "mean_full_state_input",
                "full_state_over_plain",
            ],
        ),
        "<h2>Ratings</h2>",
        f"<p>{html.escape(filters_text(rat['filters']))} Bootstrap: "
        f"{html.escape(rat['method']['bootstrap'])}. Rank: {html.escape(rat['method']['rank'])}. "
        f"Online Elo: {html.escape(rat['method']['online_elo'])}.</p>",
        leaderboard_html(rat),
        f"<p>Style control ({html.escape(rat['method']['style_controlled'])}); coefficients: "
        f"{html.escape(rat['method']['coefficients'])}.</p>",
        html_table(
            [
                {"fit": fit, "feature": f, **x}
                for fit, features in rat["coefficients"].items()
                for f, x in features.items()
            ],
            ["fit", "feature", "estimate", "ci95"],
        ),
        "<h2>Pairs: observed against predicted</h2>",
        "<p>For every pair that met: the first model's observed score (wins plus half the "
        "ties, over battles) and the score the Bradley-Terry ratings predict; z is the "
        "difference in binomial standard errors. The 30 pairs the model fits worst:</p>",
        html_table(
            sorted(rat["pairwise"], key=lambda p: -abs(p["z"]))[:30],
            ["model", "opponent", "battles", "observed_score", "predicted_score", "z"],
        ),
        *slices_html(report.get("slices")),
        "<h2>Length bias</h2>",
        html_table(
            report["length_bias"],
            ["token_difference", "battles", "decisive", "ties", "longer_won_rate"],
        ),
        "<h2>Plots</h2>",
        *figs,
    ]
    return html_page(
        f"arenatok report: {report['dataset']}",
        "\n".join(sections),
        build=report["build"],
        run=run,
    )


def write_report(out: str | Path, **options: Any) -> dict[str, Any]:
    """Write report.json and report.html into `out` (atomically); return the report (its
    timings under keys that start with `_`, which the files leave out). `options`: those of
    `report.build_report`."""
    built = read_built(out)
    report = build_report(built, **options)
    data = dumps_pretty({k: v for k, v in report.items() if not k.startswith("_")}).encode()
    page = render_html(report, built.battles, run=hashlib.sha256(data).hexdigest())
    write_together(
        built.out,
        {REPORT_JSON: data, REPORT_HTML: page.encode("utf-8")},
        hint="make the directory writable, or copy the build elsewhere",
    )
    return report
