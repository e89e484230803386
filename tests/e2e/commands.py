"""The command line as the end-to-end suites call it, in process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from arenatok.cli import cli
from arenatok.errors import ArenatokError
from arenatok.pipeline.driver import build


def run(*args: object) -> Any:
    """click's result of `arenatok ARGS` (paths may be given as they are)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def cli_run(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); an exception other than an exit is raised."""
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a failure of its own
    return result.exit_code, result.stdout, result.stderr


def build_rejecting(src: Path, out: Path) -> Any:
    try:
        return build(src, out=out, on_bad_row="reject", limit=None, allow_empty=True)
    except ArenatokError as e:  # a file-level error is allowed, a crash is not
        return e


FUZZ = settings(
    max_examples=int(os.environ.get("ARENATOK_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
