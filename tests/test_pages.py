"""`arenatok.pages`: the self-contained pages of the analyses: column headers for people,
numbers with the same decimals down a column, error bars that never cross their estimate,
figures as SVG with the same bytes each time, and the meta tags that name a page's build."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from arenatok.pages import error_bars, figure, header, html_page, html_table, plot, svg_of
from arenatok.runtime.derived import page_meta
from arenatok.sections import Section


def test_headers_are_said_the_way_a_reader_says_them() -> None:
    assert [
        header(f)
        for f in ("bradley_terry_ci95", "online_elo", "tie (bothbad)", "p95_tokens", "battles")
    ] == [
        "Bradley-Terry 95% interval",
        "online Elo",
        "tie (both bad)",
        "95th pct tokens",
        "battles",
    ]


def cells(table: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", table)


def test_a_columns_decimals_follow_its_largest_number() -> None:
    rows = [
        {"big": 123.456, "mid": 12.345, "small": 1.2345, "odd": math.nan},
        {"big": 1.0, "mid": 1.0, "small": [0.5, 0.25], "odd": math.inf},
    ]
    table = html_table(rows, ["big", "mid", "small", "odd"])
    assert cells(table) == [
        "123.5", "12.35", "1.234", "–",
        "1.0", "1.00", "0.500 to 0.250", "inf",
    ]  # fmt: skip


def test_table_cells_are_escaped_and_names_kept_whole() -> None:
    @dataclass
    class Row(Section):
        model: str
        battles: int

    table = html_table([Row(model="<b>x</b>", battles=1234), {"model": None}], ["model", "battles"],
                       whole=["model"])  # fmt: skip
    assert '<td class="w">&lt;b&gt;x&lt;/b&gt;</td><td class="n">1,234</td>' in table
    assert '<td class="w"></td><td></td>' in table  # missing: empty


@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), max_size=8
    )
)
def test_error_bars_reach_the_interval_and_never_past_the_estimate(
    drawn: list[tuple[float, float, float]],
) -> None:
    values = [v for v, _, _ in drawn]
    intervals = [sorted((a, b)) for _, a, b in drawn]
    below, above = error_bars(values, intervals)
    for v, (lo, hi), down, up in zip(values, intervals, below, above, strict=True):
        assert down >= 0
        assert up >= 0
        assert down == max(0.0, v - lo)
        assert up == max(0.0, hi - v)


def test_a_figure_is_the_same_svg_each_time_and_captioned_escaped() -> None:
    fig, ax = figure(3, 2)
    ax.plot([1, 2, 3], [3, 1, 2])
    svg = svg_of(fig)
    assert svg.startswith("<svg")
    assert svg == svg_of(fig)
    assert "Date" not in svg
    assert plot("A <b> & c", fig) == (
        f'<figure class="plot"><figcaption>A &lt;b&gt; &amp; c</figcaption>{svg}</figure>'
    )
    assert plot("wide", fig, wide=True).startswith('<figure class="plot wide">')


def test_a_page_names_its_build_and_run_for_the_checks_that_read_them() -> None:
    build, run = "ab" * 32, "cd" * 32
    page = html_page("Report <of> x", "<p>body</p>", build=build, run=run)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert "<title>Report &lt;of&gt; x</title>" in page
    assert page.endswith("<h1>Report &lt;of&gt; x</h1><p>body</p></body></html>\n")
    assert (page_meta(page, "build"), page_meta(page, "run")) == (build, run)
    assert page_meta(html_page("T", "", build=build), "run") is None
