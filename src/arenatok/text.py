"""Text from data at its sinks: one helper per place a string from a source, a build or an
option is shown. Model names, languages, judges, categories, file names and messages are data:
never markup, maths, HTML or control sequences, wherever they appear.

- the terminal: `terminal` (control characters as visible escapes; rich output is made with
  markup and emoji codes off, see `cli_output`);
- the HTML pages: `html` (escaped, control characters as visible escapes);
- plots: `plot_label` (no maths, no control characters, long names cut);
- the card's Markdown body: `markdown` (inline text) and `markdown_code` (a code span).
Every sink shows what `visible` shows: one definition of the characters written as escapes.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable

LABEL_CHARS = 48
"""The longest name a plot shows whole; longer ones lose their middle, marked with `…`."""


def _escape(c: str) -> str:
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def visible(text: str) -> str:
    """`text` with every character that is not printable (control characters such as ESC and
    BEL, line breaks, bidirectional and zero-width format characters, spaces other than
    U+0020, unassigned code points) written as a visible escape (`\\x1b`, `\\u202e`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def terminal(value: object) -> str:
    """A value as one line of terminal text: `visible`, so that nothing in it moves the
    cursor, sets a title, makes a link or starts a new line."""
    return visible(str(value))


def html(value: object) -> str:
    """A value as HTML text (an element's text or an attribute's value): `visible`, so that no
    bidirectional control reorders what a browser shows (`\\u202eb31-anuciv` is not shown as
    vicuna-13b) and nothing is invisible, then `& < > " '` escaped. Printable text gets
    exactly `html.escape`'s bytes."""
    return _html.escape(visible(str(value)))


def plot_label(value: object, limit: int = LABEL_CHARS) -> str:
    """A value as matplotlib text: `visible`, at most `limit` characters (the middle of a
    longer one cut out), and every `$` escaped so that nothing is read as maths."""
    text = visible(str(value))
    if len(text) > limit:  # the end tells long names apart as often as the start
        head = (limit - 1) * 2 // 3
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head) :]
    return text.replace("$", r"\$")


_MARKDOWN = re.compile(r"[\\`*_\[\]#!|~$:@<>&\"]")
"""What Markdown reads inline: emphasis, code, links and images, HTML, table cells, headings'
closing #s, strikethrough, the Hub's maths ($) and its links (URLs, @names)."""
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}


def markdown(value: object) -> str:
    """A value as inline Markdown text that renders as itself: `visible`, HTML's `< > & "` as
    entities, every other character that Markdown (or the Hub's maths and links) reads
    escaped with a backslash."""
    return _MARKDOWN.sub(lambda m: _ENTITIES.get(m[0], "\\" + m[0]), visible(str(value)))


def markdown_code(value: object, *, table: bool = False) -> str:
    """A value as a Markdown code span (shown verbatim: no HTML, no emphasis): `visible`, in
    a run of backticks longer than any inside it; in a `table` cell, `|` escaped (a table
    splits its cells before it reads code spans)."""
    text = visible(str(value))
    if table:
        text = text.replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    # CommonMark strips one space from each end when both have one: keep them by adding one.
    spaced = text.startswith(" ") and text.endswith(" ") and bool(text.strip())
    pad = " " if text.startswith("`") or text.endswith("`") or spaced else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_LOOKALIKE = str.maketrans(
    {
        **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
        **dict(zip("авекмнорстухѕіјԁӏ", "abekmhopctyxsijdl", strict=True)),
        **dict(zip("αβεικνορτυχ", "abeikvoptux", strict=True)),
    }
)
"""Letters of other scripts that look like Latin ones (after casefold), and dashes like `-`."""


_RTL_OVERRIDE, _POP, _POP_ISOLATE = "\u202e", "\u202c", "\u2069"
_OPENS = "\u202a\u202b\u202d\u202e\u2066\u2067\u2068"
"""Embeddings and overrides (closed by `_POP`), isolates (closed by `_POP_ISOLATE`)."""
_ISOLATES = "\u2066\u2067\u2068"


def _shown_order(text: str) -> str:
    """`text` in the order a screen shows it, as far as right-to-left overrides (U+202E) go:
    what one covers (up to its pop U+202C, the end of an isolate around it, or the end of the
    text) read backwards, a nested run kept whole. Embeddings and isolates, which reorder no
    run of Latin letters, are only taken out; the controls are not kept. A simple rule, not
    the Unicode bidirectional algorithm: it makes `\\u202eb31-anuciv` read vicuna-13b."""
    runs: list[tuple[str, list[str]]] = [("", [])]

    def close() -> None:
        kind, parts = runs.pop()
        runs[-1][1].append("".join(parts[::-1] if kind == _RTL_OVERRIDE else parts))

    for c in text:
        if c in _OPENS:
            runs.append((c, []))
        elif c == _POP and len(runs) > 1 and runs[-1][0] not in _ISOLATES:
            close()
        elif c == _POP_ISOLATE and any(kind in _ISOLATES for kind, _ in runs):
            while runs[-1][0] not in _ISOLATES:
                close()
            close()
        else:
            runs[-1][1].append(c)
    while len(runs) > 1:
        close()
    return "".join(runs[0][1])


def skeleton(name: str) -> str:
    """What a name looks like: its characters in the order shown (`_shown_order`), Unicode
    compatibility form (NFKC), case folded, format characters (Unicode category Cf:
    zero-width, bidirectional, invisible) dropped, look-alike letters and dashes mapped to the
    Latin ones, whitespace runs as one space, trimmed. Two names with one skeleton are easily
    taken for one."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", _shown_order(name)).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(kept.translate(_LOOKALIKE).split())


def lookalikes(names: Iterable[str]) -> list[list[str]]:
    """The groups of distinct names that differ only by case, Unicode form, whitespace,
    invisible characters, text direction or look-alike characters (one `skeleton`), each
    sorted, sorted by their first name."""
    groups: dict[str, set[str]] = {}
    for name in names:
        groups.setdefault(skeleton(name), set()).add(name)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def lookalikes_note(names: Iterable[str]) -> str | None:
    """A sentence naming the models that look alike (each written with escapes for what is
    not ASCII, so that the difference shows), or None when there are none."""
    groups = lookalikes(names)
    if not groups:
        return None
    shown = "; ".join(" / ".join(ascii(n) for n in g) for g in groups)
    return (
        f"{len(groups)} group{'s' * (len(groups) > 1)} of model names differ only by case, "
        "Unicode form, whitespace, invisible characters, text direction or look-alike "
        f"characters, and are kept as distinct models: {shown}"
    )
