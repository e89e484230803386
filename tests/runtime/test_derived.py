"""`runtime.derived`: the build each derived file names as its maker (in its JSON, its page's
meta, its card's YAML, its Parquet schema), the directory's list of what arenatok wrote, and
`write_derived` replacing only arenatok's own files, beside the build it read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arenatok.errors import OutputError, StaleBuildError
from arenatok.runtime.derived import (
    BENCH_HTML,
    BENCH_JSON,
    CARD,
    DERIVED,
    JSONL,
    MANIFEST,
    METADATA,
    PARQUET,
    PARQUET_BUILD_KEY,
    REPORT_HTML,
    REPORT_JSON,
    build_in,
    by_card,
    card_build,
    card_is_ours,
    is_ours,
    made_from,
    manifest_bytes,
    mismatched_pair,
    page_meta,
    read_manifest,
    unchanged,
    write_derived,
)
from arenatok.runtime.files import sha256_owned

BUILD = "ab" * 32
OTHER = "cd" * 32


def card(build: str, made_with: str = "arenatok") -> str:
    return (
        f"---\nlicense: other\narenatok:\n  made_with: {made_with}\n  build: '{build}'\n---\n# x\n"
    )


def page(build: str, run: str = "") -> str:
    return (
        f'<html><meta name="arenatok-build" content="{build}">'
        f'<meta name="arenatok-run" content="{run}">'
    )


def plant(directory: Path, build: str) -> None:
    """One file of each derived name, each naming `build` as its maker."""
    (directory / "data").mkdir(exist_ok=True)
    for name in (REPORT_JSON, BENCH_JSON):
        (directory / name).write_text(json.dumps({"build": build}))
    for name in (REPORT_HTML, BENCH_HTML):
        (directory / name).write_text(page(build))
    table = pa.table({"a": [1]}).replace_schema_metadata({PARQUET_BUILD_KEY: build})
    pq.write_table(table, directory / PARQUET)
    (directory / CARD).write_text(card(build))


def with_build(directory: Path, build: str) -> Path:
    """`directory` holding the metadata of a build whose data_out.jsonl has sha256 `build`."""
    directory.mkdir(exist_ok=True)
    (directory / METADATA).write_text(json.dumps({"files": {JSONL: {"sha256": build}}}))
    return directory


def test_a_pages_meta_is_read_from_its_head_only() -> None:
    assert page_meta(page(BUILD, "12"), "build") == BUILD
    assert page_meta(page(BUILD, "12"), "run") == "12"
    assert page_meta(page(BUILD), "bench") is None
    assert page_meta(" " * 2000 + page(BUILD), "build") is None


def test_a_card_names_its_build_only_when_arenatok_made_it() -> None:
    assert card_build(card(BUILD)) == BUILD
    assert card_build(card(BUILD).replace(f"'{BUILD}'", BUILD)) == BUILD
    assert card_build(card(BUILD, made_with="someone")) is None
    assert card_build("# notes\n" + card(BUILD)) is None  # no front matter at the top
    assert card_build(card(BUILD).replace("\n---\n# x", "")) is None  # front matter not closed
    assert card_build(card("not-a-sha")) is None


def test_every_derived_file_names_the_build_it_was_made_from(tmp_path: Path) -> None:
    plant(tmp_path, BUILD)
    assert {name: made_from(tmp_path / name) for name in DERIVED} == dict.fromkeys(DERIVED, BUILD)


def test_a_file_that_names_no_build_of_ours_is_made_from_none(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / REPORT_JSON).write_text("[1, 2]")  # JSON, not an object
    (tmp_path / BENCH_JSON).write_text("{")  # not JSON
    (tmp_path / REPORT_HTML).write_text(page("ABC"))  # not a sha256
    (tmp_path / BENCH_HTML).symlink_to(tmp_path / REPORT_HTML)
    (tmp_path / PARQUET).write_bytes(b"PAR1 but not parquet")
    os.mkfifo(tmp_path / CARD)
    assert {name: made_from(tmp_path / name) for name in DERIVED} == dict.fromkeys(DERIVED)
    assert made_from(tmp_path / "nothing.json") is None


def test_a_json_and_its_page_must_come_from_one_run(tmp_path: Path) -> None:
    assert mismatched_pair(tmp_path, REPORT_JSON, REPORT_HTML) is None
    (tmp_path / REPORT_JSON).write_text(json.dumps({"build": BUILD}))
    assert mismatched_pair(tmp_path, REPORT_JSON, REPORT_HTML) == (
        "report.json and report.html come as a pair, but only one is here"
    )
    (tmp_path / REPORT_HTML).write_text(page(BUILD, run="0" * 64))
    assert mismatched_pair(tmp_path, REPORT_JSON, REPORT_HTML) == (
        "report.html was not made in the same run as report.json"
    )
    (tmp_path / REPORT_HTML).write_text(page(BUILD, run=sha256_owned(tmp_path / REPORT_JSON)[1]))
    assert mismatched_pair(tmp_path, REPORT_JSON, REPORT_HTML) is None


def test_a_readme_is_replaced_only_when_missing_or_a_card_of_ours(tmp_path: Path) -> None:
    assert card_is_ours(tmp_path / CARD)
    (tmp_path / CARD).write_text(card(BUILD))
    assert card_is_ours(tmp_path / CARD)
    (tmp_path / CARD).write_text("# my notes\n")
    assert not card_is_ours(tmp_path / CARD)
    assert [name for name in DERIVED if by_card(name)] == [PARQUET, CARD]


def test_the_manifest_round_trips_and_keeps_only_entries_of_derived_files(
    tmp_path: Path,
) -> None:
    assert read_manifest(tmp_path) == {}
    entry = {"bytes": 3, "sha256": BUILD, "build": BUILD}
    listed = {
        REPORT_JSON: entry,
        CARD: entry,
        "notes.txt": entry,  # not a derived file's name
        BENCH_JSON: {"bytes": "3", "sha256": BUILD},  # not a size
        BENCH_HTML: [1],
    }
    data = manifest_bytes(listed)
    assert list(json.loads(data)) == sorted(listed)
    (tmp_path / MANIFEST).write_bytes(data)
    assert read_manifest(tmp_path) == {REPORT_JSON: entry, CARD: entry}
    for junk in (b"[]", b"{", b""):
        (tmp_path / MANIFEST).write_bytes(junk)
        assert read_manifest(tmp_path) == {}


def test_a_manifest_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).mkdir()
    with pytest.raises(OutputError) as caught:
        read_manifest(tmp_path)
    assert caught.value.message == (
        f"{tmp_path / MANIFEST}: is a directory, not a regular file; it is arenatok's list of "
        "the files it wrote here"
    )


def test_unchanged_and_is_ours_follow_the_list_and_the_maker(tmp_path: Path) -> None:
    (tmp_path / REPORT_JSON).write_text(json.dumps({"build": BUILD}))
    size, sha = sha256_owned(tmp_path / REPORT_JSON)
    listed = {REPORT_JSON: {"bytes": size, "sha256": sha}}
    assert unchanged(tmp_path, REPORT_JSON, listed)
    assert not unchanged(tmp_path, REPORT_JSON, {REPORT_JSON: {"bytes": size, "sha256": BUILD}})
    assert not unchanged(tmp_path, REPORT_HTML, listed)  # not listed
    (tmp_path / REPORT_HTML).write_text("<html>mine</html>")
    assert is_ours(tmp_path, REPORT_JSON, {})  # names its build
    assert is_ours(tmp_path, BENCH_JSON, {})  # not there
    assert not is_ours(tmp_path, REPORT_HTML, {})
    assert is_ours(tmp_path, REPORT_HTML, {REPORT_HTML: {}})


def test_build_in_is_the_sha256_of_the_builds_records(tmp_path: Path) -> None:
    assert build_in(tmp_path) is None
    assert build_in(with_build(tmp_path, BUILD)) == BUILD
    for junk in ("{", "[]", json.dumps({"files": {JSONL: {"sha256": 3}}})):
        (tmp_path / METADATA).write_text(junk)
        assert build_in(tmp_path) is None


def test_write_derived_writes_beside_its_build_and_lists_what_it_wrote(tmp_path: Path) -> None:
    out = with_build(tmp_path / "out", BUILD)
    files = {REPORT_JSON: json.dumps({"build": BUILD}).encode(), REPORT_HTML: b"<html>"}
    write_derived(out, files, build=BUILD, read_from=out, hint="H")
    assert (out / REPORT_HTML).read_bytes() == b"<html>"
    listed = read_manifest(out)
    assert sorted(listed) == [REPORT_HTML, REPORT_JSON]
    assert all(unchanged(out, name, listed) for name in listed)
    assert {entry["build"] for entry in listed.values()} == {BUILD}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_derived(elsewhere, {BENCH_JSON: b"{}"}, build=BUILD, read_from=out, hint="H")
    assert sorted(read_manifest(elsewhere)) == [BENCH_JSON]


def test_write_derived_refuses_with_nothing_written(tmp_path: Path) -> None:
    out = with_build(tmp_path / "out", BUILD)
    (out / CARD).write_text("# my notes\n")
    files = {CARD: card(BUILD).encode()}
    with pytest.raises(OutputError) as caught:
        write_derived(out, files, build=BUILD, read_from=out, hint="choose another --to")
    assert caught.value.message == (
        f"{out / CARD}: is not a file arenatok wrote; arenatok leaves it alone"
    )
    assert caught.value.hint == "move it away, or choose another --to"
    with pytest.raises(StaleBuildError, match="the build was replaced while this command read"):
        write_derived(out, files, build=OTHER, read_from=out, hint="H", replace=(CARD,))
    other = with_build(tmp_path / "other", OTHER)
    with pytest.raises(OutputError, match="holds another build"):
        write_derived(other, files, build=BUILD, read_from=out, hint="H")
    assert (out / CARD).read_text() == "# my notes\n"
    assert not (out / MANIFEST).exists()
    assert sorted(p.name for p in other.iterdir()) == [METADATA]
    write_derived(out, files, build=BUILD, read_from=out, hint="H", replace=(CARD,))
    assert card_build((out / CARD).read_text()) == BUILD
