from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.pipeline.style import battle_style, markdown_counts, release_counts

ANSWER = """# Plan

Here is **the** plan, with __two__ parts:

1. First step
2. Second step
   - nested item
   * another nested item
10. Tenth step

## Code

```python
# a comment, not a header
x = "**not bold**"
- not a list item
```

+ last item with **bold** and **more bold**
Not a header: #hashtag, and ####### seven hashes.
"""


def test_counts_of_a_hand_written_answer() -> None:
    # Headers: "# Plan", "## Code" (the "# a comment" is inside the code block).
    # Lists: 1., 2., 10. ordered; "- nested", "* another", "+ last" unordered.
    # Bold: **the**, __two__, **bold**, **more bold** (the one in the code block is removed).
    assert markdown_counts(ANSWER) == {"header_count": 2, "list_count": 6, "bold_count": 4}


def test_an_unclosed_fence_removes_nothing() -> None:
    assert markdown_counts("```\n# header\n") == {
        "header_count": 1,
        "list_count": 0,
        "bold_count": 0,
    }


def test_bold_does_not_cross_lines_and_empty_bold_is_not_bold() -> None:
    assert markdown_counts("**a\nb**")["bold_count"] == 0
    assert markdown_counts("****")["bold_count"] == 0
    assert markdown_counts("__ __")["bold_count"] == 1
    assert markdown_counts("**a** and **b**")["bold_count"] == 2


def test_turns_and_totals() -> None:
    s = battle_style(["# a", "- x\n- y"], ["plain", "**b**"])
    assert s["turns"] == [
        {
            "a": {"header_count": 1, "list_count": 0, "bold_count": 0},
            "b": {"header_count": 0, "list_count": 0, "bold_count": 0},
        },
        {
            "a": {"header_count": 0, "list_count": 2, "bold_count": 0},
            "b": {"header_count": 0, "list_count": 0, "bold_count": 1},
        },
    ]
    assert s["total_a"] == {"header_count": 1, "list_count": 2, "bold_count": 0}
    assert s["total_b"] == {"header_count": 0, "list_count": 0, "bold_count": 1}


def test_a_removed_code_block_joins_what_stood_around_it() -> None:
    # The arena deletes each block's text: what follows a block then starts its line.
    text = "intro\n```x```# Title\n```y```- item\n**a```z```b**"
    assert markdown_counts(text) == {"header_count": 1, "list_count": 1, "bold_count": 1}


def test_totals_add_every_turn_of_a_side() -> None:
    s = battle_style(["- x\n- y\n# h", "1. a\n2. b\n3. c\n**b**"], ["**b** **c**", "## h\n__d__"])
    assert s["total_a"] == {"header_count": 1, "list_count": 5, "bold_count": 1}
    assert s["total_b"] == {"header_count": 1, "list_count": 0, "bold_count": 3}


def test_sides_with_different_numbers_of_turns_are_an_error() -> None:
    with pytest.raises(ValueError, match="zip"):
        battle_style(["a", "b"], ["c"])


def test_release_counts_sum_the_nested_dicts() -> None:
    meta = {
        "sum_assistant_a_tokens": 10,
        "header_count_a": {"h1": 1, "h2": 2, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "list_count_a": {"ordered": 3, "unordered": 1},
        "bold_count_a": {"**": 2, "__": 0},
        "header_count_b": 4,
        "list_count_b": {"ordered": "x"},
    }
    assert release_counts(meta) == {
        "header_count_a": 3,
        "list_count_a": 4,
        "bold_count_a": 2,
        "header_count_b": 4,
    }
    assert release_counts({"turns": 1}) is None
    assert release_counts(None) is None


def fastchat_counts(text: str) -> dict[str, int]:
    """The arena's counting (add_markdown_info.py), written out from its description: six
    header patterns, two list patterns, two bold patterns, each counted on its own."""
    headers = sum(len(re.findall(rf"^#{{{k}}}\s", text, re.MULTILINE)) for k in range(1, 7))
    lists = len(re.findall(r"^\s*\d+\.\s", text, re.MULTILINE)) + len(
        re.findall(r"^\s*[-*+]\s", text, re.MULTILINE)
    )
    bold = len(re.findall(r"\*\*[^*\n]+\*\*", text)) + len(re.findall(r"__[^_\n]+__", text))
    return {"header_count": headers, "list_count": lists, "bold_count": bold}


MARKDOWNISH = st.text(
    alphabet=st.sampled_from(list("#*_-+.1234567890 \n\t\r\x0b\x0cab")) | st.characters(),
    max_size=200,
)


@settings(max_examples=2000)
@given(MARKDOWNISH.filter(lambda t: "```" not in t))
def test_equal_to_the_arena_counts_without_code_blocks(text: str) -> None:
    """Also: our one list pattern counts what the arena's two count apart."""
    assert markdown_counts(text) == fastchat_counts(text)


@given(MARKDOWNISH.filter(lambda t: "`" not in t), MARKDOWNISH.filter(lambda t: "`" not in t))
def test_a_code_block_adds_nothing(before: str, code: str) -> None:
    assert markdown_counts(before + "\n```" + code + "```") == markdown_counts(before + "\n")


@given(st.lists(MARKDOWNISH, min_size=1, max_size=4))
def test_totals_are_sums_and_counts_are_not_negative(answers: list[str]) -> None:
    s = battle_style(answers, answers[::-1])
    for side in ("a", "b"):
        for key in ("header_count", "list_count", "bold_count"):
            values = [t[side][key] for t in s["turns"]]  # type: ignore[literal-required]
            assert min(values) >= 0
            assert s[f"total_{side}"][key] == sum(values)  # type: ignore[literal-required]
