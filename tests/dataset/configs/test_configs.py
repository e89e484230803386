"""The configs of the card: each battle's rows as its module makes them (checked by hand on
tiny battles and on the first real one), their schema and class labels, and the card's
Parquet files of the real battles as `datasets` loads them offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arenatok.dataset.configs import CONFIGS, flat, preference, turns
from arenatok.dataset.configs.base import features_yaml
from arenatok.pipeline.battle import DECISIVE, VOTES
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, write_jsonl

MULTI = battle(
    "q4",
    [("Name a color", "Red", "Blue"), ("Another?", "Green", "Teal"), ("Last one", "Pink", "")],
    winner="model_b",
)
"""A decisive battle of three turns (B wins)."""


def records(out: Path) -> list[Any]:
    return [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_records(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    d = tmp_path_factory.mktemp("tiny")
    build(write_jsonl(d / "b.jsonl", [*TINY, MULTI]), out=d / "out")
    return records(d / "out")


def rows_of(config: Any, recs: list[Any]) -> list[Any]:
    return [row for i, r in enumerate(recs) for row in config.rows(i, r)]


def test_flat_is_one_row_a_battle_of_its_scalars(tiny_records: list[Any]) -> None:
    rows = rows_of(flat.CONFIG, tiny_records)
    assert [(r["battle"], r["question_id"], r["winner"], r["turns"]) for r in rows] == [
        (0, "q0", "model_a", 1),
        (1, "q1", "tie (bothbad)", 2),
        (2, "q2", "model_b", 1),
        (3, "q3", "tie", 1),
        (4, "q4", "model_b", 3),
    ]
    usage = tiny_records[1]["context"]["token_usage"]
    assert rows[1]["total_tokens"] == usage["total_tokens"]
    assert (
        rows[1]["coordination_overhead"]
        == usage["communication_efficiency"]["coordination_overhead"]
    )
    assert rows[1]["full_state_input_tokens_a"] == usage["full_state"]["full_state_input_tokens_a"]
    assert (rows[2]["source_index"], rows[2]["source_layout"], rows[2]["source_row"]) == (
        0,
        "arena",
        3,
    )
    assert rows[2]["quality_flags"] == ["special_token_text"]
    assert rows[0]["duplicate_of_row"] is None
    assert set(rows[0]) == set(flat.FlatRow.__annotations__)


def test_turns_is_one_row_a_turn(tiny_records: list[Any]) -> None:
    rows = rows_of(turns.CONFIG, tiny_records)
    assert [(r["battle"], r["turn_number"]) for r in rows] == [
        (0, 1),
        (1, 1),
        (1, 2),
        (2, 1),
        (3, 1),
        (4, 1),
        (4, 2),
        (4, 3),
    ]
    one, two = rows[1], rows[2]
    assert two["timestamp_offset"] is None  # one timestamp per battle: turn 1's
    assert one["timestamp_offset"] == 0.0
    history = one["input_tokens"] + one["response_a_tokens"] + two["input_tokens"]
    assert two["context_tokens_a"] == history
    assert two == {
        "battle": 1,
        "question_id": "q1",
        **tiny_records[1]["context"]["token_usage"]["turns"][1],
    }


def test_preference_pairs_the_decisive_battles(tiny_records: list[Any]) -> None:
    rows = rows_of(preference.CONFIG, tiny_records)
    assert [r["question_id"] for r in rows] == ["q0", "q2", "q4"]  # ties have no pair
    q2 = rows[1]
    assert q2["prompt"] == [{"role": "user", "content": "<|endoftext|> is a special token"}]
    assert (q2["chosen"], q2["rejected"]) == (
        [{"role": "assistant", "content": "No."}],
        [{"role": "assistant", "content": "Yes."}],
    )
    assert (q2["winner"], q2["chosen_model"], q2["rejected_model"]) == (
        "model_b",
        "koala-13b",
        "vicuna-13b",
    )
    usage = tiny_records[2]["context"]["token_usage"]
    assert (q2["chosen_tokens"], q2["rejected_tokens"], q2["input_tokens"]) == (
        usage["total_output_tokens_b"],
        usage["total_output_tokens_a"],
        usage["total_input_tokens"],
    )
    q4 = rows[2]
    assert q4["prompt"] == [{"role": "user", "content": "Name a color"}]
    assert q4["chosen"] == [
        {"role": "assistant", "content": "Blue"},
        {"role": "user", "content": "Another?"},
        {"role": "assistant", "content": "Teal"},
        {"role": "user", "content": "Last one"},
        {"role": "assistant", "content": ""},
    ]
    assert [m["content"] for m in q4["rejected"]] == [
        "Red",
        "Another?",
        "Green",
        "Last one",
        "Pink",
    ]


def test_every_config_round_trips_through_arrow(tiny_records: list[Any]) -> None:
    for config in CONFIGS[1:]:
        rows = rows_of(config, tiny_records)
        table = config.table(rows)
        assert table.schema == config.schema()
        assert [config.decoded(r) for r in table.to_pylist()] == rows


def test_the_vote_is_a_class_label_where_it_is_a_column() -> None:
    import datasets

    labels = {c.name: dict(c.labels()) for c in CONFIGS}
    assert labels == {
        "default": {},
        "flat": {"winner": VOTES},
        "turns": {},
        "preference": {"winner": VOTES},
    }
    for config in CONFIGS[1:]:
        features = datasets.Features.from_arrow_schema(config.schema())
        for name in config.labels():
            features[name] = datasets.ClassLabel(names=list(VOTES))
        assert features_yaml(config.schema(), config.labels()) == features._to_yaml_list()


def load(out: Path, config: str, cache: Path) -> Any:
    import datasets

    return datasets.load_dataset(str(out), config, split="train", cache_dir=str(cache))


def test_datasets_loads_every_config_offline(real_card: Path, offline: Path) -> None:
    import datasets

    recs = records(real_card)
    counts = {
        "default": len(recs),
        "flat": len(recs),
        "turns": sum(len(r["context"]["token_usage"]["turns"]) for r in recs),
        "preference": sum(r["context"]["winner"] in DECISIVE for r in recs),
    }
    assert counts["preference"] == 778 + 655  # the real battles' winners (README)
    for config in CONFIGS:
        data = load(real_card, config.name, offline)
        assert data.num_rows == counts[config.name], config.name
        if config.row is not None:
            assert list(data.features) == list(config.row.__annotations__)
    flat_data = load(real_card, "flat", offline)
    assert flat_data.features["winner"] == datasets.ClassLabel(names=list(VOTES))
    assert flat_data.features["winner"].int2str(flat_data[0]["winner"]) == "model_b"
    pairs = load(real_card, "preference", offline)
    assert pairs.features["winner"] == datasets.ClassLabel(names=list(VOTES))
    assert pairs.features["chosen"] == datasets.List(
        {"role": datasets.Value("string"), "content": datasets.Value("string")}
    )


def test_the_flat_configs_sums_are_the_records(real_card: Path, offline: Path) -> None:
    recs = records(real_card)
    table = load(real_card, "flat", offline).to_pandas()
    usage = [r["context"]["token_usage"] for r in recs]
    for column in ("total_input_tokens", "total_output_tokens_a", "total_tokens"):
        assert table[column].sum() == sum(u[column] for u in usage), column
    full_state = sum(u["full_state"]["full_state_input_tokens_b"] for u in usage)
    assert table["full_state_input_tokens_b"].sum() == full_state
    assert table["turns"].sum() == sum(len(u["turns"]) for u in usage)
    bold = sum(r["context"]["style"]["total_b"]["bold_count"] for r in recs)
    assert table["bold_count_b"].sum() == bold
    assert table["duplicate_kind"].notna().sum() == 23  # the real battles' later copies


def test_the_first_real_battle_by_hand(real_card: Path, offline: Path) -> None:
    """The first battle (as docs/concepts/output-files.md shows its record): chatglm-6b
    against koala-13b, B wins, 10 tokens of prompt, 171 and 373 of answers."""
    [turn] = [r for r in load(real_card, "turns", offline) if r["battle"] == 0]
    assert turn == {
        "battle": 0,
        "question_id": "58210e39b3fd4441a2bd4a518bb44c2d",
        "turn_number": 1,
        "timestamp_offset": 0.0,
        "input_tokens": 10,
        "response_a_tokens": 171,
        "response_b_tokens": 373,
        "context_tokens_a": 10,
        "context_tokens_b": 10,
    }
    row = load(real_card, "flat", offline)[0]
    assert (row["model_a"], row["model_b"], row["winner"], row["total_tokens"]) == (
        "chatglm-6b",
        "koala-13b",
        1,
        554,
    )
    assert row["coordination_overhead"] == pytest.approx(0.36462093862815886)
    pair = load(real_card, "preference", offline)[0]
    assert (pair["chosen_model"], pair["chosen_tokens"], pair["rejected_tokens"]) == (
        "koala-13b",
        373,
        171,
    )
    assert pair["prompt"] == [
        {"role": "user", "content": "What is the difference between OpenCL and CUDA?"}
    ]
