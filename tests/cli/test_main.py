"""`cli.main`: the `arenatok` group: its version, errors as `Error:` and `Hint:` lines with
their exit code, usage errors pointing to --help, --debug anywhere showing the traceback,
interrupts saying that no output was changed."""

from __future__ import annotations

import errno
import os
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok import __version__
from arenatok.cli import build_command, cli
from arenatok.cli.main import _within_address_limit
from arenatok.errors import OutputError
from arenatok.runtime.interrupts import Interrupted
from tests.cli.commands import run
from tests.helpers import TINY, write_jsonl


def test_version() -> None:
    assert run("--version") == (0, f"arenatok, version {__version__}\n", "")


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "build", "--source", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "SourceError"


def test_debug_may_come_anywhere_on_the_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "--source", str(tmp_path / "x.json"), "--debug"])
    assert type(result.exception).__name__ == "SourceError"
    code, _, err = run("build", "--source", str(tmp_path / "x.json"))
    assert (code, err) == (
        2,
        f"Error: {tmp_path}/x.json: no such file\nHint: check the path (--source FILE)\n",
    )


def test_a_usage_error_is_one_line_and_points_to_the_help() -> None:
    code, out, err = run("build", "--nosuch")
    assert (code, out) == (2, "")
    assert err.startswith("Error: No such option '--nosuch'.")
    assert err.endswith("\nHint: cli build --help lists every option and its values\n")
    assert run("nosuch")[2] == (
        "Error: No such command 'nosuch'.\nHint: cli --help lists every option and its values\n"
    )


def test_no_command_shows_the_help() -> None:
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: cli [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.stderr


def failing(error: BaseException) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        raise error

    return fail


@pytest.mark.parametrize(
    ("error", "code", "said"),
    [
        (KeyboardInterrupt(), 130, "Interrupted: no output was changed.\n"),
        (Interrupted(signal.SIGINT), 130, "Interrupted: no output was changed.\n"),
        (Interrupted(signal.SIGTERM), 143, "Terminated: no output was changed.\n"),
        (
            MemoryError(),
            1,
            "Error: out of memory\nHint: free memory or raise the limit (ulimit -v), or ask for "
            "less: fewer --workers or --jobs, a smaller --limit\n",
        ),
        (
            OSError(errno.EMFILE, "Too many open files"),
            1,
            f"Error: too many open files (this process may have "
            f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]} open at once)\n"
            "Hint: raise the limit (ulimit -n 4096), or use fewer --workers or --jobs\n",
        ),
        (OutputError("out: full", hint=None), 3, "Error: out: full\n"),
    ],
)
def test_what_stops_a_command_is_one_message_and_its_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int,
    said: str,
) -> None:
    monkeypatch.setattr(build_command, "build", failing(error))
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    assert run("build", "--source", str(src), "--out", str(tmp_path / "o")) == (code, "", said)
    if not isinstance(error, KeyboardInterrupt):  # (click turns those into Aborted!)
        debug = CliRunner().invoke(cli, ["--debug", "build", "--source", str(src)])
        assert debug.exception is error  # --debug: the error itself, with its traceback


def test_an_os_error_that_is_no_resource_shortage_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(build_command, "build", failing(error))
    result = CliRunner().invoke(cli, ["build", "--source", str(tmp_path)])
    assert result.exception is error


@pytest.mark.parametrize("limited", [True, False])
def test_under_an_address_limit_arrow_allocates_with_malloc(
    monkeypatch: pytest.MonkeyPatch, limited: bool
) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    limit = 2**31 if limited else resource.RLIM_INFINITY
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (limit, limit))
    _within_address_limit()
    assert os.environ.get("ARROW_DEFAULT_MEMORY_POOL") == ("system" if limited else None)
