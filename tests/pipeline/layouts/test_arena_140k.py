"""`pipeline.layouts.arena_140k`: lmarena-ai/arena-human-preference-140k, its typed message
parts (text counted, images counted as parts, an unknown type refused) and its vote labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.errors import SourceError
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts.arena_140k import IMAGE_PARTS, LAYOUT, TEXT_PARTS
from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.tokens import count
from tests.helpers import (
    records,
    write_jsonl,
)


def part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "image": None, "mimeType": None}


IMAGE = {"type": "image", "text": None, "image": "https://example/cat.png", "mimeType": "image/png"}


def test_arena_140k_typed_parts_and_labels(tmp_path: Path) -> None:
    def side(answer: str) -> list[dict[str, Any]]:
        return [
            {"role": "user", "content": [part("Describe"), IMAGE, part("this cat")]},
            {"role": "assistant", "content": [part(answer)]},
        ]

    rows = [
        {
            "id": "a1b2",
            "model_a": "gemini-2.5-pro",
            "model_b": "o3-2025-04-16",
            "winner": "both_bad",
            "evaluation_session_id": "s1",
            "evaluation_order": 1,
            "conversation_a": side("A cat."),
            "conversation_b": side("A fluffy cat."),
            "full_conversation": [],
            "conv_metadata": {
                "sum_assistant_a_tokens": 3,
                "sum_assistant_b_tokens": 4,
                "context_a_tokens": 5,
                "context_b_tokens": 5,
            },
            "language": "en",
            "is_code": False,
            "timestamp": "2025-05-01T12:00:00Z",
        }
    ]
    src = tmp_path / "140k.jsonl"
    write_jsonl(src, rows)
    assert open_local(src).layout == "arena-140k"
    result = build(src, out=tmp_path / "out")
    [rec] = records(tmp_path / "out")
    c = rec["context"]
    assert rec["input"] == "Describe\nthis cat"
    assert c["winner"] == "tie (bothbad)"  # the release's both_bad, in the one vocabulary
    assert rec["output"] == "Winner: tie (bothbad)"
    assert c["api_metadata"]["timestamp"] == 1746100800.0
    assert c["api_metadata"]["language"] == "en"
    assert c["quality_flags"] == ["image_parts"]
    assert c["token_usage"]["total_input_tokens"] == count("Describe\nthis cat")
    assert result.metadata["image_parts_not_counted"] == 2
    assert result.metadata["winner_distribution"]["tie (bothbad)"]["count"] == 1
    assert validate_dir(tmp_path / "out") == []


def test_arena_140k_counts_every_text_part_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    answer = " ".join(["word"] * 80)

    def row(i: int, kind: str) -> dict[str, Any]:
        def side(text: str) -> list[dict[str, Any]]:
            reply = {**part(text), "type": kind}
            return [{"role": "user", "content": [part("Hi"), IMAGE]}, {"role": "assistant",
                    "content": [reply]}]  # fmt: skip

        return {"id": f"r{i}", "model_a": "m1", "model_b": "m2", "winner": "tie",
                "conversation_a": side(answer), "conversation_b": side("Short."),
                "evaluation_order": 1}  # fmt: skip

    known = [row(0, "text"), row(1, "input_text"), row(2, "output_text")]
    known += [{**row(3, "text"), "conversation_b": [  # every image type: counted, not read
        {"role": "user", "content": [part("Hi"), *({**IMAGE, "type": t} for t in IMAGE_PARTS)]},
        {"role": "assistant", "content": [part("Short.")]}]}]  # fmt: skip
    src = write_jsonl(tmp_path / "known.jsonl", known)
    result = build(src, out=tmp_path / "out")
    for rec in records(tmp_path / "out"):
        assert rec["context"]["token_usage"]["total_output_tokens_a"] == count(answer)
    assert result.metadata["image_parts_not_counted"] == 2 * 3 + 1 + len(IMAGE_PARTS)
    odd = write_jsonl(tmp_path / "odd.jsonl", [row(0, "text"), row(1, "Text")])
    with pytest.raises(SourceError) as e:
        build(odd, out=tmp_path / "odd")
    reason = (
        "conversation_a[1].content[0] has type 'Text', which arenatok does not know: neither "
        f"text ({', '.join(TEXT_PARTS)}) nor an image ({', '.join(IMAGE_PARTS)})"
    )
    assert e.value.message == f"{odd.resolve()}: row 2 (id 'r1'): {reason}"
    build(odd, out=tmp_path / "odd", on_bad_row="reject")
    [reject] = (tmp_path / "odd" / "rejects.jsonl").read_text().splitlines()
    assert json.loads(reject) == {
        "file": str(odd.resolve()), "row": 2, "question_id": "r1", "reason": reason}  # fmt: skip


def row_140k(**change: Any) -> dict[str, Any]:
    side = [{"role": "user", "content": [part("Hi")]}, {"role": "assistant",
            "content": [part("Yo")]}]  # fmt: skip
    return {"id": "r1", "model_a": "m1", "model_b": "m2", "winner": "model_a",
            "conversation_a": side, "conversation_b": side, **change}  # fmt: skip


@pytest.mark.parametrize(
    "moment",
    ["2025-05-01T12:00:00Z", "2025-05-01T12:00:00", "2025-05-01T14:00:00+02:00", 1746100800],
)
def test_a_timestamp_is_seconds_since_the_epoch_naive_times_utc(moment: object) -> None:
    assert LAYOUT.parse(row_140k(timestamp=moment), False).tstamp == 1746100800.0
    assert LAYOUT.parse(row_140k(), False).tstamp is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"timestamp": "yesterday"}, "timestamp is not an ISO 8601 time: str 'yesterday'"),
        (
            {"conversation_a": []},
            "conversation_a must be a non-empty list of messages, got list []",
        ),
        ({"conversation_a": ["hi"]}, "conversation_a[0] is not a message object: str 'hi'"),
        (
            {"conversation_b": [{"role": "user", "content": "Hi"}]},
            "conversation_b[0].content must be a list of parts, got str 'Hi'",
        ),
        (
            {"conversation_a": [{"role": "user", "content": [{"text": "Hi"}]}]},
            "conversation_a[0].content[0] has no type: dict {'text': 'Hi'}",
        ),
        (
            {"conversation_a": [{"role": "user", "content": [part(None)]}]},
            "conversation_a[0].content[0].text must be a string, got null",
        ),
        (
            {"winner": "model_c"},
            "winner is str 'model_c', expected one of model_a, model_b, tie, both_bad",
        ),
    ],
)
def test_a_row_that_breaks_a_rule_says_which(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowProblem) as caught:
        LAYOUT.parse(row_140k(**change), False)
    assert str(caught.value) == reason
