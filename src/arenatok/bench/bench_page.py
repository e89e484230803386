"""bench.html, and the sentences that say the bench's answer (the terminal prints them too)."""

from __future__ import annotations

import html
from typing import Any

from arenatok.bench.results import Bench, Pick
from arenatok.pages import error_bars, figure, html_page, html_table, plot
from arenatok.text import plot_label


def power_statement(bench: Bench) -> str:
    """What the test split can detect, in a sentence."""
    power, metric = bench.power, bench.compared_on
    if power.detectable_difference is None or power.votes_needed is None:
        return f"{power.test_votes:,} test votes (run full and another strategy for power)."
    need = power.votes_needed
    return (
        f"With {power.test_votes:,} test votes the smallest {metric} difference from full "
        f"this test detects (80% power, 5% level) is {power.detectable_difference:.3f}; "
        f"a difference of 0.01 would need {need['0.01']:,} test votes, 0.02 would need "
        f"{need['0.02']:,}."
    )


def _cheapest(found: Pick | None, what: str, metric: str, none: str) -> str:
    if found is None:
        return none
    share = found.share_of_full_bytes
    of_full = f", {share:.1%} of full's bytes" if share is not None else ""
    return (
        f"Cheapest {what}: {found.strategy} ({found.bytes_per_side:,.0f} bytes a side"
        f"{of_full}; {metric} {found.score:.3f})."
    )


def answer_sentences(bench: Bench) -> list[str]:
    """The answer in three sentences: the cheapest strategy non-inferior to full, the
    cheapest that uses content, and the frontier."""
    answer, metric = bench.answer, bench.compared_on
    kept = answer.cheapest_non_inferior_to_full
    if kept is not None and (kept.share_of_full_bytes or 0) >= 1:
        first = f"No strategy cheaper than full is non-inferior to it ({metric} {kept.score:.3f})."
    else:
        first = _cheapest(
            kept, "non-inferior to full", metric, "No strategy is non-inferior to full."
        )
    frontier = ", ".join(
        f"{r.strategy} ({r.bytes_per_side:,.0f} B, {r.score:.3f})" for r in answer.frontier
    )
    return [
        first,
        _cheapest(
            answer.cheapest_using_content, "that uses content", metric, "No strategy uses content."
        ),
        f"Cost-quality frontier (bytes a side, {metric}): {frontier or 'none'}.",
    ]


MARKERS = "osD^vP*Xph<>"


