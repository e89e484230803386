"""bench.html, and the sentences that say the bench's answer (the terminal prints them too)."""

from __future__ import annotations

from typing import Any

from arenatok.bench.results import Bench, Pick
from arenatok.pages import error_bars, figure, html_page, html_table, plot
from arenatok.text import html, plot_label


def power_statement(bench: Bench) -> str:
    """What the test split can detect, or why it cannot tell, in a sentence."""
    power, metric = bench.power, bench.compared_on
    if power.cannot_tell is not None:
        return (
            f"With {power.test_votes:,} test votes the test cannot tell a difference from full: "
            f"{power.cannot_tell}."
        )
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
    cheapest that uses content, and the frontier; without verdicts, why, and the frontier."""
    answer, metric = bench.answer, bench.compared_on
    frontier = ", ".join(
        f"{r.strategy} ({r.bytes_per_side:,.0f} B, {r.score:.3f})" for r in answer.frontier
    )
    last = f"Cost-quality frontier (bytes a side, {metric}): {frontier or 'none'}."
    if answer.cannot_tell is not None:
        return [f"No verdicts: {answer.cannot_tell}.", last]
    kept = answer.cheapest_non_inferior_to_full
    if kept is not None and (kept.share_of_full_bytes or 0) >= 1:
        first = f"No strategy cheaper than full is non-inferior to it ({metric} {kept.score:.3f})."
    else:
        first = _cheapest(
            kept, "non-inferior to full", metric, "No strategy is non-inferior to full."
        )
    return [
        first,
        _cheapest(
            answer.cheapest_using_content, "that uses content", metric, "No strategy uses content."
        ),
        last,
    ]


MARKERS = "osD^vP*Xph<>"
"""Within a family, the smallest setting is drawn as a circle, the next as a square, ..."""


def family(strategy: str) -> str:
    """A strategy's family, what its colour says: its name without sizes or bits
    (`recurrent:16@4` is `recurrent`); every hybrid (`A+B`) is `hybrid`."""
    return "hybrid" if "+" in strategy else strategy.split(":")[0].split("@")[0]


def _setting(strategy: str) -> tuple[float, ...]:
    """A strategy's size, then its bits (16 where it names none), to order a family's members:
    `lowrank:64@2` comes before `lowrank:64`."""
    import re

    if "+" in strategy:  # a hybrid: its parts' numbers in order
        return tuple(float(x) for x in re.findall(r"\d+", strategy))
    size, _, bits = strategy.split(":", 1)[-1].partition("@")
    return (*(float(x) for x in re.findall(r"\d+", size)), float(bits or 16))


def series_styles(strategies: list[str]) -> dict[str, dict[str, Any]]:
    """Each strategy's colour (its family's: tab10, then tab20 beyond ten families) and
    marker (its place among its family's settings, smallest first)."""
    from matplotlib import colormaps

    families = list(dict.fromkeys(family(s) for s in strategies))
    palette = colormaps["tab10" if len(families) <= 10 else "tab20"]
    styles = {}
    for k, name in enumerate(families):
        members = sorted((s for s in strategies if family(s) == name), key=_setting)
        for i, s in enumerate(members):
            styles[s] = {"color": palette(k % palette.N), "marker": MARKERS[i % len(MARKERS)]}
    return styles


def cost_figure(bench: Bench) -> Any:
    """Cost against quality: each strategy at its own cost (bytes a side) with its interval,
    the frontier, the margin band under full and the references; the legend names families."""
    from matplotlib.lines import Line2D

    metric = bench.compared_on
    results = bench.results
    fig, ax = figure(8, 4.8)
    strategies = [r for r in results if r.bytes_per_side is not None]
    styles = series_styles([r.strategy for r in strategies])
    for r in strategies:
        ax.errorbar(
            max(r.bytes_per_side or 0, 1),  # each point at its own cost
            r.score,
            yerr=error_bars([r.score], [r.score_ci95]) if r.score_ci95 else None,
            fmt=styles[r.strategy]["marker"],
            color=styles[r.strategy]["color"],
            alpha=0.85,
            capsize=3,
        )
    frontier = bench.answer.frontier
    if frontier:
        ax.plot(
            [max(r.bytes_per_side, 1) for r in frontier],
            [r.score for r in frontier],
            "k-",
            linewidth=1,
        )
    full = next((r for r in results if r.strategy == "full"), None)
    margin = None
    if full is not None:
        m = bench.margin
        lo, hi = (full.score - m, full.score) if metric == "auc" else (full.score, full.score + m)
        margin = ax.axhspan(lo, hi, color="green", alpha=0.1)
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
    colours = {family(r.strategy): styles[r.strategy]["color"] for r in strategies}
    handles: list[Any] = [
        Line2D([], [], linestyle="", marker="o", color=colour) for colour in colours.values()
    ]
    labels = [plot_label(name) for name in colours]
    if frontier:
        handles.append(Line2D([], [], color="k", linewidth=1))
        labels.append("frontier")
    if margin is not None:
        handles.append(margin)
        labels.append(f"within the margin of full ({bench.margin:g})")
    ax.set_xscale("log")
    ax.set_xlabel("bytes sent per side (mean)")
    ax.set_ylabel(f"{metric} on held-out votes (95% CI)")
    ax.legend(handles, labels, fontsize=8, ncol=4, loc="upper left", bbox_to_anchor=(0, -0.15))
    return fig


def _cost_plot(bench: Bench) -> str:
    return plot(
        "Cost against quality: colour = family of strategies, marker = its setting (circle the "
        "smallest, then square, diamond, triangle); dashed: references that see no content",
        cost_figure(bench),
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
    drawn = [r for r in bench.results if r.cost_by_turn is not None]
    styles = series_styles([r.strategy for r in drawn])
    for r in drawn:
        cost = r.cost_by_turn or []
        ax.plot(
            [c["turn"] for c in cost],
            [max(c["bytes"], 1) for c in cost],
            "-",
            **styles[r.strategy],
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
    answer = "".join(f"<p><b>{html(s)}</b></p>" for s in answer_sentences(bench))
    body = (
        answer
        + f"<p>{html(power_statement(bench))}</p>"
        + f"<p>{html(bench.predictor)}. Verdicts: non-inferior to full when "
        f"{html(bench.verdicts['non_inferior_to_full'])}; uses content when "
        f"{html(bench.verdicts['uses_content'])}.</p>"
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
