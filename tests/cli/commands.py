"""The command line run in this process (click's CliRunner), as the CLI tests call it."""

from __future__ import annotations

from click.testing import CliRunner

from arenatok.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr
