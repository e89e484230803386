"""`cli`: the command line as a whole: every command's help, example and docs page, the
command list, the README's commands. Each command's own tests are in the file of its module."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from tests.helpers import ROOT, doc_text

README = (ROOT / "README.md").read_text(encoding="utf-8")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


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


def test_readme_test_command_is_what_ci_runs() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[0].endswith("&& arenatok build")
    assert commands[1] in ci


def test_the_command_list_cuts_no_summary() -> None:
    code, out, _ = run("--help")
    assert code == 0
    listed = out[out.index("Commands:") :].splitlines()[1:]
    assert [line.split()[0] for line in listed] == sorted(cli.commands)
    for line in listed:
        name, summary = line.split(maxsplit=1)
        assert not summary.endswith("..."), line
        assert summary == cli.commands[name].short_help


def test_the_readme_is_an_entry_point_into_the_docs() -> None:
    assert len(README.splitlines()) <= 250
    linked = re.findall(r"\]\((docs/[^)#]+)\)", README)
    assert {"docs/getting-started.md", "docs/commands/index.md", "docs/api.md"} <= set(linked)
    assert all((ROOT / page).is_file() for page in linked)
    # the two commands first, then one worked example with its output
    assert README.index("```sh") < README.index("## A worked example") < README.index("\n$ ")
