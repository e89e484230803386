"""The card's Parquet files: row groups and shards within their bounds whatever the build's
size (small bounds on the real battles here; benchmarks/bench_card.py at 300,000), the
default config's bytes as one Parquet file of the records, and a data_out.jsonl changed
between the card's two passes refused."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from arenatok.dataset import shards
from arenatok.dataset.card import write_card
from arenatok.dataset.configs import CONFIGS
from arenatok.dataset.shards import Bounds
from arenatok.dataset.validate import validate_dir
from arenatok.errors import StaleBuildError
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import MANIFEST, PARQUET, PARQUET_BUILD_KEY
from tests.helpers import TINY, write_jsonl

SMALL = Bounds(row_group_bytes=400_000, shard_bytes=3_000_000)


def files_of(out: Path, folder: str) -> list[str]:
    return sorted(p.name for p in (out / folder).glob("train-*.parquet"))


def test_small_bounds_cut_every_config_into_bounded_row_groups_and_shards(
    real_card: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(real_card, out)
    write_card(out, bounds=SMALL)
    lines = (out / "data_out.jsonl").read_bytes().splitlines(keepends=True)
    count = -(-sum(map(len, lines)) // SMALL.shard_bytes)  # at least this many
    names = files_of(out, "data")
    m = len(names)
    assert m >= count >= 3
    assert names == [f"train-{k:05d}-of-{m:05d}.parquet" for k in range(m)]
    first = 0
    for name in names:  # each shard holds whole records of at most shard_bytes
        rows = pq.ParquetFile(out / "data" / name).metadata.num_rows
        assert sum(map(len, lines[first : first + rows])) <= SMALL.shard_bytes
        first += rows
    assert first == len(lines)
    groups = 0
    for config in CONFIGS:
        assert files_of(out, config.folder) == names, config.name
        for name in names:
            path = out / config.folder / name
            meta = pq.ParquetFile(path).metadata
            assert path.stat().st_size <= SMALL.shard_bytes
            assert (
                meta.metadata[PARQUET_BUILD_KEY.encode()]
                == json.loads((out / "artifact_metadata.json").read_text())["files"][
                    "data_out.jsonl"
                ]["sha256"].encode()
            )
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                assert group.total_byte_size <= SMALL.row_group_bytes or group.num_rows == 1
                groups += 1
    assert groups > 4 * m  # the bound cut the row groups, not only the shards
    assert validate_dir(out) == []
    # The card again, with the usual bounds: one shard each, the others gone with the list's
    # (one of them removed by hand before: it leaves the list all the same).
    (out / "data" / "flat" / names[1]).unlink()
    write_card(out)
    for config in CONFIGS:
        assert files_of(out, config.folder) == ["train-00000-of-00001.parquet"]
    listed = json.loads((out / MANIFEST).read_text())
    assert sorted(n for n in listed if n.startswith("data/")) == sorted(
        f"{c.folder}/train-00000-of-00001.parquet" for c in CONFIGS
    )
    assert validate_dir(out) == []


def test_the_default_config_is_the_records_as_one_parquet_file(tmp_path: Path) -> None:
    """The bytes the card wrote before it had configs: the records read by Arrow's JSON
    reader with the schema the data gives, written once, zstd, the build in the schema."""
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    write_card(out)
    schema = shards.records_schema(out)
    table = pj.read_json(
        out / "data_out.jsonl", parse_options=pj.ParseOptions(explicit_schema=schema)
    )
    build_id = json.loads((out / "artifact_metadata.json").read_text())["files"]
    expected = io.BytesIO()
    with pq.ParquetWriter(
        expected,
        schema.with_metadata({PARQUET_BUILD_KEY: build_id["data_out.jsonl"]["sha256"]}),
        compression="zstd",
    ) as writer:
        writer.write_table(table)
    assert (out / PARQUET).read_bytes() == expected.getvalue()


def test_a_data_out_changed_between_the_two_passes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    real = shards.read_shards

    def then_changed(*args: object, **kwargs: object) -> shards.Shards:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        path = out / "data_out.jsonl"
        path.write_bytes(path.read_bytes().replace(b'"q0"', b'"q9"'))
        return found

    monkeypatch.setattr("arenatok.dataset.card.read_shards", then_changed)
    with pytest.raises(StaleBuildError) as e:
        write_card(out)
    assert (
        e.value.message
        == f"{out / 'data_out.jsonl'}: changed while the card read it; nothing was written"
    )
    assert not (out / "README.md").exists()
    assert not (out / "data").exists()


def test_a_killed_cards_temp_file_in_a_configs_folder_is_named_then_removed(
    tmp_path: Path,
) -> None:
    from arenatok.dataset.validate import findings

    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    write_card(out)
    temp = out / "data" / "flat" / ".train-00000-of-00001.parquet.0123abcd.tmp"
    temp.write_bytes(b"PAR1")
    assert findings(out).warnings == [
        "data/flat/.train-00000-of-00001.parquet.0123abcd.tmp: a temp file left by a run that "
        "was killed (the next run removes it)"
    ]
    write_card(out)
    assert not temp.exists()
    assert findings(out).warnings == []
