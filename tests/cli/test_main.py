"""`cli.main`: the `arenatok` group: its version, errors as `Error:` and `Hint:` lines with
their exit code, usage errors pointing to --help, --debug anywhere showing the traceback,
interrupts saying that no output was changed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from arenatok import __version__
from arenatok.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    assert run("--version") == (0, f"arenatok, version {__version__}\n", "")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "build", "--source", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "SourceError"
