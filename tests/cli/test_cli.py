from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from arenatok import __version__
from arenatok.cli import cli
from tests.helpers import ROOT, TINY, battle, doc_text, write_jsonl

README = (ROOT / "README.md").read_text(encoding="utf-8")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    assert run("--version") == (0, f"arenatok, version {__version__}\n", "")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_example_and_a_page(name: str) -> None:
    command = cli.commands[name]
    assert isinstance(command, click.Command)
    assert command.help
    assert "Example:" in command.help
    code, out, _ = run(name, "-h")
    assert code == 0
    assert out.startswith(f"Usage: cli {name} [OPTIONS]")
    page = doc_text(f"commands/{name}.md")
    assert page.startswith(f"# `arenatok {name}`\n")
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert f"`{opt}" in page, f"docs/commands/{name}.md does not document {opt}"


def test_build_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert out == (
        "rows read 4 = written 4 + rejected 0\n"
        # q0 2+2+7, q1 (7+6)+(1+1)+(2+5), q2 11+2+2, q3 4+6+0: 58 tokens, 5 turns, 4 battles
        "tokens (cl100k_base): 58 in all, 14.5 per battle, 1.25 turns per battle\n"
        "winners: model_a 25.0% · model_b 25.0% · tie 25.0% · tie (bothbad) 25.0%\n"
        "model pairs: 2 ordered, 2 unordered\n"
        "quality flags: empty_response_b 1, special_token_text 1, multi_turn 1\n"
        "duplicates: same_id 0, same_battle 0 (exact 0, normalized 0); votes differ 0\n"
        "token cache: 0.0% of texts were repeats, counted once\n"
        f"wrote {tmp_path}/out/: data_out.json, data_out.jsonl, full_data_out.json, "
        "mini_data_out.json, preview_data_out.json, record.schema.json, artifact_metadata.json\n"
    )


def test_build_bad_row_exit_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", [TINY[0], battle("q9", turns=[("a", "b", None)])])
    code, out, err = run("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {src}: row 2 (question_id 'q9'): conversation_b[1].content must be a string, "
        "got null (pass --allow-null-turns to count a null reply as empty)\n"
        "Hint: fix the row, or pass --on-bad-row reject to write it to rejects.jsonl\n"
    )
    assert not (tmp_path / "out" / "data_out.json").exists()


def test_build_reject_mode(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", [TINY[0], battle("q9", turns=[("a", "b", None)])])
    code, out, _ = run(
        "build", "--source", str(src), "--out", str(tmp_path / "out"), "--on-bad-row", "reject"
    )
    assert code == 0
    assert out.startswith("rows read 2 = written 1 + rejected 1\n")
    assert "rejects.jsonl" in out


def test_missing_source(tmp_path: Path) -> None:
    assert run("build", "--source", str(tmp_path / "x.parquet")) == (
        2,
        "",
        f"Error: {tmp_path}/x.parquet: no such file\nHint: check the path (--source FILE)\n",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "0 is not a positive number (--limit all: no limit)"),
        ("many", "'many' is not a whole number or 'all'"),
    ],
)
def test_bad_limit(value: str, message: str) -> None:
    code, _, err = run("build", "--limit", value)
    assert code == 2
    assert f"Invalid value for '--limit': {message}" in err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "build", "--source", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "SourceError"


def test_the_docs_define_every_metric() -> None:
    from arenatok.pipeline.metrics import DEFINITIONS

    table = doc_text("concepts/metrics.md").replace(
        "\\|", "|"
    )  # a | inside a Markdown table cell is written \|
    for name, text in DEFINITIONS.items():
        assert f"| `{name}` | {text} |" in table, name


def test_readme_test_command_is_what_ci_runs() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[0].endswith("&& arenatok build")
    assert commands[1] in ci


def test_cli_end_to_end_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "--source", str(arena_parquet), "--out", str(tmp_path / "o"))
    assert (code, err) == (0, "")
    assert out.splitlines()[:5] == [
        "rows read 300 = written 300 + rejected 0",
        "read 300 of 2,008 rows of elobench.parquet (--limit all for every row)",
        "tokens (cl100k_base): 116,516 in all, 388.4 per battle, 1.00 turns per battle",
        "winners: model_a 39.7% · model_b 37.3% · tie 23.0% · tie (bothbad) 0.0%",
        "model pairs: 47 ordered, 26 unordered",
    ]


def test_the_command_list_cuts_no_summary() -> None:
    code, out, _ = run("--help")
    assert code == 0
    listed = out[out.index("Commands:") :].splitlines()[1:]
    assert [line.split()[0] for line in listed] == sorted(cli.commands)
    for line in listed:
        name, summary = line.split(maxsplit=1)
        assert not summary.endswith("..."), line
        assert summary == cli.commands[name].short_help


def test_build_help_names_every_file_it_writes_and_limit_each_source() -> None:
    from arenatok.pipeline.write import DATA, FULL, JSONL, METADATA, MINI, PREVIEW, SCHEMA

    _, out, _ = run("build", "--help")
    text = " ".join(out.split())
    for name in (DATA, JSONL, FULL, MINI, PREVIEW, SCHEMA, METADATA, "rejects.jsonl"):
        assert name in text, name
    assert "duplicates.jsonl" in text
    assert "first N rows of each source" in text


@pytest.mark.parametrize("rounds", ["1", "99", "-1"])
def test_too_few_rounds_are_the_same_one_line_in_report_and_bench(
    rounds: str, tmp_path: Path
) -> None:
    """One rule: a 95% interval needs 100 resamples (0: none); report (whatever its
    intervals) and bench refuse fewer with the same two lines."""
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    refused = [
        run(*command, str(tmp_path / "o"), "--rounds", rounds)
        for command in (["report", "--intervals", "bootstrap"], ["report"], ["bench"])
    ]
    assert refused == [(2, "", refused[0][2])] * 3
    assert refused[0][2] == (
        f"Error: --rounds must be 0 (no intervals) or a whole number, 100 or more, got {rounds}\n"
        "Hint: a 95% interval's ends are the 2.5th and 97.5th percentiles of the resamples, "
        "which fewer than 100 place too roughly; for example --rounds 1000\n"
    )
    assert not (tmp_path / "o" / "report.json").exists()


def test_the_readme_is_an_entry_point_into_the_docs() -> None:
    assert len(README.splitlines()) <= 250
    linked = re.findall(r"\]\((docs/[^)#]+)\)", README)
    assert {"docs/getting-started.md", "docs/commands/index.md", "docs/api.md"} <= set(linked)
    assert all((ROOT / page).is_file() for page in linked)
    # the two commands first, then one worked example with its output
    assert README.index("```sh") < README.index("## A worked example") < README.index("\n$ ")
