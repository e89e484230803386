"""End to end, the commands that read a build (validate, report, bench): a tampered or
replaced build is refused in one line, they read nothing outside it, and their files go together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from tests.e2e.commands import cli_run, run
from tests.helpers import TINY, battle, edit_records, write_jsonl

BREAKS = {
    "total_tokens a string": lambda r: r["context"]["token_usage"].update(total_tokens="many"),
    "model_a an int": lambda r: r["context"].update(model_a=7),
    "language a list": lambda r: r["context"]["api_metadata"].update(language=["en"]),
}


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


def test_an_analysis_leaves_a_users_file_of_its_name_alone(built: Path) -> None:
    (built / "report.json").write_text('{"mine": true}')
    result = run("report", built, "--rounds", "0")
    assert result.exit_code == 3
    assert f"{built}/report.json: is not a file arenatok wrote" in result.output
    assert (built / "report.json").read_text() == '{"mine": true}'
    assert not (built / "report.html").exists()


@pytest.mark.parametrize("change", BREAKS.values(), ids=list(BREAKS))
@pytest.mark.parametrize(
    "command", [["report", "--rounds", "0"], ["bench", "--rounds", "0"], ["card"]]
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


@pytest.mark.parametrize("change", METADATA_BREAKS.values(), ids=list(METADATA_BREAKS))
def test_metadata_that_validate_rejects_is_refused_by_every_reader(
    built: Path, change: Any
) -> None:
    meta = json.loads((built / "artifact_metadata.json").read_text())
    change(meta)
    (built / "artifact_metadata.json").write_text(json.dumps(meta))
    assert validate_dir(built)
    for command in (["card"], ["report", "--rounds", "0"], ["bench", "--rounds", "0"]):
        result = run(command[0], built, *command[1:])
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith(f"Error: {built}: not a build arenatok can read: ")
        assert len(result.output.splitlines()) == 2
    assert not (built / "README.md").exists()


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
    result = run("bench", built, "--rounds", "0", "--out", other)
    assert result.exit_code == 3
    assert f"--out {other}: holds another build" in result.output
    assert not (other / "bench.json").exists()
    assert validate_dir(other) == []


def test_validate_opens_nothing_outside_the_directory(tiny_build: Path) -> None:
    (tiny_build.parent / "secret.txt").write_text("x" * 12345)
    meta_path = tiny_build / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    for name in ("../secret.txt", "/etc/hostname"):
        meta["files"][name] = {"bytes": 1, "sha256": "0" * 64}
    meta_path.write_text(json.dumps(meta))
    problems = validate_dir(tiny_build)
    assert (
        "artifact_metadata.json: lists '../secret.txt', which is not a file this build writes"
        in (problems)
    )
    assert not any("12345" in p for p in problems)


def test_report_and_its_page_change_together(
    tiny_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arenatok.runtime import atomic

    assert cli_run("report", str(tiny_build), "--rounds", "0")[0] == 0
    before = {n: (tiny_build / n).read_bytes() for n in ("report.json", "report.html")}
    assert validate_dir(tiny_build) == []
    real = atomic.TempFile.close

    def stop_at_the_page(self: Any) -> dict[str, object]:
        if self.final.name == "report.html":
            raise KeyboardInterrupt  # Ctrl-C once report.json's temp file is complete
        return real(self)

    monkeypatch.setattr(atomic.TempFile, "close", stop_at_the_page)
    code, _, _ = cli_run("report", str(tiny_build), "--rounds", "0", "--seed", "3")
    assert code == 130
    monkeypatch.undo()
    assert {n: (tiny_build / n).read_bytes() for n in before} == before
    assert not [p.name for p in tiny_build.iterdir() if p.name.endswith(".tmp")]
    # A page from another run beside the JSON file is found.
    (tiny_build / "report.html").write_bytes(before["report.html"].replace(b"arenatok-run", b"x"))
    assert validate_dir(tiny_build) == [
        f"report.html: report.html was not made in the same run as report.json: run arenatok "
        f"report {tiny_build} again"
    ]


def test_a_date_past_what_the_system_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "99999999999999999999")
    code, _, err = cli_run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith("Error: SOURCE_DATE_EPOCH must be whole seconds since 1970, got '9999")


def test_metadata_nested_too_deeply(tiny_build: Path) -> None:
    (tiny_build / "artifact_metadata.json").write_text("[" * 200_000 + "]" * 200_000)
    assert validate_dir(tiny_build)[0].startswith("artifact_metadata.json: unreadable")
    for command in (["report", "--rounds", "0"], ["bench", "--rounds", "0"], ["card"]):
        code, _, err = cli_run(command[0], str(tiny_build), *command[1:])
        assert code == 2
        assert err.startswith(
            f"Error: {tiny_build}: not a build arenatok can read: "
            "artifact_metadata.json: unreadable"
        )
        assert err.endswith(
            f"Hint: arenatok validate {tiny_build} lists every problem; build it again\n"
        )


def test_a_bench_whose_votes_all_go_one_way_says_so(tmp_path: Path) -> None:
    rows = [
        battle(f"q{i}", [(f"question number {i}", "yes " * (i % 9 + 1), "no")], winner="model_a")
        for i in range(400)
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out, limit=None)
    result = run("bench", out, "--rounds", "0")
    assert result.exit_code == 2
    assert "every decisive vote of the training split has one outcome (model_a)" in result.output
    assert "too few" not in result.output
