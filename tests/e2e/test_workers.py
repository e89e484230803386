"""End to end, the worker processes of build, report and bench, through the real command (a
signal and a process's death are the point): a worker that dies, at any moment, is one error
and leaves the earlier build as it was; Ctrl-C or SIGTERM while the workers start is one line
and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, children, snapshot, wait_for_temp_files, write_jsonl

DIED = (
    "Error: a worker process died (out of memory?)\nHint: retry with fewer workers: --workers 1\n"
)


def arenatok(*args: str) -> subprocess.Popen[str]:
    """`arenatok ARGS` in a session of its own (a terminal's Ctrl-C reaches its group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "arenatok.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def workers(proc: subprocess.Popen[str]) -> list[int]:
    """The command's worker processes: the children of its fork server (its other child, the
    resource tracker, has none)."""
    return [w for child in children(proc.pid) for w in children(child)]


def importing(proc: subprocess.Popen[str]) -> bool:
    """Whether the command's fork server is halfway through what it imports for the workers
    (pyarrow's library is loaded, more is to come)."""
    for child in children(proc.pid):
        try:
            if "libarrow" in Path(f"/proc/{child}/maps").read_text():
                return True
        except OSError:
            continue
    return False


def wait_until(ready: Callable[[], object], proc: subprocess.Popen[str], what: str) -> None:
    """Poll `ready` every 5 ms until it is true; fail if the command ends or 60 s pass first."""
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} before the command ended: {proc.communicate()}")
        time.sleep(0.005)


def ended(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a command that must end within 60 s (a hang fails)."""
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running 60 s after the event: {proc.communicate()}")
    return proc.returncode, stdout, stderr


@pytest.mark.parametrize("moment", ["starting", "started", "writing"])
def test_a_worker_that_dies_ends_the_build_in_one_error(
    slow_source: Path, tmp_path: Path, moment: str
) -> None:
    """The kernel's out-of-memory killer picks the largest process: a worker. Killed as it
    starts, soon after, or mid-batch while the parent waits for it, the build ends with one
    error; its temp files are gone and the earlier build is untouched."""
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "small.jsonl", TINY), out=out)
    before = snapshot(out)
    proc = arenatok(
        "build", "--source", str(slow_source), "--limit", "all", "--out", str(out), "--workers", "2"
    )
    wait_until(lambda: workers(proc), proc, "worker process")
    if moment == "started":
        time.sleep(0.5)
    elif moment == "writing":
        wait_for_temp_files(out, proc)
    os.kill(workers(proc)[-1], signal.SIGKILL)
    assert ended(proc) == (1, "", DIED)
    assert snapshot(out) == before  # no temp file left, no earlier file touched
    assert validate_dir(out) == []


def _command(name: str, tmp_path: Path, slow_source: Path) -> list[str]:
    """The command line of `name` with 2 worker processes, busy for seconds (the report's and
    the bench's on 300 battles of 4 models, built here)."""
    out = str(tmp_path / "out")
    if name == "build":
        return [
            "build",
            "--source",
            str(slow_source),
            "--limit",
            "all",
            "--workers",
            "2",
            "--out",
            out,
        ]
    models = ["vicuna-13b", "koala-13b", "alpaca-13b", "dolly-v2-12b"]
    rows = [
        battle(
            f"q{i}",
            [(f"question {i}", "yes " * (1 + i % 7), "no " * (1 + i % 5))],
            model_a=models[i % 4],
            model_b=models[(i + 1 + i // 4 % 3) % 4],
            winner=["model_a", "model_b", "tie"][i % 3],
        )
        for i in range(300)
    ]
    build(write_jsonl(tmp_path / "rows.jsonl", rows), out=out, limit=None)
    if name == "report":
        return ["report", out, "--intervals", "bootstrap", "--rounds", "20000", "--jobs", "2"]
    return ["bench", out, "--jobs", "2", "--out", str(tmp_path / "bench")]


@pytest.mark.parametrize("moment", ["fork server importing", "worker"])
@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGINT, 130, "Interrupted: no output was changed.\n"),
        (signal.SIGTERM, 143, "Terminated: no output was changed.\n"),
    ],
)
@pytest.mark.parametrize("command", ["build", "report", "bench"])
def test_a_signal_while_the_workers_start_is_one_line(
    slow_source: Path, tmp_path: Path, command: str, sig: int, code: int, line: str, moment: str
) -> None:
    """Ctrl-C (SIGINT to the process group: the fork server and the workers get it too) or
    SIGTERM (to the command alone) while the fork server imports what the workers need, or as
    the first worker starts: the command's one line, no traceback of a process on its way up,
    no semaphore reported leaked by the resource tracker after it."""
    proc = arenatok(*_command(command, tmp_path, slow_source))
    if moment == "fork server importing":
        wait_until(lambda: importing(proc), proc, "fork server")
    else:
        wait_until(lambda: workers(proc), proc, "worker process")
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    assert ended(proc) == (code, "", line)
