"""`pipeline.layouts.kaggle_55k`: the Kaggle 55k release (lmsys-arena-human-preference-55k),
its JSON-encoded turns and one-hot vote, from CSV or Parquet."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts.kaggle_55k import LAYOUT
from arenatok.pipeline.sources.local import open_local
from tests.helpers import (
    kaggle_row,
    need_shared,
    records,
    write_csv,
)


def test_kaggle_fixture_from_shared(tmp_path: Path) -> None:
    src = need_shared() / "data" / "R4yanW1ang_chatbot-arena" / "formatted_train.csv"
    assert open_local(src).layout == "kaggle-55k"
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    result = build(src, out=tmp_path / "out", limit=None)
    assert (result.stats.read, result.stats.written) == (10, 10)
    got = records(tmp_path / "out")
    for row, rec in zip(rows, got, strict=True):
        prompts = json.loads(row["prompt"])
        assert [t["user"] for t in rec["context"]["conversation"]] == prompts
        assert [t["response_a"] for t in rec["context"]["conversation"]] == json.loads(
            row["response_a"]
        )
        one_hot = [row["winner_model_a"], row["winner_model_b"], row["winner_tie"]]
        assert rec["context"]["winner"] == ["model_a", "model_b", "tie"][one_hot.index("1")]
        assert rec["context"]["api_metadata"]["question_id"] == row["id"]
    first = got[0]["context"]
    assert (
        got[0]["context"]["api_metadata"]["question_id"],
        first["model_a"],
        first["model_b"],
        first["winner"],
    ) == ("30192", "gpt-4-1106-preview", "gpt-4-0613", "model_a")
    assert validate_dir(tmp_path / "out") == []


def test_kaggle_null_reply(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "train.csv",
        [kaggle_row(0, ["Hey", None], winner=2), kaggle_row(1, ["Yo"], winner=1)],
    )
    strict = build(src, out=tmp_path / "strict", on_bad_row="reject")
    assert (strict.stats.written, strict.stats.rejected) == (1, 1)
    [reject] = [
        json.loads(x) for x in (tmp_path / "strict" / "rejects.jsonl").read_text().splitlines()
    ]
    assert reject["reason"] == (
        "response_b[1] is null (pass --allow-null-turns to count it as an empty reply)"
    )
    loose = build(src, out=tmp_path / "loose", allow_null_turns=True)
    first = records(tmp_path / "loose")[0]["context"]
    assert first["winner"] == "tie"
    assert first["conversation"][1]["response_b"] == ""
    assert first["token_usage"]["turns"][1]["response_b_tokens"] == 0
    assert first["quality_flags"] == ["empty_response_b", "null_turn", "multi_turn"]
    assert loose.metadata["quality_flags"]["null_turn"] == 1


def test_kaggle_vote_must_be_one_hot(tmp_path: Path) -> None:
    row = kaggle_row(0, ["Hey"]) | {"winner_model_b": 1}
    src = write_csv(tmp_path / "train.csv", [row])
    build(src, out=tmp_path / "out", on_bad_row="reject", allow_empty=True)
    reason = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())["reason"]
    assert reason == "winner_model_a / winner_model_b / winner_tie must be one-hot, got [1, 1, 0]"


def test_mixed_parquet_types_for_other_layouts(tmp_path: Path) -> None:
    # A Parquet 55k file (as the Hub's parquet conversion writes it) reads like the CSV.
    table = pa.Table.from_pylist([kaggle_row(0, ["Yo"])])
    pq.write_table(table, tmp_path / "55k.parquet")
    result = build(tmp_path / "55k.parquet", out=tmp_path / "out")
    assert result.stats.written == 1


def test_a_row_as_the_csv_gives_it_is_one_battle() -> None:
    row = {k: str(v) for k, v in kaggle_row(3, ["x", "y"], winner=1).items()}  # text columns
    got = LAYOUT.parse(row, False)
    assert (got.question_id, got.winner, got.null_turns) == ("1003", "model_b", 0)
    assert (got.users, got.answers_a, got.answers_b) == (
        ("Hello", "And again"),
        ("Hi!", "Hi again!"),
        ("x", "y"),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"prompt": "[]"}, "prompt must be a JSON-encoded non-empty list of strings, got str '[]'"),
        ({"prompt": "no"}, "prompt must be a JSON-encoded non-empty list of strings, got str 'no'"),
        (
            {"prompt": '["a"]'},
            "prompt, response_a and response_b have 1, 2 and 2 entries; they must have one per "
            "turn",
        ),
        ({"response_a": '["a", 3]'}, "response_a[1] must be a string, got int 3"),
        (
            {"winner_tie": "2"},
            "winner_model_a / winner_model_b / winner_tie must be one-hot, got [1, 0, '2']",
        ),
        (
            {"prompt": '["a", null]'},
            "prompt[1] is null (pass --allow-null-turns to count it as an empty reply)",
        ),
    ],
)
def test_a_row_that_breaks_a_rule_says_which(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowProblem) as caught:
        LAYOUT.parse(kaggle_row(3, ["x", "y"]) | change, True)  # a null prompt: never allowed
    assert str(caught.value) == reason
