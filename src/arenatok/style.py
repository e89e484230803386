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

from arenatok.records import MarkdownCounts, Style

FEATURES = ("header_count", "list_count", "bold_count")
"""The three counts, in the order of the arena's style features (after length)."""

_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:\d+\.|[-*+])\s", re.MULTILINE)
r"""The arena's ordered (`^\s*\d+\.\s`) and unordered (`^\s*[-*+]\s`) patterns in one scan: the
same count as the two apart (a test compares them), in one pass instead of two."""
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")


def markdown_counts(text: str) -> MarkdownCounts:
    """Headers, list items and bold spans of one answer, outside fenced code blocks."""
    if "```" in text:
        text = _CODE_BLOCK.sub("", text)
    headers = len(_HEADER.findall(text)) if "#" in text else 0
    lists = len(_LIST_ITEM.findall(text))
    bold = (len(_BOLD_STARS.findall(text)) if "**" in text else 0) + (
        len(_BOLD_UNDERSCORES.findall(text)) if "__" in text else 0
    )
    return {"header_count": headers, "list_count": lists, "bold_count": bold}


def total(counts: Sequence[MarkdownCounts]) -> MarkdownCounts:
    """The counts of several answers added up."""
    return {
        "header_count": sum(c["header_count"] for c in counts),
        "list_count": sum(c["list_count"] for c in counts),
        "bold_count": sum(c["bold_count"] for c in counts),
    }


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
