"""`arenatok.text`: the forms text from the data takes at each sink (a terminal line, a plot
label, Markdown, a code span), as properties over any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arenatok.text import markdown, markdown_code, plot_label, terminal, visible
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
