"""The report as files: report.json and report.html (tables and plots from the numbers that
`report.build_report` computes; the plots need matplotlib, the `report` extra)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from arenatok.built import Battles, read_built
from arenatok.page import figure, html_page, html_table, plot
from arenatok.report import build_report, prompt_tokens, response_tokens
from arenatok.write import write_bytes, write_json

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


def report_plots(report: dict[str, Any], c: Battles) -> list[str]:
    """Each plot of the report as a page section. Needs matplotlib (the `report` extra)."""
    figs: list[str] = []

    def svg(title: str, fig: Any) -> None:
        figs.append(plot(title, fig))

    models = sorted(report["counts"]["per_model"])
    index = {m: k for k, m in enumerate(models)}
    grid = np.zeros((len(models), len(models)))
    for p in report["counts"]["pair_counts"]:
        grid[index[p["model_a"]], index[p["model_b"]]] += p["battles"]
    size = max(4.0, 0.28 * len(models) + 2)
    fig, ax = figure(size + 1, size)
    mesh = ax.pcolormesh(grid, cmap="viridis")
    ax.set_xticks(np.arange(len(models)) + 0.5, models, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(models)) + 0.5, models, fontsize=7)
    ax.set_xlabel("model_b")
    ax.set_ylabel("model_a")
    fig.colorbar(mesh, ax=ax, label="battles")
    svg("Battles per model pair", fig)

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

    table = report["ratings"]["models"]
    fig, ax = figure(7, max(3.0, 0.22 * len(table) + 1))
    ys = np.arange(len(table))[::-1]
    bt = [r["bradley_terry"] for r in table]
    if all("bt_ci95" in r for r in table):
        # With few bootstrap rounds a percentile interval may miss the estimate: draw to it.
        lo = [max(0.0, r["bradley_terry"] - r["bt_ci95"][0]) for r in table]
        hi = [max(0.0, r["bt_ci95"][1] - r["bradley_terry"]) for r in table]
        ax.errorbar(bt, ys, xerr=[lo, hi], fmt="o", capsize=2, label="Bradley-Terry, 95% CI")
    else:
        ax.plot(bt, ys, "o", label="Bradley-Terry")
    ax.plot([r["length_controlled"] for r in table], ys, "x", label="length-controlled")
    ax.set_yticks(ys, [r["model"] for r in table], fontsize=7)
    ax.set_xlabel("rating (Elo scale)")
    ax.legend(fontsize=7)
    svg("Ratings", fig)

    bias = [r for r in report["length_bias"] if r["longer_won_rate"] is not None]
    fig, ax = figure(7, 3.5)
    ax.bar([r["token_difference"] for r in bias], [r["longer_won_rate"] for r in bias])
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("|tokens_a - tokens_b|")
    ax.set_ylabel("longer answer won (decisive votes)")
    svg("Length bias", fig)
    return figs


def render_html(report: dict[str, Any], c: Battles) -> str:
    """One self-contained page: inline CSS and SVG, no script, nothing fetched."""
    figs = report_plots(report, c)
    counts, tokens, rat = report["counts"], report["tokens"], report["ratings"]
    sections = [
        f"<p>{counts['battles']:,} battles, {counts['models']} models, "
        f"{counts['model_pairs']['ordered']} ordered / {counts['model_pairs']['unordered']} "
        f"unordered model pairs. Tokenizer: {html.escape(str(report['tokenizer']))}.</p>",
        "<h2>Beside the specification report (first 300 battles)</h2>",
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
            [{"model": m, **d} for m, d in counts["per_model"].items()],
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
        f"<p>Length coefficient: {rat['length_coefficient']:.3f} "
        f"({html.escape(rat['length_coefficient_definition'])}). "
        f"Bootstrap: {html.escape(rat['method']['bootstrap'])}.</p>",
        html_table(
            rat["models"], ["model", "bradley_terry", "bt_ci95", "length_controlled", "online_elo"]
        ),
        "<h2>Length bias</h2>",
        html_table(
            report["length_bias"],
            ["token_difference", "battles", "decisive", "ties", "longer_won_rate"],
        ),
        "<h2>Plots</h2>",
        *figs,
    ]
    return html_page(
        f"arenatok report: {report['dataset']}", "\n".join(sections), build=report["build"]
    )


def write_report(out: str | Path, **options: Any) -> dict[str, Any]:
    """Write report.json and report.html into `out` (atomically); return the report (its
    timings under keys that start with `_`, which the files leave out). `options`: those of
    `report.build_report`."""
    built = read_built(out)
    report = build_report(built, **options)
    page = render_html(report, built.battles)
    write_json(built.out / REPORT_JSON, {k: v for k, v in report.items() if not k.startswith("_")})
    write_bytes(built.out / REPORT_HTML, page.encode("utf-8"))
    return report
