"""croissant.json: mlcroissant (MLCommons' reference checker and reader) validates it, and
reads every record set back with the values of the Parquet files; its distribution is the
card's files with their sha256s, and it names its build."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from arenatok.dataset.card import CROISSANT, write_card
from arenatok.dataset.configs import CONFIGS
from arenatok.dataset.shards import Bounds
from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import MANIFEST, made_from
from tests.helpers import TINY, battle, write_jsonl


@pytest.fixture(scope="module")
def carded(arena_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny battles (two and three turns, a special token, ties) and 40 real ones, in two
    shards; built where SOURCE_DATE_EPOCH gives the build a date."""
    d = tmp_path_factory.mktemp("croissant")
    three = battle("q4", [("a", "b", "c"), ("d", "e", "f"), ("g", "h", "")], winner="model_b")
    tiny = write_jsonl(d / "tiny.jsonl", [*TINY, three])
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SOURCE_DATE_EPOCH", "1700000000")
        build([tiny, arena_parquet], out=d / "out", limit=45)
    write_card(d / "out", bounds=Bounds(shard_bytes=100_000))
    return d / "out"


def steps(value: Any, path: list[str]) -> Any:
    """A Parquet value followed down a field's JSONPath steps (each one into every element of
    a list), as a Croissant reader follows them."""
    for step in path:
        keys = [k.strip("'\"") for k in step.split("'.'")]
        if isinstance(value, list):
            value = [steps(v, [step]) for v in value]
            continue
        for k in keys:
            value = None if value is None else value.get(k)
    return value


def leaves(field: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for f in field.get("subField", []) for x in leaves(f)] or [field]


def plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value.tolist() if hasattr(value, "tolist") else value


def parent_of(field_id: str) -> str:
    return field_id.rsplit("/", 1)[0]


def read_back(record: dict[str, Any], leaf: dict[str, Any], record_set: str) -> Any:
    """A leaf's value in a record that mlcroissant gave: sub-fields come under their
    parent's id, a list of them under an array's."""
    parent = parent_of(leaf["@id"])
    if parent == record_set:
        return plain(record[leaf["@id"]])
    holder = record[parent]
    if isinstance(holder, list):
        return [plain(h[leaf["@id"]]) for h in holder]
    return plain(holder[leaf["@id"]])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mlcroissant's use of rdflib, pandas
def test_mlcroissant_validates_it_and_reads_every_record_set(carded: Path) -> None:
    import mlcroissant as mlc

    doc = json.loads((carded / CROISSANT).read_text())
    dataset = mlc.Dataset(str(carded / CROISSANT))
    assert dataset.metadata.issues.errors == set()
    assert dataset.metadata.issues.warnings == set()
    logging.disable(logging.WARNING)  # mlcroissant logs its progress
    try:
        for record_set in doc["recordSet"]:
            name = record_set["@id"]
            config = next(c for c in CONFIGS if c.name == name)
            files = sorted((carded / config.folder).glob("train-*.parquet"))
            assert len(files) >= 2
            rows = [r for f in files for r in pq.read_table(f).to_pylist()]
            fields = [x for f in record_set["field"] for x in leaves(f)]
            ours = [
                [
                    plain(
                        steps(
                            row[leaf["source"]["extract"]["column"]],
                            [t["jsonPath"] for t in leaf["source"].get("transform", [])],
                        )
                    )
                    for leaf in fields
                ]
                for row in rows
            ]
            theirs = [
                [read_back(record, leaf, name) for leaf in fields]
                for record in dataset.records(name)
            ]
            assert len(theirs) == len(ours), name
            key = json.dumps
            assert sorted(theirs, key=key) == sorted(ours, key=key), name
    finally:
        logging.disable(logging.NOTSET)


def test_it_lists_every_parquet_file_with_its_sha256_and_names_its_build(carded: Path) -> None:
    doc = json.loads((carded / CROISSANT).read_text())
    objects = {d["contentUrl"]: d["sha256"] for d in doc["distribution"] if "sha256" in d}
    listed = json.loads((carded / MANIFEST).read_text())
    parquet = {n for n in listed if n.endswith(".parquet")}
    assert set(objects) == parquet
    for name, sha in objects.items():
        assert hashlib.sha256((carded / name).read_bytes()).hexdigest() == sha
    meta = json.loads((carded / "artifact_metadata.json").read_text())
    build_id = meta["files"]["data_out.jsonl"]["sha256"]
    assert doc["arenatok"]["build"] == build_id == made_from(carded / CROISSANT)
    assert doc["datePublished"] == meta["created"]
    assert doc["license"] == ["https://creativecommons.org/licenses/by-nc/4.0/"]
    assert doc["citeAs"].startswith("@inproceedings{zheng2023judging,")
    assert doc["isBasedOn"] == ["https://huggingface.co/datasets/lmsys/chatbot_arena_conversations"]
    assert [r["@id"] for r in doc["recordSet"]] == [c.name for c in CONFIGS]
    flat = doc["recordSet"][1]["field"]
    winner = next(f for f in flat if f["name"] == "winner")
    assert winner["dataType"] == "sc:Integer"
    assert winner["description"] == "A class label: 0 model_a, 1 model_b, 2 tie, 3 tie (bothbad)."


def test_a_croissant_file_of_another_build_is_a_problem(carded: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(carded, out)
    doc = json.loads((out / CROISSANT).read_text())
    doc["arenatok"]["build"] = "ab" * 32
    (out / CROISSANT).write_text(json.dumps(doc))
    assert validate_dir(out) == [
        f"croissant.json: was made from another build (or names none): run arenatok card {out} "
        "again"
    ]
