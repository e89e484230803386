"""`arenatok.text`: the forms text from the data takes at each sink (a terminal line, a plot
label, Markdown, a code span), as properties over any text."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from arenatok.text import markdown, markdown_code, plot_label, terminal, visible

PAYLOADS = [
    "[link=https://evil.example]alpaca[/link]",
    "\x1b]0;PWNED\x07title",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x1b\\osc8\x1b]8;;\x1b\\",
    "[bold red]koala",
    "[/]",
    "price $\\foo$ model",
    "$x$",
    "\u202eevil\u202c",
    "\u2066isolate\u2069 \u200f",
    "zero\u200bwidth\ufeff",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "**bold** _em_ `code` [a](https://evil.example) ![i](x.png) | cell | ~~s~~ #",
    "@user https://evil.example :smile: \\",
    "key: value\n- item\n---",
    '\'"quoted" & {braces} #comment',
    "line\nbreak\r\n\u2028sep\x85",
    "arena[train]",
    "tab\there",
    "backtick ` and `` runs",
    "名前 ✓ 🎉",
    "long " * 400,
]
"""Markup, ESC and OSC sequences, bidirectional and zero-width controls, maths, HTML,
Markdown and YAML specials, line breaks, very long names."""


MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _inline_tokens(text: str) -> list[Any]:
    return [c for t in MD.parse(text) for c in (t.children or [t])]


@given(st.text())
def test_terminal_text_is_one_printable_line(s: str) -> None:
    shown = terminal(s)
    assert shown.isprintable()
    assert shown == s if s.isprintable() else shown != s


@given(st.text() | st.sampled_from(PAYLOADS))
def test_a_plot_label_is_never_maths(s: str) -> None:
    from matplotlib.text import Text

    label = plot_label(s)
    assert label.replace("\\$", "").count("$") == 0
    assert Text(0, 0, label)._preprocess_math(label)[1] is False
    assert len(label.replace("\\$", "$")) <= 48
    assert label.replace("\\$", "$") == visible(s) or "…" in label


@given(st.text() | st.sampled_from(PAYLOADS))
def test_markdown_text_renders_as_itself(s: str) -> None:
    tokens = _inline_tokens(f"| a |\n|---|\n| {markdown(s)} |\n")
    assert {t.type for t in tokens} <= {
        "table_open", "thead_open", "tr_open", "th_open", "inline", "text", "th_close",
        "tr_close", "thead_close", "tbody_open", "td_open", "td_close", "tbody_close",
        "table_close",
    }  # fmt: skip
    cells = [t for t in MD.parse(f"| a |\n|---|\n| {markdown(s)} |\n") if t.type == "inline"]
    assert "".join(c.content for c in cells[1].children or []) == (visible(s).strip())


@given(st.text(min_size=1) | st.sampled_from(PAYLOADS))
def test_a_markdown_code_span_shows_its_text(s: str) -> None:
    in_table = f"| a |\n|---|\n| {markdown_code(s, table=True)} |\n"
    for text, table in ((f"x {markdown_code(s)} y\n", False), (in_table, True)):
        codes = [t for t in _inline_tokens(text) if t.type == "code_inline"]
        assert [c.content for c in codes] == [visible(s)], (text, table)
