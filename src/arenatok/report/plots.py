"""The report's plots (matplotlib, the `report` extra): token distributions, ratings with
their intervals, the pairs and pairwise heatmaps, the style coefficients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arenatok.dataset.built import Battles
from arenatok.pages import error_bars, figure, plot
from arenatok.report.numbers import PLOT_MIN_BATTLES
from arenatok.report.results import Report
from arenatok.report.usage import prompt_tokens, response_tokens
from arenatok.text import plot_label


@dataclass
class Figures:
    """The report's plots by the section of the page that shows them (each a page section:
    a figure, or a note saying why a plot is not drawn)."""

    leaderboard: list[str] = field(default_factory=list)
    ratings: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    length_bias: list[str] = field(default_factory=list)


def report_plots(report: Report, c: Battles) -> Figures:
    """Each plot of the report. Needs matplotlib (the `report` extra)."""
    figs = Figures()
    models = plotted_models(report)
    if models:
        figs.leaderboard.append(
            plot(
                f"Ratings with 95% intervals: plain and style-controlled{shown_of(report)}",
                ratings_figure(report),
            )
        )
    if len(models) > 1:
        figs.ratings.append(
            plot(
                "Pairs: observed score minus the score Bradley-Terry predicts (row model "
                f"against column model{shown_of(report)})",
                pairwise_figure(report),
                wide=True,
            )
        )
        figs.pairs.append(
            plot(
                f"Battles per model pair (models ordered by rating, best first{shown_of(report)})",
                pairs_figure(report),
                wide=True,
            )
        )
    else:
        figs.leaderboard.append(
            f'<p class="note">The rating and pair plots are not drawn: {len(models)} model(s) '
            f"with a rating have {PLOT_MIN_BATTLES} rated battles or more. The tables give "
            "every rating.</p>"
        )
    if report.ratings.length_coefficient is not None:  # else no battle was fitted
        figs.ratings.append(
            plot(
                "Style control: each feature's coefficient with its 95% interval",
                style_figure(report),
            )
        )
    figs.tokens = _token_figures(report, c)
    figs.length_bias.append(plot("Length bias", _length_bias_figure(report)))
    return figs


def _token_figures(report: Report, c: Battles) -> list[str]:
    """Tokens per message by role, coordination overhead, what resending the history costs."""
    figs = []
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
    figs.append(plot("Tokens per message, by role", fig))

    fig, ax = figure(7, 3.5)
    ax.hist(c.overhead, bins=40, range=(0, 1))
    ax.set_xlabel("coordination_overhead = |out_b - out_a| / total")
    ax.set_ylabel("battles")
    figs.append(plot("Coordination overhead", fig))

    rows = report.tokens.full_state_vs_plain_input_by_turns
    if len(rows) > 1:
        fig, ax = figure(7, 3.5)
        turns = [int(t) for t in rows]
        ax.plot(turns, [rows[str(t)].mean_plain_input for t in turns], "o-", label="plain input")
        ax.plot(
            turns,
            [rows[str(t)].mean_full_state_input for t in turns],
            "s-",
            label="full-state input (history resent)",
        )
        ax.set_xlabel("turns in the battle")
        ax.set_ylabel("mean tokens")
        ax.legend()
        figs.append(plot("What resending the history costs", fig))
    else:
        figs.append(
            '<p class="note">What resending the history costs: not drawn, because every battle '
            "here has one turn (nothing to resend: full-state input equals plain input).</p>"
        )
    return figs


def _length_bias_figure(report: Report) -> Any:
    """How often the longer answer won, by bins of the token difference."""
    bias = report.length_bias
    fig, ax = figure(7, 3.5)
    xs = np.arange(len(bias))
    rated = [r for r in bias if r.longer_won_rate is not None]
    ax.bar(
        [x for x, r in zip(xs, bias, strict=True) if r.longer_won_rate is not None],
        [r.longer_won_rate for r in rated],
    )
    for x, r in zip(xs, bias, strict=True):
        rate = r.longer_won_rate
        label = f"n={r.decisive:,}" if rate is not None else "no decisive\nvotes"
        ax.annotate(
            label, (x, (rate or 0) + 0.02), ha="center", va="bottom", fontsize=8, color="#333"
        )
    ax.set_xticks(xs, [r.token_difference for r in bias], fontsize=9)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.15)
    ax.set_xlabel("|tokens_a - tokens_b| (n: decisive votes in the bin)")
    ax.set_ylabel("longer answer won")
    return fig


PLOT_MAX_MODELS = 60
"""The plots show at most this many models, the best rated: a heatmap of a thousand models is
unreadable (and made report.html 380 MB); the tables keep every model."""


def sound_models(report: Report) -> list[str]:
    """The models with a rating and at least PLOT_MIN_BATTLES rated battles, best rated first
    (the others are rough, and would stretch every axis)."""
    return [
        m.model
        for m in report.ratings.models
        if m.battles >= PLOT_MIN_BATTLES and m.bradley_terry is not None
    ]


def plotted_models(report: Report) -> list[str]:
    """The models the plots show: the PLOT_MAX_MODELS best rated of `sound_models`."""
    return sound_models(report)[:PLOT_MAX_MODELS]


def shown_of(report: Report) -> str:
    """What a caption adds when the plots leave sound models out: which ones they show."""
    sound = len(sound_models(report))
    return f" (the {PLOT_MAX_MODELS} best rated of {sound:,})" if sound > PLOT_MAX_MODELS else ""


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
    labels = [plot_label(m) for m in models]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=9)
    ax.set_yticks(ticks, labels, fontsize=9)
    ax.invert_yaxis()


def pairs_figure(report: Report) -> Any:
    """A heatmap of the battles of every ordered pair of plotted models, on a log scale (a
    linear one makes most pairs one dark block), rows and columns in the rating order."""
    from matplotlib.colors import LogNorm

    models = plotted_models(report)
    grid = model_grid(
        models,
        [(p.model_a, p.model_b, p.battles) for p in report.counts.pair_counts],
    )
    fig, ax = heatmap_axes(len(models))
    top = max(2.0, float(np.nanmax(grid)) if np.isfinite(grid).any() else 2.0)
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="viridis", norm=LogNorm(vmin=1, vmax=top))
    model_ticks(ax, models)
    ax.set_xlabel("model_b")
    ax.set_ylabel("model_a")
    fig.colorbar(mesh, ax=ax, label="battles (log scale; blank: never met)")
    return fig


def ratings_figure(report: Report) -> Any:
    """Each plotted model's Bradley-Terry and style-controlled rating with its interval, one
    row per model, best first."""
    shown = set(plotted_models(report))
    table = [m for m in report.ratings.models if m.model in shown]
    fig, ax = figure(8, max(3.0, 0.32 * len(table) + 1.2))
    ys = np.arange(len(table))[::-1].astype(float)
    for name, label, shift, fmt in (
        ("bradley_terry", "Bradley-Terry", 0.15, "o"),
        ("style_controlled", "style-controlled", -0.15, "s"),
    ):
        x = np.array([r.rating(name) for r in table])
        intervals = [r.interval(name) for r in table]
        if all(iv is not None for iv in intervals):
            bars = error_bars(x.tolist(), [iv for iv in intervals if iv is not None])
            ax.errorbar(x, ys + shift, xerr=bars, fmt=fmt, capsize=2, label=label)
        else:
            ax.plot(x, ys + shift, fmt, label=label)
    ax.set_yticks(ys, [plot_label(r.model) for r in table], fontsize=9)
    ax.set_xlabel("rating (Elo scale)")
    ax.legend(fontsize=9)
    return fig


def pairwise_figure(report: Report) -> Any:
    """A heatmap of observed minus predicted score for every pair that met (blank: never
    met)."""
    models = plotted_models(report)
    pairs = [(p.model, p.opponent, p.difference) for p in report.ratings.pairwise]
    grid = model_grid(
        models,
        [(x, y, d) for x, y, d in pairs if d is not None]
        + [(y, x, -d) for x, y, d in pairs if d is not None],
    )
    fig, ax = heatmap_axes(len(models))
    top = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-top, vmax=top)
    model_ticks(ax, models)
    fig.colorbar(mesh, ax=ax, label="observed - predicted score of the row model")
    return fig


def style_figure(report: Report) -> Any:
    """The style features' coefficients (log-odds per standard deviation) with intervals."""
    coef = report.ratings.coefficients["style_controlled"]
    names = list(coef)
    est = np.array([coef[n]["estimate"] for n in names])
    fig, ax = figure(7, 2.8)
    ys = np.arange(len(names))[::-1]
    cis = [ci for n in names if (ci := coef[n].get("ci95"))]
    if len(cis) == len(names):
        bars = error_bars(est.tolist(), cis)
        ax.errorbar(est, ys, xerr=bars, fmt="o", capsize=3)
    else:
        ax.plot(est, ys, "o")
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(ys, [plot_label(n) for n in names], fontsize=9)
    ax.set_xlabel("change in the log-odds of A winning per sd of (a - b) / (a + b + 1)")
    return fig
