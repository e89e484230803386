"""`arenatok.text`: the forms text from the data takes at each sink (a terminal line, a plot
label, HTML, Markdown, a code span), as properties over any text; the look-alike names."""

from __future__ import annotations

import html as stdlib_html

from hypothesis import given
from hypothesis import strategies as st

from arenatok.text import (
    html,
    lookalikes,
    markdown,
    markdown_code,
    plot_label,
    skeleton,
    terminal,
    visible,
)
from tests.payloads import MD, PAYLOADS, inline_tokens


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
    tokens = inline_tokens(f"| a |\n|---|\n| {markdown(s)} |\n")
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
        codes = [t for t in inline_tokens(text) if t.type == "code_inline"]
        assert [c.content for c in codes] == [visible(s)], (text, table)


BIDI_AND_INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
BIDI_AND_INVISIBLE += "\u200b\u200c\u200d\u2060\ufeff\u2061"


def test_html_shows_bidirectional_and_invisible_characters_as_escapes() -> None:
    assert html("\u202eb31-anuciv") == "\\u202eb31-anuciv"  # not "vicuna-13b" in a browser
    assert (
        html("<b>vi\u200bcuna</b> & 'x'") == "&lt;b&gt;vi\\u200bcuna&lt;/b&gt; &amp; &#x27;x&#x27;"
    )
    assert html(BIDI_AND_INVISIBLE) == "".join(f"\\u{ord(c):04x}" for c in BIDI_AND_INVISIBLE)
    assert html("tag\U000e0001 soft\xadhyphen") == "tag\\U000e0001 soft\\xadhyphen"


@given(st.text() | st.sampled_from(PAYLOADS))
def test_html_text_is_visible_text_escaped(s: str) -> None:
    shown = html(s)
    assert stdlib_html.unescape(shown) == visible(s)
    assert not any(c in "<>\"'" for c in shown)
    assert shown.isprintable()
    if s.isprintable():  # pages of printable data keep their bytes
        assert shown == stdlib_html.escape(s)


def test_names_that_differ_by_invisible_or_bidirectional_characters_look_alike() -> None:
    vicuna = ["\u202eb31-anuciv", "vicuna-13b", "vi\u200bcuna-13b\ufeff", "\u2067vicuna-13b\u2069"]
    nested = ["\u202ex\u202dab\u202cy", "yabx"]  # an override inside a right-to-left one: whole
    isolated = ["\u2067\u202eba\u2069c", "abc"]  # an isolate's end ends the override in it
    assert lookalikes([*vicuna, *nested, *isolated, "b31-anuciv", "\u202e4-tpg\u202c-x"]) == [
        sorted(isolated),
        sorted(vicuna),
        sorted(nested),
    ]


@given(st.text(alphabet="abcxyz0123456789-. ", min_size=1))
def test_a_right_to_left_override_reads_its_text_backwards(s: str) -> None:
    assert skeleton("\u202e" + s[::-1]) == skeleton(s) == skeleton(s + "\u200b\u2060")
