"""Self-contained HTML pages for the analyses (report, bench): inline CSS and SVG, no script,
nothing fetched, so a page opens offline. Plots are matplotlib figures made without pyplot,
so the caller's matplotlib backend and settings are left alone."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

from arenatok.errors import MissingExtraError

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.n{text-align:right}"
    "figure.plot{margin:2em 0}figure.plot svg{max-width:100%;height:auto}"
)


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A new matplotlib figure and its axes (needs the `report` or `bench` extra)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError("plotting", "report", "matplotlib") from None
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def error_bars(values: Sequence[float], intervals: Sequence[Sequence[float]]) -> list[list[float]]:
    """matplotlib's [below, above] error bars for estimates and their (low, high) intervals.
    With few bootstrap rounds a percentile interval may miss its estimate: the bar then stops
    at the estimate (0), not past it."""
    return [
        [max(0.0, v - iv[0]) for v, iv in zip(values, intervals, strict=True)],
        [max(0.0, iv[1] - v) for v, iv in zip(values, intervals, strict=True)],
    ]


def svg_of(fig: Any) -> str:
    """A figure as inline SVG: no date and fixed ids, so the same figure gives the same bytes."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "arenatok"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def plot(title: str, fig: Any) -> str:
    """A figure with its caption, as a page section."""
    return (
        f'<figure class="plot"><figcaption>{html.escape(title)}</figcaption>{svg_of(fig)}</figure>'
    )


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


def html_page(title: str, body: str, *, build: str, run: str = "") -> str:
    """One self-contained page; `build` (the sha256 of the data_out.jsonl it was made from)
    and `run` (the sha256 of the JSON file written with it) go into meta tags, so that a stale
    page, or one of another run than its JSON file, can be told."""
    title = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="arenatok-build" content="{html.escape(build)}">'
        + (f'<meta name="arenatok-run" content="{html.escape(run)}">' if run else "")
        + f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1>{body}</body></html>\n"
    )
