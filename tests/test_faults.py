"""Faults and interrupts: nothing half-written, earlier outputs intact, one clear line each."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.errors import OutputError
from arenatok.pipeline.driver import build
from arenatok.runtime import atomic
from tests.helpers import TINY, write_jsonl, write_parquet


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def arenatok(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arenatok.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for_temp_files(directory: Path, proc: subprocess.Popen[str]) -> None:
    """Until the build has started writing (a temp file with data in it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.stat().st_size > 100_000 for p in directory.glob(".data_out.json.*.tmp")):
            return
        time.sleep(0.02)
    raise AssertionError(f"the build never started writing: {proc.communicate()}")


@pytest.fixture
def earlier_run(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "small.jsonl", TINY), out=out)
    return out, snapshot(out)


@pytest.mark.parametrize(
    ("sig", "code", "message"),
    [
        (signal.SIGINT, 130, "Interrupted: no output was changed.\n"),
        (signal.SIGTERM, 143, "Terminated: no output was changed.\n"),
    ],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupt_keeps_earlier_outputs(
    slow_source: Path,
    earlier_run: tuple[Path, dict[str, bytes]],
    sig: int,
    code: int,
    message: str,
    workers: str,
) -> None:
    out, before = earlier_run
    # A new session, signalled as a whole: like Ctrl-C in a terminal, workers get it too.
    proc = arenatok(
        "build",
        "--source",
        str(slow_source),
        "--limit",
        "all",
        "--out",
        str(out),
        "--workers",
        workers,
        start_new_session=True,
    )
    wait_for_temp_files(out, proc)
    os.killpg(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stdout, stderr) == (code, "", message)
    assert snapshot(out) == before  # no temp file left, no earlier file touched
    assert validate_dir(out) == []


def test_sigkill_leaves_no_partial_file(
    slow_source: Path, earlier_run: tuple[Path, dict[str, bytes]]
) -> None:
    out, before = earlier_run
    proc = arenatok("build", "--source", str(slow_source), "--limit", "all", "--out", str(out))
    wait_for_temp_files(out, proc)
    proc.kill()
    proc.communicate()
    after = snapshot(out)
    finals = {k: v for k, v in after.items() if not k.startswith(".")}
    assert finals == before  # every final file is the earlier run's
    strays = sorted(k for k in after if k.endswith(".tmp"))  # the killed build's temp files
    assert strays
    # The earlier dataset still holds; validate names the leftovers.
    assert validate_dir(out) == [
        f"{k}: a temp file left by a run that was killed (the next run removes it)" for k in strays
    ]
    # The next build takes the lock over and removes the leftovers.
    build(write_jsonl(out.parent / "small.jsonl", TINY[:2]), out=out)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert validate_dir(out) == []


def test_a_mix_of_old_and_new_files_is_detected(
    earlier_run: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    # What a kill inside the final renames leaves: some new files, no metadata yet.
    out, _ = earlier_run
    new = tmp_path / "new"
    build(write_jsonl(tmp_path / "other.jsonl", TINY[1:]), out=new)
    shutil.copy(new / "data_out.jsonl", out / "data_out.jsonl")
    kept = (out / "artifact_metadata.json").read_bytes()
    assert validate_dir(out) == [
        "data_out.jsonl: sha256 differs from the metadata (the file was changed)"
        if (new / "data_out.jsonl").stat().st_size == (out / "data_out.json").stat().st_size
        else f"data_out.jsonl: {(new / 'data_out.jsonl').stat().st_size} bytes, the metadata "
        f"says {json.loads(kept)['files']['data_out.jsonl']['bytes']}"
    ]
    (out / "artifact_metadata.json").unlink()
    assert validate_dir(out) == [
        "artifact_metadata.json: missing: the build did not finish, or this is not its output"
    ]


def test_disk_full(
    earlier_run: tuple[Path, dict[str, bytes]], slow_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = earlier_run
    calls = 0
    real_write = atomic.TempFile.write

    def write_until_full(self: Any, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(atomic.TempFile, "write", write_until_full)
    with pytest.raises(OutputError) as e:
        build(slow_source, out=out, limit=2000, batch_size=100)
    assert e.value.message == f"{out}: no space left on the device"
    assert e.value.hint == "free space and retry"
    assert snapshot(out) == before


def _deny(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make `path` unreadable and unwritable: chmod, and, for root (whom permissions do not
    stop), a PermissionError from the OS calls that open it."""
    path.chmod(0o555 if path.is_dir() else 0o000)
    if os.geteuid() != 0:
        return
    real_open, real_os_open = Path.open, os.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
        if Path(file).parent == path and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    monkeypatch.setattr(os, "open", os_open)


def test_read_only_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    out = tmp_path / "out"
    out.mkdir()
    _deny(monkeypatch, out)
    result = CliRunner().invoke(cli, ["build", "--source", str(src), "--out", str(out)])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        f"Error: {out}: permission denied\nHint: choose another --out directory\n"
    )
    assert [p.name for p in out.iterdir()] == []
    out.chmod(0o755)


def test_unreadable_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    _deny(monkeypatch, src)
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "out"))
    assert (code, err) == (2, f"Error: {src}: permission denied\nHint: make the file readable\n")


def test_second_build_refuses_while_first_holds_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from arenatok.runtime.atomic import DirLock\n"
            f"lock = DirLock(Path({str(out)!r})); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "locked\n"
            with pytest.raises(OutputError) as e:
                build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
            assert e.value.message == (
                f"{out}: another arenatok run (pid {holder.pid}) is writing here"
            )
            assert [p.name for p in out.iterdir()] == [".arenatok.lock"]
        finally:
            holder.kill()
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)  # the dead holder's lock is free


def test_stale_lock_file_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".arenatok.lock").write_text("999999\n")  # no such process holds it
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    assert not (out / ".arenatok.lock").exists()
    assert validate_dir(out) == []


# ---- malformed sources: one line each, exit 2 ------------------------------------------------


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def test_truncated_parquet(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 50)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert code == 2
    assert err.startswith(f"Error: {src}: not a readable Parquet file (")
    assert err.count("\n") == 2  # the message and its hint


def test_parquet_with_corrupt_data_pages(tmp_path: Path) -> None:
    src = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(TINY * 200), src, compression="snappy")
    data = bytearray(src.read_bytes())
    for i in range(200, len(data) // 2, 97):  # the footer stays readable
        data[i] ^= 0x5A
    src.write_bytes(bytes(data))
    code, err = run_cli(
        "build",
        "--source",
        str(src),
        "--out",
        str(tmp_path / "o"),
        "--limit",
        "all",
        "--on-bad-row",
        "reject",
    )
    # Depending on where the flipped bytes land, the page headers or the data fail to decode.
    assert code == 2
    assert err.startswith(
        (
            f"Error: {src}: the Parquet data is corrupt (",
            f"Error: {src}: not a readable Parquet file (",
        )
    )
    assert err.count("\n") == 2  # the message and its hint
    assert not (tmp_path / "o" / "data_out.json").exists()


def test_flipped_bytes_in_json_lines(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY * 5)
    data = bytearray(src.read_bytes())
    data[10] = 0xFF  # invalid UTF-8 in line 1
    data[data.index(b"\n", 2000) + 5] = ord("}")  # broken JSON in a later line
    src.write_bytes(bytes(data))
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert (code, err.splitlines()[0]) == (
        2,
        f"Error: {src}: row 1: line 1 is not valid UTF-8 (byte 10)",
    )
    result = build(src, out=tmp_path / "o", on_bad_row="reject")
    assert (result.stats.read, result.stats.rejected) == (20, 2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes(b""),
            "{src}: the file is empty\nHint: check the path (--source FILE)",
        ),
        (
            lambda p: pq.write_table(pa.Table.from_pylist(TINY).slice(0, 0), p),
            "{src}: the file has no rows\nHint: check the path (--source FILE)",
        ),
        (
            lambda p: p.mkdir(),
            "{src}: is a directory, expected a file\nHint: name a file inside it (--source FILE)",
        ),
        (lambda p: None, "{src}: no such file\nHint: check the path (--source FILE)"),
    ],
)
def test_source_errors(tmp_path: Path, make: Any, message: str) -> None:
    src = tmp_path / "b.parquet"
    make(src)
    code, err = run_cli("build", "--source", str(src), "--out", str(tmp_path / "o"))
    assert (code, err) == (2, f"Error: {message.format(src=src)}\n")