def series_style(k: int) -> dict[str, Any]:
    """The k-th series' colour and marker: 20 colours (tab20) times 11 markers, so that no two
    of up to 220 strategies look alike."""
    from matplotlib import colormaps

    return {"color": colormaps["tab20"](k % 20), "marker": MARKERS[(k // 2) % len(MARKERS)]}


def dodged(xs: list[float], spread: float = 0.06) -> list[float]:
    """Costs (on a log axis) moved apart where points would cover each other: each point
    within `spread` (in log10 units) of an earlier one moves right by `spread` per such point."""
    import math

    out: list[float] = []
    for x in xs:
        near = sum(1 for y in xs[: len(out)] if abs(math.log10(x) - math.log10(y)) < spread)
        out.append(x * 10 ** (spread * near))
    return out


def _cost_plot(bench: Bench) -> str:
    metric = bench.compared_on
    results = bench.results
    fig, ax = figure(8, 4.8)
    strategies = [(r, r.bytes_per_side) for r in results if r.bytes_per_side is not None]
    xs = dodged([max(cost, 1) for _, cost in strategies])
    for k, (x, (r, _)) in enumerate(zip(xs, strategies, strict=True)):
        ax.errorbar(
            x,
            r.score,
            yerr=error_bars([r.score], [r.score_ci95]),
            fmt=series_style(k)["marker"],
            color=series_style(k)["color"],
            capsize=3,
            label=plot_label(r.strategy),
        )
    frontier = bench.answer.frontier
    if frontier:
        ax.plot(
            [max(r.bytes_per_side, 1) for r in frontier],
            [r.score for r in frontier],
            "k-",
            linewidth=1,
            label="frontier",
        )
    full = next((r for r in results if r.strategy == "full"), None)
    if full is not None:
        m = bench.margin
        lo, hi = (full.score - m, full.score) if metric == "auc" else (full.score, full.score + m)
        ax.axhspan(lo, hi, color="green", alpha=0.1, label=f"within the margin of full ({m:g})")
    for r in results:
        if r.is_reference:
            ax.axhline(r.score, linestyle="--", linewidth=1, color="grey")
            ax.annotate(
                plot_label(r.strategy.removeprefix("reference: ")),
                (1.0, r.score),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="#555",
            )
    ax.set_xscale("log")
    ax.set_xlabel("bytes sent per side (mean)")
    ax.set_ylabel(f"{metric} on held-out votes (95% CI)")
    ax.legend(fontsize=8, ncol=3, loc="upper left", bbox_to_anchor=(0, -0.15))
    return plot(
        "Cost against quality (dashed: references that see no content; points at the same "
        "cost are spread sideways a little)",
        fig,
    )


def _turn_plot(bench: Bench) -> str:
    full_state = bench.cost_by_turn_full_state
    if len(full_state) < 2:
        return '<p class="note">Cost by turn: not drawn, every battle here has one turn.</p>'
    fig, ax = figure(8, 4.5)
    ax.plot(
        [c["turn"] for c in full_state],
        [max(c["bytes"], 1) for c in full_state],
        "k--",
        label="full-state resend (history each turn)",
    )
    for k, r in enumerate(r for r in bench.results if r.cost_by_turn is not None):
        cost = r.cost_by_turn or []
        ax.plot(
            [c["turn"] for c in cost],
            [max(c["bytes"], 1) for c in cost],
            "-",
            **series_style(k),
            label=plot_label(r.strategy),
        )
    ax.set_yscale("log")
    ax.set_xlabel("turn")
    ax.set_ylabel("bytes sent by this turn, per side (mean)")
    ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.02, 1))
    return plot("Cost by turn: what a side has sent by each turn", fig)


def render_html(bench: Bench, *, run: str = "") -> str:
    """The answer, the cost against quality plot, the cost by turn plot (inline SVG) and the
    tables, as one offline page; `run`: the sha256 of the bench.json written with it."""
    metric = bench.compared_on
    columns = [
        "strategy",
        "bytes_per_side",
        "tokens_per_side",
        metric,
        f"{metric}_ci95",
        f"{metric}_minus_full_ci95",
        "non_inferior_to_full",
        f"{metric}_minus_length_only_ci95",
        "uses_content",
    ]
    power = bench.power
    answer = "".join(f"<p><b>{html.escape(s)}</b></p>" for s in answer_sentences(bench))
    body = (
        answer
        + f"<p>{html.escape(power_statement(bench))}</p>"
        + f"<p>{html.escape(bench.predictor)}. Verdicts: non-inferior to full when "
        f"{html.escape(bench.verdicts['non_inferior_to_full'])}; uses content when "
        f"{html.escape(bench.verdicts['uses_content'])}.</p>"
        + _cost_plot(bench)
        + _turn_plot(bench)
        + '<div style="overflow-x:auto">'
        + html_table(bench.results, columns)
        + "</div><h2>Quality by number of turns</h2>"
        + html_table(
            [
                {"strategy": r.strategy, "turns": t, **v}
                for r in bench.results
                for t, v in r.by_turns.items()
            ],
            ["strategy", "turns", "votes", metric],
        )
        + "<h2>Power</h2>"
        + html_table(
            [
                {"difference": d, "test votes needed": v}
                for d, v in (power.votes_needed or {}).items()
            ],
            ["difference", "test votes needed"],
        )
    )
    return html_page("arenatok bench", body, build=bench.build, run=run)
