"""Self-contained HTML pages for the analyses (report, bench): inline CSS and SVG, no script,
nothing fetched, so a page opens offline. Plots are matplotlib figures made without pyplot,
so the caller's matplotlib backend and settings are left alone."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

from arenatok.sections import Section
from arenatok.text import html

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222}"
    "div.table{overflow-x:auto;max-width:100%;margin:1em 0}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3;font-weight:600}th[title]{cursor:help}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.w{white-space:nowrap}"
    "p.note{background:#fff6e0;border-left:4px solid #e0a000;padding:6px 10px}"
    "figure.plot{margin:2em 0;overflow-x:auto}figure.plot svg{max-width:100%;height:auto}"
    "figure.wide svg{max-width:none}"
)

LABELS = {
    "bradley_terry": "Bradley-Terry",
    "online_elo": "online Elo",
    "ci95": "95% interval",
    "p5": "5th pct",
    "p25": "25th pct",
    "p75": "75th pct",
    "p95": "95th pct",
    "auc": "AUC",
    "tie (bothbad)": "tie (both bad)",
}
"""Words of field names said the way a reader says them (see `header`)."""


def header(field: str) -> str:
    """A column's header for people: `bradley_terry_ci95` -> "Bradley-Terry 95% interval"."""
    if field in LABELS:
        return LABELS[field]
    for name, said in LABELS.items():
        field = field.replace(name, said)
    return field.replace("_", " ")


def _decimals(values: Sequence[Any]) -> int:
    """Decimals for a column of numbers: 1 from 100 up, 2 from 10, else 3."""
    floats = [
        abs(x)
        for v in values
        for x in (v if isinstance(v, list) else [v])
        if isinstance(x, float) and x == x and abs(x) != float("inf")
    ]
    top = max(floats, default=0.0)
    return 1 if top >= 100 else 2 if top >= 10 else 3


def figure(width: float, height: float) -> tuple[Any, Any]:
    """A new matplotlib figure and its axes (the `report` and `bench` extras bring matplotlib;
    each package checks its extra first: `errors.need_extra`)."""
    from matplotlib.figure import Figure

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
    with mpl.rc_context({"svg.hashsalt": "arenatok"}), warnings.catch_warnings():
        # A name in a script the font lacks is drawn as boxes: no warning for each glyph.
        warnings.filterwarnings("ignore", "Glyph .* missing from", UserWarning)
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def plot(title: str, fig: Any, *, wide: bool = False) -> str:
    """A figure with its caption, as a page section; a `wide` one (a heatmap of many models)
    keeps its size and scrolls sideways in its box rather than shrink its labels."""
    kind = "plot wide" if wide else "plot"
    return f'<figure class="{kind}"><figcaption>{html(title)}</figcaption>{svg_of(fig)}</figure>'


def html_table(rows: Sequence[Any], columns: Sequence[str], *, whole: Sequence[str] = ()) -> str:
    """An HTML table of `rows` (dicts, or sections: their JSON keys) in `columns`, in a box
    that scrolls sideways when it is wider than the page: headers for people (the field name
    in the tooltip), numbers right-aligned with thousands separators and the same decimals
    down a column, yes/no; the texts of the columns `whole` (names) never wrap."""
    rows = [r.to_json() if isinstance(r, Section) else r for r in rows]
    decimals = {c: _decimals([r.get(c) for r in rows]) for c in columns}

    def cell(v: Any, d: int) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return "–" if v != v else f"{v:,.{d}f}"
        if isinstance(v, list):
            return " to ".join(cell(x, d) for x in v)
        return html("" if v is None else v)

    def td(v: Any, d: int, c: str) -> str:
        numeric = isinstance(v, int | float | list) and not isinstance(v, bool)
        kind = ' class="n"' if numeric else ' class="w"' if c in whole else ""
        return f"<td{kind}>{cell(v, d)}</td>"

    head = "".join(
        f'<th title="{html(c)}">{html(header(c))}</th>' if header(c) != c else f"<th>{html(c)}</th>"
        for c in columns
    )
    body = "".join(
        "<tr>" + "".join(td(r.get(c, ""), decimals[c], c) for c in columns) + "</tr>" for r in rows
    )
    return (
        f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</div>"
    )


def html_page(title: str, body: str, *, build: str, run: str = "") -> str:
    """One self-contained page; `build` (the sha256 of the data_out.jsonl it was made from)
    and `run` (the sha256 of the JSON file written with it) go into meta tags, so that a stale
    page, or one of another run than its JSON file, can be told."""
    title = html(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="arenatok-build" content="{html(build)}">'
        + (f'<meta name="arenatok-run" content="{html(run)}">' if run else "")
        + f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1>{body}</body></html>\n"
    )
