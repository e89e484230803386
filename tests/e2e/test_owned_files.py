"""Every file that arenatok reads in a build folder, replaced by a FIFO, a directory or a
symbolic link: each command that reads it answers at once (no open that blocks) with one line
or with the file taken for what it is, never a traceback, and never follows the link."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.e2e.commands import cli_run
from tests.helpers import battle, write_jsonl

ANALYSES = ("report", "bench")
FILES = {
    "artifact_metadata.json": ("build", "validate", "card", "report"),
    "data_out.jsonl": ("build", "validate", "card", "report"),
    "data_out.json": ("build", "validate", "card"),
    "full_data_out.json": ("build", "validate"),
    "mini_data_out.json": ("build", "validate", "card"),
    "preview_data_out.json": ("build", "validate"),
    "record.schema.json": ("build", "validate"),
    "rejects.jsonl": ("build", "validate"),
    ".arenatok-derived.json": ("build", "validate", "card", "report"),
    ".arenatok.lock": ("build", "validate", "card"),
    ".arenatok-commit.json": ("build", "validate", "card"),
    "README.md": ("build", "validate", "card"),
    "data/train-00000-of-00001.parquet": ("build", "validate", "card"),
    "report.json": ("build", "validate", "report"),
    "report.html": ("build", "validate", "report"),
    "bench.json": ("build", "validate", "bench"),
    "bench.html": ("build", "validate", "bench"),
}
"""Each file that arenatok reads in a build folder, and the commands that read it."""


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A build with every file: rejects, a card, a report, a bench; and its source."""
    d = tmp_path_factory.mktemp("owned")
    rows = [battle(f"q{i}", winner=["model_a", "model_b"][i % 2]) for i in range(200)]
    for i, row in enumerate(rows):
        for side in ("conversation_a", "conversation_b"):
            row[side][0]["content"] = f"question {i}"
        row["conversation_a"][1]["content"] = "yes " * (1 + i % 7) + f"because {i % 5}"
    src = write_jsonl(d / "rows.jsonl", [*rows, battle("bad", winner="nobody")])
    out = d / "full"
    build(src, out=out, on_bad_row="reject")
    for args in (("card", out), ("report", out), ("bench", out, "--jobs", "1")):
        code, _, err = cli_run(*map(str, args))
        assert code == 0, err
    return out, src


class Blocked(BaseException):
    """A command still waiting (on a FIFO, say): not an OSError, which a command might take
    for an unreadable file."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging for ever) when the block takes longer than `seconds`."""

    def expired(signum: int, frame: object) -> None:
        raise Blocked(f"still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def plant(path: Path, kind: str, elsewhere: Path) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        shutil.copyfile(elsewhere, elsewhere.with_suffix(".copy"))
        path.symlink_to(elsewhere.with_suffix(".copy"))


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
@pytest.mark.parametrize("name", sorted(FILES))
def test_a_file_of_arenatoks_that_is_not_a_regular_file_is_never_followed_or_waited_on(
    tmp_path: Path, full: tuple[Path, Path], name: str, kind: str
) -> None:
    pristine, src = full
    out = tmp_path / "o"
    shutil.copytree(pristine, out, symlinks=True)
    secret = tmp_path / "secret.json"
    secret.write_text('{"private": true}\n')
    plant(out / name, kind, secret)
    for command in sorted(FILES[name], key=lambda c: c == "build"):  # the build last
        args = {
            "build": ("build", "--source", str(src), "--out", str(out), "--on-bad-row", "reject"),
            "validate": ("validate", str(out)),
            "card": ("card", str(out)),
            "report": ("report", str(out)),
            "bench": ("bench", str(out), "--jobs", "1"),
        }[command]
        with deadline(60):
            code, stdout, stderr = cli_run(*args)  # a traceback raises here
        assert code in (0, 1, 2, 3), (command, code, stderr)
        if code and command != "validate":
            lines = stderr.splitlines()
            assert lines[0].startswith("Error: "), (command, stderr)
            assert len(lines) <= 2, (command, stderr)
        if command == "validate" and code == 0:
            assert name not in {"artifact_metadata.json", "data_out.jsonl"}, stdout
        if kind == "symlink":
            assert secret.with_suffix(".copy").read_text() == '{"private": true}\n'
        if command != "build":
            assert (out / name).is_symlink() == (kind == "symlink"), command
