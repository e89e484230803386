"""`pipeline.layouts.mt_bench`: lmsys/mt_bench_human_judgments, every judgment kept with its
judge and judged turn."""

from __future__ import annotations

from pathlib import Path

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from arenatok.pipeline.sources.local import open_local
from tests.helpers import (
    battle,
    records,
    write_parquet,
)


def test_mt_bench_keeps_every_judgment(tmp_path: Path) -> None:
    two_turns = battle("x", [("Q1", "a1", "b1"), ("Q2", "a2", "b2")])
    rows = [
        {
            "question_id": 81,
            "model_a": "gpt-4",
            "model_b": "vicuna-13b-v1.2",
            "winner": winner,
            "judge": judge,
            "conversation_a": two_turns["conversation_a"],
            "conversation_b": two_turns["conversation_b"],
            "turn": turn,
        }
        for judge, turn, winner in [
            ("author_0", 1, "model_a"),
            ("author_3", 1, "tie"),
            ("gpt4_pair", 2, "tie (inconsistent)"),
        ]
    ]
    src = write_parquet(tmp_path / "human.parquet", rows)
    assert open_local(src).layout == "mt-bench"
    result = build(src, out=tmp_path / "out")
    got = records(tmp_path / "out")
    assert [
        (
            r["context"]["api_metadata"]["judge"],
            r["context"]["api_metadata"]["judged_turn"],
            r["context"]["winner"],
        )
        for r in got
    ] == [
        ("author_0", 1, "model_a"),
        ("author_3", 1, "tie"),
        ("gpt4_pair", 2, "tie"),  # its judge's two verdicts disagree: MT-bench counts a tie
    ]
    assert {r["context"]["api_metadata"]["question_id"] for r in got} == {"81"}
    assert list(result.metadata["winner_distribution"]) == ["model_a", "model_b", "tie"]
    assert result.metadata["winner_distribution"]["tie"]["count"] == 2
    assert validate_dir(tmp_path / "out") == []
