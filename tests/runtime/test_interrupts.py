"""Signals: taken at safe points, ignored when the caller ignores them, never undoing a finished
build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.pipeline import write
from arenatok.pipeline.driver import build
from arenatok.runtime import interrupts
from arenatok.runtime.interrupts import Interrupted
from tests.helpers import TINY, snapshot, wait_for_temp_files, write_jsonl


def _ignoring(*signals: int) -> Callable[[], None]:
    """A preexec_fn that starts the child with `signals` ignored, as a shell does for a
    background job (`cmd &` ignores SIGINT) or `nohup` for SIGHUP."""

    def start() -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)

    return start


def _build(slow_source: Path, out: Path, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "arenatok.cli", "build", "--source", str(slow_source)),
            *("--limit", "all", "--out", str(out), "--workers", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_ignored_signal_stays_ignored(slow_source: Path, tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out"
    proc = _build(slow_source, out, preexec_fn=_ignoring(sig))
    wait_for_temp_files(out, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert (proc.returncode, stderr) == (0, "")
    assert stdout.startswith("rows read 6,000 = written 6,000 + rejected 0\n")
    assert validate_dir(out) == []


def test_sigterm_in_a_background_job_stops_cleanly(slow_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "small.jsonl", TINY), out=out)
    before = snapshot(out)
    proc = _build(slow_source, out, preexec_fn=_ignoring(signal.SIGINT))
    wait_for_temp_files(out, proc)
    proc.send_signal(signal.SIGINT)  # ignored, as asked
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stdout, stderr) == (143, "", "Terminated: no output was changed.\n")
    assert snapshot(out) == before  # no lock, no temp file, the earlier build intact


def test_held_notes_a_signal_and_check_raises_it() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupts.held():
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupts.caught() == signal.SIGINT
        with pytest.raises(Interrupted) as e:
            interrupts.check()
    assert (e.value.signum, e.value.exit_code) == (signal.SIGINT, 130)
    assert signal.getsignal(signal.SIGINT) is before
    interrupts.check()  # outside: nothing pending


def test_held_leaves_an_ignored_signal_ignored() -> None:
    old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with interrupts.held():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
            interrupts.check()  # nothing was noted: the signal was ignored
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_signal_during_the_final_renames_does_not_undo_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def replace_and_interrupt(src: str, dst: str) -> None:
        if str(dst).endswith(write.METADATA):  # the last rename of the commit
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the files are renamed into place
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace_and_interrupt)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    result = CliRunner().invoke(cli, ["build", "--source", str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "a stop signal came while the finished files were renamed into place: the build "
        "completed, and its output is whole\n"
    )
    assert "no output was changed" not in result.output
    assert validate_dir(tmp_path / "o") == []


def test_after_a_commit_a_stop_signal_is_noted_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where the command line asks for it, a signal after the commit put the output in place
    cannot make its words untrue ("no output was changed"): it is noted, the command completes
    and says so. Before the commit, and without the request (a library caller), it still
    stops the work."""
    monkeypatch.setattr(interrupts, "_late", None)
    monkeypatch.setattr(interrupts, "_after_commit", False)
    saved = {sig: signal.getsignal(sig) for sig in interrupts.HELD}
    try:
        with interrupts.held():
            interrupts.committed()  # not asked for: nothing changes
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        interrupts.hold_after_commit()
        with interrupts.held():
            pass  # no commit yet
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert interrupts.late() is None
        with interrupts.held():
            interrupts.committed()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupts.late() == signal.SIGTERM
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_build_interrupted_after_its_commit_exits_0_and_says_it_is_whole(
    tmp_path: Path,
) -> None:
    """The command line, end to end: SIGTERM sent by the build itself after its commit, as it
    prints its summary (as a user's Ctrl-C or a supervisor's stop may come)."""
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    script = (
        "import os, signal, sys\n"
        "from arenatok.cli import output\n"
        "summary = output.build_summary\n"
        "def late(result):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # after the commit, as the summary prints\n"
        "    return summary(result)\n"
        "output.build_summary = late\n"
        "from arenatok.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "build", "--source", str(src), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "A stop signal came after the output was written: the command completed, and its "
        "output is whole.\n"
    )
    assert validate_dir(tmp_path / "o") == []
