"""End to end, the build's output directory: writes are atomic and survive interrupts, kills, a
full disk and a second build; the build replaces only the files it wrote and a user's files stay."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.errors import OutputError
from arenatok.pipeline.driver import build
from arenatok.runtime import atomic
from tests.e2e.commands import cli_run, run
from tests.helpers import TINY, deny, snapshot, wait_for_temp_files, write_jsonl


def arenatok(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arenatok.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


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


def test_read_only_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    out = tmp_path / "out"
    out.mkdir()
    deny(monkeypatch, out)
    result = CliRunner().invoke(cli, ["build", "--source", str(src), "--out", str(out)])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        f"Error: {out}: permission denied\nHint: choose another --out directory\n"
    )
    assert [p.name for p in out.iterdir()] == []
    out.chmod(0o755)


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


def test_a_users_rejects_file_stays_when_the_build_has_none(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects.jsonl").write_text("my own notes\n")
    (out / "duplicates.jsonl").write_text("mine too\n")
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    result = run("build", "--source", good, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "rejects.jsonl").read_text() == "my own notes\n"
    assert (out / "duplicates.jsonl").read_text() == "mine too\n"
    assert validate_dir(out) == []


def test_a_users_file_in_the_way_is_never_replaced(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "rejects.jsonl").write_text("my own notes\n")
    result = run("build", "--source", src, "--out", out, "--on-bad-row", "reject")
    assert result.exit_code == 3
    assert result.output.startswith(f"Error: {out}/rejects.jsonl: is not a file of the build in")
    assert "Hint: move it away, or choose another --out directory" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["rejects.jsonl"]
    assert (out / "rejects.jsonl").read_text() == "my own notes\n"


def test_the_builds_own_optional_files_go_only_unchanged(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    build(src, out=out, on_bad_row="reject")
    build(good, out=out)  # its rejects.jsonl is listed and unchanged: it goes
    assert not (out / "rejects.jsonl").exists()
    build(src, out=out, on_bad_row="reject")
    with (out / "rejects.jsonl").open("a") as f:
        f.write("a note of mine\n")
    result = run("build", "--source", good, "--out", out)
    assert result.exit_code == 0
    assert "left in place" in result.output
    assert "rejects.jsonl (changed since the last build wrote it)" in result.output
    assert (out / "rejects.jsonl").read_text().endswith("a note of mine\n")


def test_a_tampered_file_table_names_nothing_to_remove(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    build(good, out=out)
    (out / "notes.txt").write_text("mine")
    meta = json.loads((out / "artifact_metadata.json").read_text())
    meta["files"]["notes.txt"] = {"bytes": 4, "sha256": "0" * 64}
    (out / "artifact_metadata.json").write_text(json.dumps(meta))
    build(good, out=out)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", [["build"], ["report"], ["bench"]])
def test_an_empty_out_is_an_error_not_the_working_directory(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    args = {"build": ["--source", good, "--out", ""], "report": [""], "bench": ["x", "--out", ""]}
    result = run(*command, *args[command[0]])
    assert result.exit_code == 2
    assert "is empty; arenatok does not take it as the working directory" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


def test_out_a_dangling_link_says_so(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", TINY)
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    result = run("build", "--source", good, "--out", tmp_path / "link")
    assert result.exit_code == 2
    assert f"is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in result.output
    assert "File exists" not in result.output


def test_a_rebuild_keeps_a_derived_file_changed_since(built: Path, tmp_path: Path) -> None:
    assert run("report", built, "--rounds", "0").exit_code == 0
    with (built / "report.html").open("a") as f:
        f.write("<!-- my notes -->")
    src = json.loads((built / "artifact_metadata.json").read_text())["source"]["path"]
    result = run("build", "--source", src, "--limit", "all", "--out", built)
    assert result.exit_code == 0
    assert not (built / "report.json").exists()  # ours, unchanged: gone with its build
    assert (built / "report.html").read_text().endswith("<!-- my notes -->")
    assert "report.html (changed since arenatok wrote it" in result.output


@pytest.mark.parametrize("dangling", [True, False])
def test_a_planted_lock_link_is_not_written_through(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "elsewhere.txt"
    if not dangling:
        target.write_text("keep me\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / ".arenatok.lock").symlink_to(target)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, _, err = cli_run("build", "--source", str(src), "--out", str(out))
    assert code == 3
    assert err.startswith(f"Error: {out}/.arenatok.lock: is a symbolic link; arenatok does not")
    assert target.exists() is not dangling
    if not dangling:
        assert target.read_text() == "keep me\n"
    assert not (out / "artifact_metadata.json").exists()


def test_a_build_keeps_the_users_own_files_of_derived_names(tmp_path: Path) -> None:
    out = tmp_path / "o"
    (out / "data").mkdir(parents=True)
    mine = {
        "data/train-00000-of-00001.parquet": b"PAR1 my own data",
        "report.json": b'{"mine": true}\n',
        "README.md": b"# my notes\n",
    }
    for name, data in mine.items():
        (out / name).write_bytes(data)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, stdout, _ = cli_run("build", "--source", str(src), "--out", str(out))
    assert code == 0
    assert {n: (out / n).read_bytes() for n in mine} == mine
    assert (
        "left in place, not made from the build this one replaced: report.json (arenatok did "
        "not make it), data/train-00000-of-00001.parquet (arenatok did not make it), README.md "
        "(arenatok did not make it)\n"
    ) in stdout


@pytest.mark.parametrize("through_link", [False, True])
def test_a_build_never_replaces_its_own_source(tiny_build: Path, through_link: bool) -> None:
    src = tiny_build / "data_out.jsonl"
    if through_link:
        link = tiny_build.parent / "link.jsonl"
        link.symlink_to(src)
        src = link
    before = (tiny_build / "data_out.jsonl").read_bytes()
    code, _, err = cli_run("build", "--source", str(src), "--out", str(tiny_build))
    assert code == 2
    assert f"is the output's own data_out.jsonl in {tiny_build}; the build would replace it" in err
    assert (tiny_build / "data_out.jsonl").read_bytes() == before
    assert validate_dir(tiny_build) == []


def test_a_killed_runs_temp_files_are_named_then_cleaned(tiny_build: Path) -> None:
    (tiny_build / "data").mkdir()
    strays = [".report.json.1a2b3c4d.tmp", ".bench.html.0f0f0f0f.tmp"]
    strays.append("data/.train-00000-of-00001.parquet.deadbeef.tmp")
    for s in strays:
        (tiny_build / s).write_bytes(b"half")
    assert validate_dir(tiny_build) == [
        f"{s}: a temp file left by a run that was killed (the next run removes it)"
        for s in sorted(strays)
    ]
    assert cli_run("report", str(tiny_build), "--rounds", "0")[0] == 0
    assert cli_run("card", str(tiny_build))[0] == 0
    assert validate_dir(tiny_build) == [
        ".bench.html.0f0f0f0f.tmp: a temp file left by a run that was killed (the next run "
        "removes it)"
    ]
    build(
        write_jsonl(tiny_build.parent / "c.jsonl", TINY), out=tiny_build
    )  # the build takes any of ours
    assert validate_dir(tiny_build) == []


def test_a_lock_that_cannot_be_written_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arenatok.errors import OutputError
    from arenatok.runtime.atomic import DirLock

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError, match="No space"):
        DirLock(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="no space left on the device"):
        build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "new" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl"]  # no empty out dirs


def test_a_killed_runs_temp_files_are_a_warning_beside_a_good_build(tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    (out / ".data_out.jsonl.0f0f0f0f.tmp").write_bytes(b"half a build")
    result = run("validate", out)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "warning: .data_out.jsonl.0f0f0f0f.tmp: a temp file left by a run that was killed (the "
        "next run removes it)",
        f"{out}: ok (every file matches artifact_metadata.json; every record holds)",
    ]
    result = run("validate", out, "--strict")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"{out}: 1 problem"
