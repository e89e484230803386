"""`arenatok report`: the numbers people look at before they trust the data, as report.json
(every number), a self-contained report.html (plots inline, no network) and a terminal table.

The statistics are pure functions of the columns read from data_out.jsonl; plotting (matplotlib,
the `report` extra) and HTML are kept at the end.
"""

from __future__ import annotations

import html
import importlib.metadata
import io
import itertools
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arenatok import ratings
from arenatok.errors import ArenatokError, SourceError
from arenatok.load import read_built
from arenatok.write import JSONL, METADATA, write_bytes, write_json

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"

SPEC_SAMPLE = 300
"""The specification report (dataset_report.md) describes the first 300 battles."""

LENGTH_BINS = (0, 10, 50, 100, 200, 400, 800)
"""Bins of |tokens_a - tokens_b| for the length-bias table (the last one is open)."""


@dataclass
class Columns:
    """One entry per battle (source order), read from data_out.jsonl."""

    model_a: list[str] = field(default_factory=list)
    model_b: list[str] = field(default_factory=list)
    winner: list[str] = field(default_factory=list)
    language: list[str | None] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)
    input_tokens: list[int] = field(default_factory=list)
    output_a: list[int] = field(default_factory=list)
    output_b: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    full_state: list[float] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    """Per user message (not per battle)."""
    response_tokens: dict[str, list[int]] = field(default_factory=dict)
    """Per answer, by model."""
    moderation_flagged: int = 0
    toxic_flagged: int = 0
    quality_flags: Counter[str] = field(default_factory=Counter)

    @classmethod
    def read(cls, out: Path) -> Columns:
        c = cls()
        read_built(out, c._add)
        if not c.winner:
            raise SourceError(f"{out / JSONL}: no battles to report on")
        return c

    def _add(self, r: dict[str, Any]) -> None:
        ctx = r["context"]
        usage = ctx["token_usage"]
        turns = usage["turns"]
        self.model_a.append(ctx["model_a"])
        self.model_b.append(ctx["model_b"])
        self.winner.append(ctx["winner"])
        self.language.append(ctx["api_metadata"]["language"])
        self.turns.append(len(turns))
        self.input_tokens.append(usage["total_input_tokens"])
        self.output_a.append(usage["total_output_tokens_a"])
        self.output_b.append(usage["total_output_tokens_b"])
        self.total.append(usage["total_tokens"])
        self.overhead.append(usage["communication_efficiency"]["coordination_overhead"])
        fs = usage["full_state"]
        self.full_state.append(
            (fs["full_state_input_tokens_a"] + fs["full_state_input_tokens_b"]) / 2
        )
        self.prompt_tokens.extend(t["input_tokens"] for t in turns)
        for model, key in (
            (ctx["model_a"], "response_a_tokens"),
            (ctx["model_b"], "response_b_tokens"),
        ):
            self.response_tokens.setdefault(model, []).extend(t[key] for t in turns)
        self.moderation_flagged += bool(ctx["flags"]["openai_moderation_flagged"])
        self.toxic_flagged += bool(ctx["flags"]["toxic_chat_flagged"])
        self.quality_flags.update(ctx["quality_flags"])

    def head(self, n: int) -> Columns:
        """The first n battles (per-battle columns only)."""
        return Columns(
            self.model_a[:n],
            self.model_b[:n],
            self.winner[:n],
            self.language[:n],
            self.turns[:n],
            self.input_tokens[:n],
            self.output_a[:n],
            self.output_b[:n],
            self.total[:n],
            self.overhead[:n],
            self.full_state[:n],
        )


# ---- statistics (pure) ------------------------------------------------------------------------


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


def counts_section(c: Columns) -> dict[str, Any]:
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
            "openai_moderation": c.moderation_flagged / n,
            "toxic_chat": c.toxic_flagged / n,
            **{f"quality:{f}": k / n for f, k in sorted(c.quality_flags.items())},
        },
    }


