"""Markdown style of an answer, counted as the Chatbot Arena counts it for style control.

The patterns are the arena's (FastChat `add_markdown_info.py`): fenced code blocks are removed
first; a header is a line that starts with 1 to 6 `#` and a space; a list item is a line that
starts with `1.` (any number) or `-`, `*`, `+`, then a space (leading spaces allowed); a bold
span is `**text**` or `__text__` on one line. Two differences, both documented in the README:
each answer is counted on its own and the turns are summed (the arena joins a side's answers
with a line break first: the same except where a code fence is opened in one answer and closed
in another), and a code block is removed as a whole (the arena deletes the block's text
wherever it also occurs in the answer, outside the block as well).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from arenatok.pipeline.records import Feature, MarkdownCounts, Style

FEATURES: tuple[Feature, ...] = ("header_count", "list_count", "bold_count")
"""The three counts, in the order of the arena's style features (after length)."""

_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER_AT_START = re.compile(r"#{1,6}\s")
_HEADER_AFTER_NEWLINE = re.compile(r"\n#{1,6}(?=\s)")
_LIST_AT_START = re.compile(r"\s*(?:\d+\.|[-*+])\s")
_LIST_AFTER_NEWLINE = re.compile(r"\n\s*(?:\d+\.|[-*+])(?=\s)")
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")


def _line_starts(at_start: re.Pattern[str], after_newline: re.Pattern[str], text: str) -> int:
    r"""Matches of a `^`-anchored MULTILINE pattern (the arena's `^#{1,6}\s`, and its
    `^\s*\d+\.\s` and `^\s*[-*+]\s` in one), counted fast: such a match can only start at
    the text's start or after a `\n`. `at_start` is the pattern matched at 0; `after_newline`
    the same with `\n` in front of it and its last `\s` a lookahead (so that a match that
    ends with a line break leaves it to the next one), which Python's regex engine finds by
    scanning for the `\n` instead of trying `^` at every character. The same counts as the
    arena's patterns (a property test compares them)."""
    first = at_start.match(text)
    if first is None:
        return len(after_newline.findall(text))
    return 1 + len(after_newline.findall(text, first.end() - 1))


def markdown_counts(text: str) -> MarkdownCounts:
    """Headers, list items and bold spans of one answer, outside fenced code blocks."""
    # Each pattern runs only where its first character occurs (a one-character search is a
    # memchr; a two-character one costs as much as the pattern itself).
    if "`" in text and "```" in text:
        text = _CODE_BLOCK.sub("", text)
    headers = _line_starts(_HEADER_AT_START, _HEADER_AFTER_NEWLINE, text) if "#" in text else 0
    lists = _line_starts(_LIST_AT_START, _LIST_AFTER_NEWLINE, text)
    bold = len(_BOLD_STARS.findall(text)) if "*" in text else 0
    if "_" in text:
        bold += len(_BOLD_UNDERSCORES.findall(text))
    return {"header_count": headers, "list_count": lists, "bold_count": bold}


def total(counts: Sequence[MarkdownCounts]) -> MarkdownCounts:
    """The counts of several answers added up."""
    if len(counts) == 1:  # most battles have one turn: a copy, without three generators
        return counts[0].copy()
    headers = lists = bold = 0
    for c in counts:
        headers += c["header_count"]
        lists += c["list_count"]
        bold += c["bold_count"]
    return {"header_count": headers, "list_count": lists, "bold_count": bold}


def battle_style(answers_a: Sequence[str], answers_b: Sequence[str]) -> Style:
    """Per turn, each side's markdown counts, and each side's sums over the turns."""
    a = [markdown_counts(t) for t in answers_a]
    b = [markdown_counts(t) for t in answers_b]
    return {
        "turns": [{"a": x, "b": y} for x, y in zip(a, b, strict=True)],
        "total_a": total(a),
        "total_b": total(b),
    }


def release_counts(meta: object) -> dict[str, int] | None:
    """A release's own markdown counts (conv_metadata `header_count_a`, ...: an int, or a dict
    of ints such as {"h1": 2, "h2": 0}, summed), keyed like theirs; None if it has none."""
    if not isinstance(meta, Mapping):
        return None
    out: dict[str, int] = {}
    for feature in FEATURES:
        for side in ("a", "b"):
            value = meta.get(f"{feature}_{side}")
            parts: list[object] = list(value.values()) if isinstance(value, Mapping) else [value]
            ints = [x for x in parts if isinstance(x, int) and not isinstance(x, bool)]
            if parts and len(ints) == len(parts):
                out[f"{feature}_{side}"] = sum(ints)
    return out or None
