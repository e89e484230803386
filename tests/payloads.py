"""Hostile texts for every sink, and the Markdown parser that checks them."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt

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
    "\u202eb31-anuciv",
    "\u202a\u202b\u202d\u2067\u2068embed\u200e\u061c\u2060\u200c\u200d\u2061",
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


def inline_tokens(text: str) -> list[Any]:
    return [c for t in MD.parse(text) for c in (t.children or [t])]
