"""A hostile sweep of the command line: whatever a newcomer types, every command ends with a
documented exit code and, on failure, one `Error:` line and at most a `Hint:` line, never a
traceback. `ARENATOK_FUZZ_EXAMPLES` sets how many random command lines are tried. (The Ray
engine, slow to start, has its own tests in tests/pipeline/test_engine.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.errors import EXIT_CODES
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, write_jsonl, write_parquet

FUZZ = settings(
    max_examples=int(os.environ.get("ARENATOK_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(args: list[str]) -> int:
    """Run the command; assert the promises about how it ends; return the exit code."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in EXIT_CODES or result.exit_code == 0, (args, result.output)
    assert "Traceback" not in result.output, (args, result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError((args, repr(result.exception)))
    if result.exit_code not in (0, 1) or result.stderr.startswith("Error"):
        lines = result.stderr.splitlines()
        if result.exit_code not in (130, 143) and args:  # `arenatok` alone: its help
            # One line that says what is wrong, then what to do (click's own errors too).
            assert lines[0].startswith("Error: "), (args, result.stderr)
            assert len(lines) == 2, (args, result.stderr)
            assert lines[1].startswith("Hint: "), (args, result.stderr)
    return result.exit_code


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sweep")
    good = write_jsonl(d / "good.jsonl", TINY)
    made: dict[str, Path] = {
        "good": good,
        "parquet": write_parquet(d / "good.parquet", TINY),
        "empty": d / "empty.jsonl",
        "dir": d / "a-directory",
        "garbage.parquet": d / "garbage.parquet",
        "object.json": d / "object.json",
        "list.json": d / "list.json",
        "nul.jsonl": d / "nul.jsonl",
        "unicode": d / "ünïcødé name.jsonl",
        "headers.csv": d / "headers.csv",
        "missing": d / "missing.parquet",
        "built": d / "built",
        "file-as-out": d / "a-file",
    }
    made["empty"].write_bytes(b"")
    made["dir"].mkdir()
    made["garbage.parquet"].write_bytes(b"PAR1" + os.urandom(200))
    made["object.json"].write_text('{"a": 1}')
    made["list.json"].write_text(json.dumps(TINY))
    made["nul.jsonl"].write_bytes(b"\x00\x00\x00\n")
    write_jsonl(made["unicode"], [battle("ü")])
    made["headers.csv"].write_text("a,b,c\n1,2,3\n")
    made["file-as-out"].write_text("not a directory")
    build(good, out=made["built"])
    return made


SOURCES = [
    "good",
    "parquet",
    "empty",
    "dir",
    "garbage.parquet",
    "object.json",
    "list.json",
    "nul.jsonl",
    "unicode",
    "headers.csv",
    "missing",
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("reject", [False, True])
def test_build_from_every_kind_of_source(
    files: dict[str, Path], source: str, reject: bool, tmp_path: Path
) -> None:
    args = ["build", "--source", str(files[source]), "--out", str(tmp_path / "o")]
    check(args + (["--on-bad-row", "reject"] if reject else []))


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "0"],
        ["--limit", "-3"],
        ["--limit", "many"],
        ["--limit", "99999999999999999999999"],
        ["--workers", "0"],
        ["--workers", "lots"],
        ["--encoding", ""],
        ["--encoding", ",,,"],
        ["--encoding", "cl100k_base,nope"],
        ["--tokenizer", "/nonexistent/tokenizer.json"],
        ["--tokenizer", "README.md"],
        ["--layout", "arena-140k"],
        ["--layout", "kaggle-55k"],
        ["--format", "mt-bench"],
        ["--format", "nonsense"],
        ["--chat-overhead", "anthropic"],
        ["--engine", "spark"],
        ["--dataset-name", ""],
        ["--dataset-name", "x\u2028y\n"],
        ["--allow-null-turns", "--allow-empty", "--on-bad-row", "reject"],
    ],
)
def test_build_with_odd_options(files: dict[str, Path], args: list[str], tmp_path: Path) -> None:
    check(["build", "--source", str(files["good"]), "--out", str(tmp_path / "o"), *args])


def test_out_is_a_file(files: dict[str, Path]) -> None:
    assert check(["build", "--source", str(files["good"]), "--out", str(files["file-as-out"])])


@pytest.mark.parametrize("command", ["validate", "report", "card", "bench"])
@pytest.mark.parametrize("where", ["missing", "dir", "good", "file-as-out", "built"])
def test_analysis_commands_on_every_kind_of_directory(
    files: dict[str, Path], command: str, where: str
) -> None:
    extra = ["--rounds", "0"] if command in ("report", "bench") else []
    check([command, str(files[where]), *extra])


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "{built}", "--strategy", "truncate_head:0"],
        ["bench", "{built}", "--strategy", "truncate_head:x"],
        ["bench", "{built}", "--strategy", "lowrank:-1"],
        ["bench", "{built}", "--strategy", "os:system"],
        ["bench", "{built}", "--strategy", "nonexistent_module_xyz:Thing"],
        ["bench", "{built}", "--limit", "0"],
        ["bench", "{built}", "--rounds", "1"],
        ["report", "{built}", "--rounds", "-1"],
        ["report", "{built}", "--seed", "x"],
        ["push", "{built}", "--repo-id", "a/b/c"],
        ["push", "{built}", "--repo-id", "ok/name"],
        ["push", "{built}"],
        ["nonsense-command"],
        [],
    ],
)
def test_analysis_commands_with_odd_options(files: dict[str, Path], args: list[str]) -> None:
    check([a.format(built=files["built"]) for a in args])


option_values = st.sampled_from(
    ["0", "1", "-1", "all", "auto", "", " ", "x", "cl100k_base", "o200k_base", "reject", "error",
     "openai", "local", "arena", "kaggle-55k", "\u2028", "a" * 300, "/", "//x"]
)  # fmt: skip
build_options = st.sampled_from(
    ["--limit", "--encoding", "--layout", "--chat-overhead", "--on-bad-row", "--dataset-name",
     "--workers", "--engine", "--tokenizer"]
)  # fmt: skip
flags = st.sampled_from(["--allow-null-turns", "--allow-empty"])


@FUZZ
@given(
    st.lists(st.one_of(st.tuples(build_options, option_values), flags.map(lambda f: (f,)))),
    st.sampled_from(SOURCES),
)
def test_random_build_command_lines(
    files: dict[str, Path], tmp_path: Path, parts: list[tuple[str, ...]], source: str
) -> None:
    args = ["build", "--source", str(files[source]), "--out", str(tmp_path / "o")]
    check(args + [x for p in parts for x in p])
