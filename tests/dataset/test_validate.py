from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.dataset.built import check_stream, read_built, read_metadata
from arenatok.dataset.validate import validate_dir
from arenatok.errors import BuildError
from arenatok.pipeline.driver import build
from arenatok.pipeline.records import schema_json
from arenatok.pipeline.write import DUPLICATES, METADATA, OUTPUTS, schema_bytes
from tests.helpers import TINY, battle, edit_records, rewrite, write_jsonl

FUZZ = settings(
    max_examples=int(os.environ.get("ARENATOK_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    rows = [*TINY, battle("bad", winner="nobody"), *TINY]
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out", on_bad_row="reject")
    return tmp_path / "out"


def test_a_fresh_build_is_valid(out: Path) -> None:
    assert validate_dir(out) == []
    result = CliRunner().invoke(cli, ["validate", str(out)])
    assert (result.exit_code, result.stdout) == (
        0,
        f"{out}: ok (every file matches artifact_metadata.json; every record holds)\n",
    )


def test_real_data_build_is_valid(arena_parquet: Path, tmp_path: Path) -> None:
    build(arena_parquet, out=tmp_path / "o", limit=None)
    assert validate_dir(tmp_path / "o") == []


def test_shipped_schema_is_generated_from_the_records() -> None:
    # If this fails after a change to records.py, regenerate the file:
    #   python -c "from arenatok.pipeline.records import schema_json; \
    #   open('src/arenatok/record.schema.json', 'w').write(schema_json())"
    assert schema_bytes().decode() == schema_json()
    schema = json.loads(schema_bytes())
    assert schema["properties"]["context"] == {"$ref": "#/$defs/Context"}
    assert schema["$defs"]["TurnUsage"]["additionalProperties"] is False


def test_missing_metadata(out: Path) -> None:
    (out / "artifact_metadata.json").unlink()
    assert validate_dir(out) == [
        "artifact_metadata.json: missing: the build did not finish, or this is not its output"
    ]


def test_unreadable_metadata(out: Path) -> None:
    (out / "artifact_metadata.json").write_text("{broken")
    [problem] = validate_dir(out)
    assert problem.startswith(
        "artifact_metadata.json: unreadable, or not the metadata of an arenatok build (Invalid "
        "JSON: key must be a string"
    )


def test_missing_and_changed_files(out: Path) -> None:
    (out / "mini_data_out.json").unlink()
    with (out / "data_out.jsonl").open("ab") as f:
        f.write(b"{}\n")
    data = bytearray((out / "data_out.json").read_bytes())
    data[100] ^= 1
    (out / "data_out.json").write_bytes(bytes(data))
    assert validate_dir(out) == [
        "data_out.json: sha256 differs from the metadata (the file was changed)",
        f"data_out.jsonl: {(out / 'data_out.jsonl').stat().st_size} bytes, the metadata says "
        f"{(out / 'data_out.jsonl').stat().st_size - 3}",
        "mini_data_out.json: missing",
    ]


def test_counts_must_add_up(out: Path) -> None:
    meta_path = out / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["counts"]["rows_read"] += 1
    meta_path.write_text(json.dumps(meta))
    assert validate_dir(out) == [
        "artifact_metadata.json: rows read 10 != written 8 + rejected 1 + dropped 0",
        "artifact_metadata.json: rows_read is 10, its sources' add up to 9",
    ]


def test_record_that_breaks_the_schema(out: Path) -> None:
    edit_records(out, lambda r: r["context"]["token_usage"].update(total_tokens="many"))
    problems = validate_dir(out)
    assert problems[0] == (
        "data_out.jsonl line 1: does not match the schema: context.token_usage.total_tokens: "
        "Input should be a valid integer"
    )
    assert len(problems) == 9  # each of the 8 records, and the mini file no longer matches
    assert problems[-1] == "mini_data_out.json: is not the first 3 records of data_out.json"


def test_unknown_field_breaks_the_schema(out: Path) -> None:
    edit_records(out, lambda r: r["context"].update(secret="x"))
    assert validate_dir(out)[0] == (
        "data_out.jsonl line 1: does not match the schema: context.secret: "
        "Extra inputs are not permitted"
    )


def test_totals_must_be_sums_of_turns(out: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["context"]["token_usage"]["total_tokens"] += 1

    edit_records(out, change)
    assert validate_dir(out)[:2] == [
        "data_out.jsonl line 1: token_usage.total_tokens is 12, the per-turn counts give 11",
        "data_out.jsonl line 2: token_usage.total_tokens is 23, the per-turn counts give 22",
    ]


def test_ratios_must_match_the_counts(out: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["context"]["token_usage"]["communication_efficiency"]["input_output_ratio"] = 1.5

    edit_records(out, change)
    assert validate_dir(out)[:2] == [
        "data_out.jsonl line 1: token_usage.communication_efficiency.input_output_ratio is 1.5, "
        "the counts give 0.18181818181818182",
        "data_out.jsonl line 1: token_usage.communication_efficiency.input_output_ratio = 1.5 "
        "is outside [0, 1]",
    ]


def test_two_battles_may_not_share_an_id(out: Path, tmp_path: Path) -> None:
    # A same_id copy keeps its battle's id (the fixture holds TINY twice): only the battle its
    # duplicate_of names may hold that id.
    def point_elsewhere(r: dict[str, Any]) -> None:
        if r["context"]["api_metadata"]["question_id"] == "q3" and "duplicate_of" in r["context"]:
            r["context"]["duplicate_of"]["row"] = 1

    edit_records(out, point_elsewhere)
    assert validate_dir(out) == [
        "data_out.jsonl line 8: question_id 'q3' (source 0 row 9) is also the id of source 0 "
        "row 4, another battle: an id names one battle"
    ]
    other = tmp_path / "other"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=other)

    def take_q0(r: dict[str, Any]) -> None:
        if r["context"]["api_metadata"]["question_id"] == "q3":
            r["context"]["api_metadata"]["question_id"] = "q0"

    edit_records(other, take_q0)
    problem = (
        "data_out.jsonl line 4: question_id 'q0' (source 0 row 4) is also the id of source 0 "
        "row 1, another battle: an id names one battle"
    )
    assert validate_dir(other) == [problem]
    with pytest.raises(BuildError, match=re.escape(problem)):  # every reader of a build
        read_built(other)
    with pytest.raises(BuildError, match=re.escape(problem)):
        check_stream(other, read_metadata(other))


def test_output_must_name_the_winner(out: Path) -> None:
    edit_records(out, lambda r: r.update(output="Winner: nobody"))
    assert validate_dir(out)[0] == (
        "data_out.jsonl line 1: output 'Winner: nobody' does not name the winner 'model_a'"
    )


def test_json_and_jsonl_must_agree(out: Path) -> None:
    data = json.loads((out / "data_out.json").read_text())
    data["examples"][2]["dataset"] = "other"
    rewrite(out, "data_out.json", json.dumps(data).encode())
    rewrite(out, "full_data_out.json", json.dumps(data).encode())
    assert validate_dir(out) == [
        "data_out.json: is not the records of data_out.jsonl as a JSON list"
    ]


def test_data_out_json_is_the_jsonl_lines_as_a_list(out: Path) -> None:
    """data_out.json holds data_out.jsonl's lines as they are, in a list: the same records in
    another layout are not the build's file."""
    data = json.loads((out / "data_out.json").read_text())
    rewrite(out, "data_out.json", json.dumps(data, indent=1).encode())
    rewrite(out, "full_data_out.json", json.dumps(data, indent=1).encode())
    assert validate_dir(out) == [
        "data_out.json: is not the records of data_out.jsonl as a JSON list"
    ]


def test_full_copy_mini_and_preview(out: Path) -> None:
    rewrite(out, "full_data_out.json", b'{"examples": []}')
    mini = json.loads((out / "mini_data_out.json").read_text())
    rewrite(out, "mini_data_out.json", json.dumps({"examples": mini["examples"][:2]}).encode())
    assert validate_dir(out) == [
        "full_data_out.json: is not listed as a copy of data_out.json",
        "mini_data_out.json: is not the first 3 records of data_out.json",
        "preview_data_out.json: is not mini_data_out.json with long strings cut",
    ]


def test_rejects_must_be_counted(out: Path) -> None:
    rewrite(out, "rejects.jsonl", b"")
    assert validate_dir(out) == ["rejects.jsonl: 0 lines, but the metadata says 1"]


def test_cli_lists_every_problem(out: Path) -> None:
    (out / "mini_data_out.json").unlink()
    (out / "preview_data_out.json").unlink()
    result = CliRunner().invoke(cli, ["validate", str(out)])
    assert result.exit_code == 1
    assert result.stdout == (
        "problem: mini_data_out.json: missing\nproblem: preview_data_out.json: missing\n"
        f"{out}: 2 problems\n"
    )
    assert result.stderr == ""


@pytest.mark.parametrize("strict", [[], ["--strict"]])
@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("fifo", "a FIFO"),
        ("directory", "a directory"),
        ("symlink", "a symbolic link"),
        ("dangling", "a symbolic link to nothing"),
    ],
)
@pytest.mark.parametrize(
    ("name", "what"),
    [
        (".arenatok-derived.json", "arenatok's list of the files it wrote here"),
        (".arenatok.lock", "the lock arenatok takes to write here"),
    ],
)
def test_an_owned_file_that_is_not_a_regular_file_is_a_problem(
    out: Path, name: str, what: str, kind: str, words: str, strict: list[str]
) -> None:
    path = out / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink":
        path.symlink_to(out / METADATA)
    else:
        path.symlink_to(out / "nothing-here")
    problem = f"{name}: is {words}, not a regular file; it is {what} (move it away)"
    assert validate_dir(out) == [problem]
    result = CliRunner().invoke(cli, ["validate", *strict, str(out)])
    assert (result.exit_code, result.stdout) == (1, f"problem: {problem}\n{out}: 1 problem\n")


NAMES = [n for n in (*OUTPUTS, METADATA) if n != DUPLICATES]


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    kind=st.sampled_from(["truncate", "flip", "append", "delete"]),
    where=st.floats(0, 1, exclude_max=True),
    junk=st.binary(min_size=1, max_size=50),
    agree=st.booleans(),
)
def test_any_damage_is_found_and_never_crashes(
    out: Path, name: str, kind: str, where: float, junk: bytes, agree: bool
) -> None:
    path = out / name
    original = path.read_bytes()
    at = int(len(original) * where)
    damaged = {
        "truncate": original[:at],
        "flip": original[:at] + bytes([original[at] ^ 0xFF]) + original[at + 1 :],
        "append": original + junk,
        "delete": None,
    }[kind]
    try:
        if damaged is None:
            path.unlink()
        elif agree and name != "artifact_metadata.json":
            rewrite(out, name, damaged)  # consistent hashes: the deeper checks must cope
        else:
            path.write_bytes(damaged)
        problems = validate_dir(out)  # never raises
        harmless = (
            name == "artifact_metadata.json"
            and damaged is not None
            and _same_json(damaged, original)
        )  # the metadata has no hash of its own: only a change of meaning can be seen
        if (not agree or damaged is None or name == "artifact_metadata.json") and not harmless:
            assert problems, f"{kind} of {name} went unnoticed"
        assert all(isinstance(p, str) and p for p in problems)
    finally:
        path.write_bytes(original)
        meta = out / "artifact_metadata.json"
        if agree and name != "artifact_metadata.json" and damaged is not None:
            m = json.loads(meta.read_text())
            m["files"][name] = {
                "bytes": len(original),
                "sha256": hashlib.sha256(original).hexdigest(),
            }
            meta.write_text(json.dumps(m, indent=2))


def _same_json(a: bytes, b: bytes) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False
