"""Text from data is text at every sink: the terminal, the plots, the card's Markdown. Hostile
payloads go through every text field (model names, languages, judges, categories, the dataset's
name) and file name, and each sink's output is checked."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from arenatok.cli import cli
from arenatok.text import markdown, markdown_code, plot_label, terminal, visible
from tests.helpers import battle

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


def _file_name(payload: str, k: int) -> str:
    """A payload as a file name (no / or NUL; at most 200 bytes)."""
    name = payload.replace("/", "∕").replace("\x00", "")
    while len(name.encode()) > 200:
        name = name[:-1]
    return f"{name}{k}.jsonl"


def _rows(names: list[str], n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        a, b = names[i % len(names)], names[(i + 1 + i // len(names)) % len(names)]
        if a == b:
            b = names[(i + 2) % len(names)]
        row = battle(
            f"q{i}",
            [(f"prompt {i} " + "word " * (i % 7), "answer " * (1 + i % 5), "reply " * (i % 3 + 1))],
            model_a=a,
            model_b=b,
            winner=["model_a", "model_b", "tie"][i % 3],
        )
        row["language"] = names[i % 2]
        row["judge"] = names[-1]
        rows.append(row)
    return rows


def _assert_terminal_safe(output: str) -> None:
    for line in output.splitlines():
        assert line.isprintable(), repr(line)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(PAYLOADS), min_size=3, max_size=3, unique=True))
def test_every_payload_is_text_at_every_sink(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    from huggingface_hub import DatasetCard

    tmp = tmp_path_factory.mktemp("sinks")
    sources = []
    for k, name in enumerate(names[:2]):
        path = tmp / _file_name(name, k)
        rows = _rows(names, 100)[k * 50 : (k + 1) * 50]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        sources += ["--source", str(path)]
    out = tmp / "out"
    runner = CliRunner()
    run = runner.invoke(
        cli, ["build", *sources, "--limit", "all", "--out", str(out), "--dataset-name", names[2]]
    )
    assert run.exit_code == 0, run.output
    _assert_terminal_safe(run.output)

    run = runner.invoke(cli, ["report", str(out), "--rounds", "3", "--by", "language"])
    assert run.exit_code == 0, run.output
    _assert_terminal_safe(run.output)
    for name in names:
        if len(terminal(name)) <= 30:
            assert terminal(name) in run.output
    page = (out / "report.html").read_text("utf-8")
    assert not re.search(r"<(img|script|a)\b", page)

    run = runner.invoke(cli, ["card", str(out)])
    assert run.exit_code == 0, run.output
    text = (out / "README.md").read_text("utf-8")
    card = DatasetCard(text)
    assert card.data.pretty_name == f"Token usage of {names[2]}"  # the YAML keeps it as is
    tokens = _inline_tokens(card.text)
    assert not {"html_inline", "html_block", "image"} & {t.type for t in tokens}
    assert [t.attrs["href"] for t in tokens if t.type == "link_open"] == [
        "https://pypi.org/project/arenatok/"
    ]
    heading = next(t for t in MD.parse(card.text) if t.type == "inline")
    assert heading.content
    assert "".join(c.content for c in heading.children or []) == (
        f"Token usage of {visible(names[2])}".strip()
    )
    codes = {t.content for t in tokens if t.type == "code_inline"}
    for k, name in enumerate(names[:2]):
        assert visible(_file_name(name, k)) in codes
