"""`validate` checks a card's configs against the build, row by row: a value changed in a
config's Parquet file (its build left as it was), a row too many or too few, a file gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.runtime.derived import MANIFEST

SHARD = "train-00000-of-00001.parquet"


@pytest.fixture
def out(real_card: Path, tmp_path: Path) -> Path:
    shutil.copytree(real_card, tmp_path / "out")
    return tmp_path / "out"


def tamper(path: Path, change: object) -> None:
    """Rewrite a Parquet file with `change` (a function of its table) applied, its schema's
    metadata (the build it names) kept."""
    table = pq.read_table(path)
    pq.write_table(change(table), path)  # type: ignore[operator]


def test_a_changed_count_in_a_config_is_a_problem(out: Path) -> None:
    assert validate_dir(out) == []

    def more_tokens(table: pa.Table) -> pa.Table:
        column = table.column("total_tokens").to_pylist()
        column[5] += 1
        i = table.schema.get_field_index("total_tokens")
        return table.set_column(i, table.field(i), pa.array(column, pa.int64()))

    tamper(out / "data" / "flat" / SHARD, more_tokens)
    assert validate_dir(out) == [
        "data/flat/train-*.parquet (flat): row 6 is not what data_out.jsonl line 6 makes "
        f"(total_tokens): run arenatok card {out} again"
    ]


def test_a_vote_changed_in_the_preference_config_is_a_problem(out: Path) -> None:
    def other_vote(table: pa.Table) -> pa.Table:
        winner = table.column("winner").to_pylist()
        winner[0] = 1 - winner[0]
        i = table.schema.get_field_index("winner")
        return table.set_column(i, table.field(i), pa.array(winner, pa.int64()))

    tamper(out / "data" / "preference" / SHARD, other_vote)
    assert validate_dir(out) == [
        "data/preference/train-*.parquet (preference): row 1 is not what data_out.jsonl line 1 "
        f"makes (winner): run arenatok card {out} again"
    ]


def test_a_row_too_many_or_too_few_is_a_problem(out: Path) -> None:
    turns = out / "data" / "turns" / SHARD
    tamper(turns, lambda t: pa.concat_tables([t, t.slice(0, 1)]))
    assert validate_dir(out) == [
        "data/turns/train-*.parquet (turns): more rows than the 2008 that data_out.jsonl makes: "
        f"run arenatok card {out} again"
    ]
    tamper(turns, lambda t: t.slice(0, 2007 - 1))
    assert validate_dir(out) == [
        "data/turns/train-*.parquet (turns): row 2007 is not what data_out.jsonl line 2007 "
        f"makes (no row): run arenatok card {out} again"
    ]


def test_a_config_in_the_default_record_is_compared_too(out: Path) -> None:
    def other_input(table: pa.Table) -> pa.Table:
        texts = table.column("input").to_pylist()
        texts[3] = texts[3] + " "
        i = table.schema.get_field_index("input")
        return table.set_column(i, table.field(i), pa.array(texts))

    tamper(out / "data" / SHARD, other_input)
    assert validate_dir(out) == [
        "data/train-*.parquet (default): row 4 is not what data_out.jsonl line 4 makes "
        f"(input): run arenatok card {out} again"
    ]


def test_a_configs_file_gone_is_a_problem(out: Path) -> None:
    (out / "data" / "flat" / SHARD).unlink()
    assert validate_dir(out) == [
        f"data/flat/train-*.parquet (flat): missing, or not as the card listed them: run "
        f"arenatok card {out} again"
    ]
    listed = json.loads((out / MANIFEST).read_text())
    assert f"data/flat/{SHARD}" in listed