def tokens_section(c: Columns) -> dict[str, Any]:
    by_turns: dict[int, list[int]] = {}
    for i, t in enumerate(c.turns):
        by_turns.setdefault(t, []).append(i)
    inp, fs = np.asarray(c.input_tokens, dtype=float), np.asarray(c.full_state)
    return {
        "prompt_tokens_per_message": quantiles(c.prompt_tokens),
        "response_tokens_per_message": quantiles(
            [x for v in c.response_tokens.values() for x in v]
        ),
        "response_tokens_by_model": {m: quantiles(v) for m, v in sorted(c.response_tokens.items())},
        "histograms": {
            "prompt_tokens_per_message": histogram(c.prompt_tokens),
            "response_tokens_per_message": histogram(
                [x for v in c.response_tokens.values() for x in v]
            ),
            "response_tokens_by_model": {
                m: histogram(v) for m, v in sorted(c.response_tokens.items())
            },
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


def length_bias(c: Columns, bins: Sequence[int] = LENGTH_BINS) -> list[dict[str, Any]]:
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


def ratings_section(c: Columns, *, rounds: int, seed: int) -> dict[str, Any]:
    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    started = time.perf_counter()
    boot = ratings.bt_bootstrap(cells, rounds=rounds, seed=seed) if rounds else None
    seconds = time.perf_counter() - started  # reported on the terminal, not in the files
    bt = ratings.bt_ratings(cells)
    elo = ratings.online_elo(c.model_a, c.model_b, scores)
    lc = ratings.length_controlled(c.model_a, c.model_b, scores, c.output_a, c.output_b)
    table = []
    for k, m in enumerate(cells.models):
        row: dict[str, Any] = {
            "model": m,
            "bradley_terry": bt[m],
            "online_elo": elo[m],
            "length_controlled": lc["ratings"][m],
        }
        if boot is not None:
            lo, hi = np.percentile(boot[:, k], [2.5, 97.5])
            row["bt_ci95"] = [float(lo), float(hi)]
        table.append(row)
    table.sort(key=lambda r: (-r["bradley_terry"], r["model"]))
    return {
        "method": {
            "scores": "model_a 1, model_b 0, every kind of tie 0.5 (half a win each way)",
            "online_elo": "K=4, base 10, scale 400, initial 1000, battles in source order",
            "bradley_terry": "maximum likelihood, Elo scale (400 per factor 10 of odds), mean 1000",
            "bootstrap": f"{rounds} rounds, seed {seed}: each a multinomial draw of the battles "
            "over the (model_a, model_b, outcome) cells, which is what resampling battles with "
            "replacement does to Bradley-Terry; 95% percentile intervals",
        },
        "_bootstrap_seconds": seconds,
        "length_coefficient": lc["length_coefficient"],
        "length_coefficient_definition": lc["length_coefficient_definition"],
        "models": table,
    }


def spec_comparison(c: Columns, meta: dict[str, Any]) -> list[dict[str, Any]]:
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


def build_report(out: Path, *, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every number of the report, from a directory written by `arenatok build`."""
    try:
        meta = json.loads((out / METADATA).read_bytes())
    except (OSError, ValueError):
        meta = {}
    c = Columns.read(out)
    return {
        "arenatok_version": importlib.metadata.version("arenatok"),
        "dataset": meta.get("dataset"),
        "source": meta.get("source"),
        "tokenizer": meta.get("tokenizer", {}).get("name"),
        "counts": counts_section(c),
        "tokens": tokens_section(c),
        "ratings": ratings_section(c, rounds=rounds, seed=seed),
        "length_bias": length_bias(c),
        "source_token_agreement": meta.get("source_token_agreement"),
        "specification_report": spec_comparison(c, meta),
        "_columns": c,
    }


# ---- output: plots, HTML, files ------------------------------------------------------------------


def pyplot() -> Any:
    """matplotlib's pyplot, set up for reproducible SVG; a clear error without the extra."""
    try:
        import matplotlib as mpl
    except ImportError:
        raise ArenatokError(
            "this needs matplotlib, which is not installed",
            hint="pip install 'arenatok[report]'",
        ) from None
    mpl.use("Agg")
    mpl.rcParams["svg.hashsalt"] = "arenatok"  # same input, same SVG ids
    import matplotlib.pyplot as plt

    return plt


def svg_of(fig: Any) -> str:
    """A figure as inline SVG (no date, so the same figure gives the same bytes); closes it."""
    plt = pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _figures(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, inline SVG) for each plot. Needs matplotlib (the `report` extra)."""
    plt = pyplot()
    c: Columns = report["_columns"]
    figs: list[tuple[str, str]] = []

    def svg(title: str, fig: Any) -> None:
        figs.append((title, svg_of(fig)))

    models = sorted(report["counts"]["per_model"])
    index = {m: k for k, m in enumerate(models)}
    grid = np.zeros((len(models), len(models)))
    for p in report["counts"]["pair_counts"]:
        grid[index[p["model_a"]], index[p["model_b"]]] += p["battles"]
    size = max(4.0, 0.28 * len(models) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    mesh = ax.pcolormesh(grid, cmap="viridis")
    ax.set_xticks(np.arange(len(models)) + 0.5, models, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(models)) + 0.5, models, fontsize=7)
    ax.set_xlabel("model_b")
    ax.set_ylabel("model_a")
    fig.colorbar(mesh, ax=ax, label="battles")
    svg("Battles per model pair", fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = sorted({int(x) for x in np.geomspace(1, max(2, max(c.total)) + 1, 40)})
    ax.hist(
        [c.prompt_tokens, [x for v in c.response_tokens.values() for x in v]],
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

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(c.overhead, bins=40, range=(0, 1))
    ax.set_xlabel("coordination_overhead = |out_b - out_a| / total")
    ax.set_ylabel("battles")
    svg("Coordination overhead", fig)

    rows = report["tokens"]["full_state_vs_plain_input_by_turns"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
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
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.22 * len(table) + 1)))
    ys = np.arange(len(table))[::-1]
    bt = [r["bradley_terry"] for r in table]
    if all("bt_ci95" in r for r in table):
        lo = [r["bradley_terry"] - r["bt_ci95"][0] for r in table]
        hi = [r["bt_ci95"][1] - r["bradley_terry"] for r in table]
        ax.errorbar(bt, ys, xerr=[lo, hi], fmt="o", capsize=2, label="Bradley-Terry, 95% CI")
    else:
        ax.plot(bt, ys, "o", label="Bradley-Terry")
    ax.plot([r["length_controlled"] for r in table], ys, "x", label="length-controlled")
    ax.set_yticks(ys, [r["model"] for r in table], fontsize=7)
    ax.set_xlabel("rating (Elo scale)")
    ax.legend(fontsize=7)
    svg("Ratings", fig)

    bias = [r for r in report["length_bias"] if r["longer_won_rate"] is not None]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar([r["token_difference"] for r in bias], [r["longer_won_rate"] for r in bias])
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("|tokens_a - tokens_b|")
    ax.set_ylabel("longer answer won (decisive votes)")
    svg("Length bias", fig)
    return figs


def html_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """An HTML table of `rows` (dicts) in `columns`; numbers right-aligned."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, list):
            return " – ".join(cell(x) for x in v)
        return html.escape("" if v is None else str(v))

    def td(v: Any) -> str:
        numeric = isinstance(v, int | float | list) and not isinstance(v, bool)
        return f'<td class="n">{cell(v)}</td>' if numeric else f"<td>{cell(v)}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(td(r.get(c, "")) for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    """One self-contained page: inline CSS and SVG, no script, nothing fetched."""
    figs = _figures(report)
    counts, tokens, rat = report["counts"], report["tokens"], report["ratings"]
    sections = [
        f"<p>{counts['battles']:,} battles, {counts['models']} models, "
        f"{counts['model_pairs']['ordered']} ordered / {counts['model_pairs']['unordered']} "
        f"unordered model pairs. Tokenizer: {html.escape(str(report['tokenizer']))}.</p>",
        "<h2>Beside the specification report (first 300 battles)</h2>",
        html_table(report["specification_report"], ["figure", "report", "ours", "why"]),
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
        *(
            f'<figure class="plot"><figcaption>{html.escape(t)}</figcaption>{s}</figure>'
            for t, s in figs
        ),
    ]
    return html_page(f"arenatok report: {report['dataset']}", "\n".join(sections))


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.n{text-align:right}"
    "figure.plot{margin:2em 0}figure.plot svg{max-width:100%;height:auto}"
)


def html_page(title: str, body: str) -> str:
    """One self-contained page: inline CSS, no script, nothing fetched."""
    title = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1>{body}</body></html>\n"
    )


def _public(value: Any) -> Any:
    """The report without its private parts (keys starting with _: columns, timings)."""
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    return value


def write_report(out: str | Path, *, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Write report.json and report.html into `out` (atomically); return the report."""
    out = Path(out)
    report = build_report(out, rounds=rounds, seed=seed)
    page = render_html(report)
    public = _public(report)
    write_json(out / REPORT_JSON, public)
    write_bytes(out / REPORT_HTML, page.encode("utf-8"))
    return report
