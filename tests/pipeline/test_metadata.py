"""`pipeline.metadata`: artifact_metadata.json read back through the types the build writes
it with: a build's own file reads as itself, keys in order; a file of another shape is its
first problem, named by where it is."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from arenatok.pipeline.driver import build
from arenatok.pipeline.metadata import COUNTS, Counts, parse_metadata
from tests.helpers import TINY, write_jsonl


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The artifact_metadata.json of a build of the four tiny battles."""
    tmp = tmp_path_factory.mktemp("metadata")
    build(write_jsonl(tmp / "b.jsonl", TINY), out=tmp / "out")
    return (tmp / "out" / "artifact_metadata.json").read_bytes()


def changed(raw: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    data = json.loads(raw)
    change(data)
    return json.dumps(data).encode()


def test_a_builds_own_metadata_reads_as_itself_in_its_order(raw: bytes) -> None:
    meta = parse_metadata(raw)
    assert isinstance(meta, dict)
    assert meta == json.loads(raw)
    assert list(meta) == list(json.loads(raw))
    assert (meta["counts"]["rows_read"], meta["sources"][0]["counts"]["rows_written"]) == (4, 4)
    assert tuple(Counts.__annotations__) == COUNTS


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda m: m["counts"].update(rows_read="4"),
            "counts.rows_read: Input should be a valid integer",
        ),
        (
            lambda m: m["counts"].update(rows_read=4.0),
            "counts.rows_read: Input should be a valid integer",
        ),
        (
            lambda m: m["counts"].update(rows_read=-1),
            "counts.rows_read: Input should be greater than or equal to 0",
        ),
        (lambda m: m["counts"].update(rows=4), "counts.rows: Extra inputs are not permitted"),
        (lambda m: m.pop("options"), "options: Field required"),
        (
            lambda m: m.update(sources=[]),
            "sources: List should have at least 1 item after validation, not 0",
        ),
        (
            lambda m: m["source"].update(sha256="ABC"),
            "source.sha256: String should match pattern '^[0-9a-f]{64}$'",
        ),
        (
            lambda m: m["options"].update(duplicates="keep"),
            "options.duplicates: Input should be 'flag', 'drop' or 'error'",
        ),
    ],
)
def test_a_file_of_another_shape_is_its_first_problem(
    raw: bytes, change: Callable[[dict[str, Any]], object], problem: str
) -> None:
    assert parse_metadata(changed(raw, change)) == problem


def test_sections_of_provenance_keep_fields_another_version_adds(raw: bytes) -> None:
    for section in ("source", "tokenizer", "counter"):
        more = changed(raw, lambda m, s=section: m[s].update(added_later="x"))
        meta = parse_metadata(more)
        assert isinstance(meta, dict), meta
        assert meta[section]["added_later"] == "x"


def test_bytes_that_are_not_an_object_say_so() -> None:
    assert parse_metadata(b"[1]") == "Input should be an object"
    assert parse_metadata(b"{") == "Invalid JSON: EOF while parsing an object at line 1 column 1"
