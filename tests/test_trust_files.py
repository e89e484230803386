"""Trust at the edges (files and readers): a build removes or replaces only files it lists as
its own, with unchanged bytes; report, bench, card and push read a build through the checks of
`validate` and refuse one it rejects; an analysis commits only beside the build it read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, edit_records, rewrite, write_jsonl


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "b.jsonl", [*TINY, battle("bad", winner="nobody")])


def test_a_users_rejects_file_stays_when_the_build_has_none(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects.jsonl").write_text("my own notes\n")
    (out / "duplicates.jsonl").write_text("mine too\n")
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    result = run("build", "--source", good, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "rejects.jsonl").read_text() == "my own notes\n"
    assert (out / "duplicates.jsonl").read_text() == "mine too\n"
    assert validate_dir(out) == []


def test_a_users_file_in_the_way_is_never_replaced(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects.jsonl").write_text("my own notes\n")
    result = run("build", "--source", src, "--out", out, "--on-bad-row", "reject")
    assert result.exit_code == 3
    assert result.output.startswith(f"Error: {out}/rejects.jsonl: is not a file of the build in")
    assert "Hint: move it away, or choose another --out directory" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["rejects.jsonl"]
    assert (out / "rejects.jsonl").read_text() == "my own notes\n"


def test_the_builds_own_optional_files_go_only_unchanged(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    build(src, out=out, on_bad_row="reject")
    build(good, out=out)  # its rejects.jsonl is listed and unchanged: it goes
    assert not (out / "rejects.jsonl").exists()
    build(src, out=out, on_bad_row="reject")
    with (out / "rejects.jsonl").open("a") as f:
        f.write("a note of mine\n")
    result = run("build", "--source", good, "--out", out)
    assert result.exit_code == 0
    assert "left in place" in result.output
    assert "rejects.jsonl (changed since the last build wrote it)" in result.output
    assert (out / "rejects.jsonl").read_text().endswith("a note of mine\n")


def test_a_tampered_file_table_names_nothing_to_remove(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    build(good, out=out)
    (out / "notes.txt").write_text("mine")
    meta = json.loads((out / "artifact_metadata.json").read_text())
    meta["files"]["notes.txt"] = {"bytes": 4, "sha256": "0" * 64}
    (out / "artifact_metadata.json").write_text(json.dumps(meta))
    build(good, out=out)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", [["build"], ["report"], ["bench"]])
def test_an_empty_out_is_an_error_not_the_working_directory(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    args = {"build": ["--source", good, "--out", ""], "report": [""], "bench": ["x", "--out", ""]}
    result = run(*command, *args[command[0]])
    assert result.exit_code == 2
    assert "is empty; arenatok does not take it as the working directory" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


def test_out_a_dangling_link_says_so(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    result = run("build", "--source", good, "--out", tmp_path / "link")
    assert result.exit_code == 2
    assert f"is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in result.output
    assert "File exists" not in result.output


@pytest.fixture
def built(tmp_path: Path) -> Path:
    rows = [battle(f"q{i}", winner=["model_a", "model_b", "tie"][i % 3]) for i in range(60)]
    for i, row in enumerate(rows):
        row["conversation_a"][0]["content"] = f"question {i}"
        row["conversation_b"][0]["content"] = f"question {i}"
        row["conversation_a"][1]["content"] = "yes " * (1 + i % 7)
    out = tmp_path / "built"
    build(write_jsonl(tmp_path / "rows.jsonl", rows), out=out, limit=None)
    return out


def test_an_analysis_leaves_a_users_file_of_its_name_alone(built: Path) -> None:
    (built / "report.json").write_text('{"mine": true}')
    result = run("report", built, "--rounds", "0")
    assert result.exit_code == 3
    assert f"{built}/report.json: is not a file arenatok wrote" in result.output
    assert (built / "report.json").read_text() == '{"mine": true}'
    assert not (built / "report.html").exists()


def test_a_rebuild_keeps_a_derived_file_changed_since(built: Path, tmp_path: Path) -> None:
    assert run("report", built, "--rounds", "0").exit_code == 0
    with (built / "report.html").open("a") as f:
        f.write("<!-- my notes -->")
    src = json.loads((built / "artifact_metadata.json").read_text())["source"]["path"]
    result = run("build", "--source", src, "--limit", "all", "--out", built)
    assert result.exit_code == 0
    assert not (built / "report.json").exists()  # ours, unchanged: gone with its build
    assert (built / "report.html").read_text().endswith("<!-- my notes -->")
    assert "report.html (changed since arenatok wrote it" in result.output


BREAKS = {
    "total_tokens a string": lambda r: r["context"]["token_usage"].update(total_tokens="many"),
    "model_a an int": lambda r: r["context"].update(model_a=7),
    "language a list": lambda r: r["context"]["api_metadata"].update(language=["en"]),
}


@pytest.mark.parametrize("change", BREAKS.values(), ids=list(BREAKS))
@pytest.mark.parametrize(
    "command", [["report", "--rounds", "0"], ["bench", "--rounds", "1"], ["card"]]
)
def test_a_record_that_breaks_the_schema_is_refused_in_one_line(
    built: Path, change: Any, command: list[str]
) -> None:
    edit_records(built, change)
    assert validate_dir(built)
    before = sorted(p.name for p in built.iterdir())
    result = run(command[0], built, *command[1:])
    assert result.exit_code == 2, result.output
    error, hint = result.output.splitlines()
    assert error.startswith(f"Error: {built}: not a build arenatok can read: data_out.jsonl line 1")
    assert hint == f"Hint: arenatok validate {built} lists every problem; build it again"
    assert sorted(p.name for p in built.iterdir()) == before  # nothing written


METADATA_BREAKS = {
    "source a string": lambda m: m.update(source="x"),
    "definitions a list": lambda m: m.update(definitions=["x"]),
    "no selection": lambda m: m.pop("selection"),
    "rows_written 10**15": lambda m: m["counts"].update(rows_written=10**15),
    "counts all 10**15": lambda m: [
        c.update({key: c[key] + 10**15}) if key in c else None
        for c, key in (
            (m["counts"], "rows_read"),
            (m["counts"], "rows_written"),
            (m["sources"][0]["counts"], "rows_read"),
            (m["sources"][0]["counts"], "rows_written"),
            (m["winner_distribution"]["tie"], "count"),
        )
    ],
}
"""Metadata edits that `validate` rejects; the last one adds up, and only the records tell."""


@pytest.mark.parametrize("change", METADATA_BREAKS.values(), ids=list(METADATA_BREAKS))
def test_metadata_that_validate_rejects_is_refused_by_every_reader(
    built: Path, change: Any
) -> None:
    meta = json.loads((built / "artifact_metadata.json").read_text())
    change(meta)
    (built / "artifact_metadata.json").write_text(json.dumps(meta))
    assert validate_dir(built)
    for command in (["card"], ["report", "--rounds", "0"], ["bench", "--rounds", "1"]):
        result = run(command[0], built, *command[1:])
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith(f"Error: {built}: not a build arenatok can read: ")
        assert len(result.output.splitlines()) == 2
    assert not (built / "README.md").exists()


def test_push_refuses_a_build_that_validate_rejects(built: Path) -> None:
    from arenatok.dataset.push import push
    from arenatok.errors import BuildError

    assert run("card", built).exit_code == 0
    edit_records(built, lambda r: r["context"]["token_usage"].update(total_tokens=10**15))
    with pytest.raises(BuildError, match="total_tokens is 1000000000000000"):
        push(built, "you/arena", api=object())


def test_push_refuses_a_card_changed_since_it_was_written(built: Path) -> None:
    from arenatok.dataset.push import push
    from arenatok.errors import SourceError

    assert run("card", built).exit_code == 0
    with (built / "README.md").open("a") as f:
        f.write("<img src=x onerror=alert(1)>\n")
    with pytest.raises(SourceError, match=r"README\.md is not as arenatok wrote it"):
        push(built, "you/arena", api=object())


def test_a_report_whose_build_is_replaced_meanwhile_writes_nothing(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arenatok.report import numbers

    src = json.loads((built / "artifact_metadata.json").read_text())["source"]["path"]
    real = numbers.build_report

    def racing(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        build(src, out=built, limit=30)  # another build lands while the report is made
        return report

    monkeypatch.setattr("arenatok.report.report_page.build_report", racing)
    result = run("report", built, "--rounds", "0")
    assert result.exit_code == 3
    assert "the build was replaced while this command read it; nothing was written" in (
        result.output
    )
    assert not (built / "report.json").exists()
    assert not (built / "report.html").exists()
    assert validate_dir(built) == []


def test_bench_into_another_build_is_refused(built: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    build(write_jsonl(tmp_path / "t.jsonl", TINY), out=other)
    result = run("bench", built, "--rounds", "1", "--out", other)
    assert result.exit_code == 3
    assert f"--out {other}: holds another build" in result.output
    assert not (other / "bench.json").exists()
    assert validate_dir(other) == []


def test_a_failed_card_leaves_no_empty_data_dir_and_no_lock(built: Path) -> None:
    rewrite(built, "data_out.jsonl", (built / "data_out.jsonl").read_bytes() + b"{}\n")
    result = run("card", built)
    assert result.exit_code == 2
    assert not (built / "data").exists()
    assert not (built / ".arenatok.lock").exists()
