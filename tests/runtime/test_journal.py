"""The commit's point of no return, proved as SQLite proves its own: every I/O call of a commit
made to fail in turn, and, separately, the process ended at each; after each, `validate`
passes on the earlier build or on the new one, never on neither."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from arenatok.dataset.card import write_card
from arenatok.dataset.validate import findings
from arenatok.errors import ArenatokError, OutputError
from arenatok.pipeline import write
from arenatok.pipeline.driver import build
from arenatok.runtime import derived
from arenatok.runtime.journal import JOURNAL, Step, commit, recover
from tests.helpers import TINY, battle, write_jsonl

CALLS = (
    "open",
    "read",
    "readv",
    "write",
    "fsync",
    "fdatasync",
    "replace",
    "rename",
    "unlink",
    "rmdir",
    "copy_file_range",
    "ftruncate",
)
"""The calls of `os` through which arenatok's commit does all its I/O (runtime.files)."""


class Faults:
    """Counts the I/O calls made while armed, and makes the `fail_at`-th one fail (EIO)."""

    def __init__(self) -> None:
        self.calls = 0
        self.armed = False
        self.fail_at: int | None = None
        self.failed: str | None = None

    def wrap(self, name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            if self.armed:
                self.calls += 1
                if self.calls == self.fail_at:
                    self.failed = name
                    raise OSError(errno.EIO, f"injected: {name} fails")
            return fn(*args, **kwargs)

        return call


@contextmanager
def injected(monkeypatch: pytest.MonkeyPatch, target: object, method: str) -> Iterator[Faults]:
    """Faults armed while `target.method` runs (the real one: only counted around)."""
    faults = Faults()
    for name in CALLS:
        monkeypatch.setattr(os, name, faults.wrap(name, getattr(os, name)))
    real = getattr(target, method)

    def armed(*args: object, **kwargs: object) -> object:
        faults.armed = True
        try:
            return real(*args, **kwargs)
        finally:
            faults.armed = False

    monkeypatch.setattr(target, method, armed)
    yield faults


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


TEMP = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")


def tree(directory: Path) -> dict[str, object]:
    """Every file's bytes (the metadata's without how full_data_out.json was copied: a copy
    that failed is made again in another way), but the lock and a killed run's temp files."""
    files: dict[str, object] = {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".arenatok.lock" and not TEMP.fullmatch(p.name)
    }
    if "artifact_metadata.json" in files:
        meta = json.loads(files["artifact_metadata.json"])  # type: ignore[arg-type]
        meta.pop("full_data_out_copy")
        files["artifact_metadata.json"] = meta
    return files


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A build with a rejects.jsonl and a card (so a new build's commit removes both), and
    the source of the next build, which differs."""
    d = tmp_path_factory.mktemp("journal")
    bad = {**battle("bad"), "winner": "nobody"}
    first = write_jsonl(d / "a.jsonl", [*TINY, bad])
    build(first, out=d / "pristine", on_bad_row="reject")
    write_card(d / "pristine")
    second = write_jsonl(d / "b.jsonl", [battle(f"n{i}", winner="model_b") for i in range(3)])
    return d / "pristine", second


def new_build(out: Path, src: Path) -> None:
    build(src, out=out)


def check_one_or_other(out: Path, pristine: Path, src: Path, new: dict[str, object]) -> str:
    """`validate` passes and the directory is the earlier build, whole, or the new one."""
    found = findings(out)
    assert found.problems == []
    assert found.warnings == []
    assert not (out / JOURNAL).exists()
    now = tree(out)
    if now == tree(pristine):
        return "earlier"
    assert now == new
    return "new"


def expected_new(tmp: Path, pristine: Path, src: Path) -> dict[str, object]:
    out = tmp / "clean"
    shutil.copytree(pristine, out)
    new_build(out, src)
    return tree(out)


def test_every_io_call_of_a_builds_commit_failing_leaves_one_build_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: tuple[Path, Path]
) -> None:
    pristine, src = earlier
    new = expected_new(tmp_path, pristine, src)
    assert "rejects.jsonl" not in new
    assert "README.md" not in new
    out = tmp_path / "o"
    with injected(monkeypatch, write.DatasetWriter, "commit") as faults:
        shutil.copytree(pristine, out)
        new_build(out, src)
        total = faults.calls
        assert total > 30
        seen = {"earlier": 0, "new": 0}
        for n in range(1, total + 1):
            shutil.rmtree(out)
            shutil.copytree(pristine, out)
            faults.calls, faults.fail_at, faults.failed = 0, n, None
            with suppress(OutputError):  # exit 3, or gone round the failure (a plain copy)
                new_build(out, src)
            assert faults.failed is not None
            faults.fail_at = None
            seen[check_one_or_other(out, pristine, src, new)] += 1
    assert seen["earlier"] > 10
    assert seen["new"] > 5


def test_every_io_call_of_a_cards_commit_failing_leaves_one_card_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: tuple[Path, Path]
) -> None:
    pristine, _ = earlier
    before = tree(pristine)
    out = tmp_path / "o"
    shutil.copytree(pristine, out)
    (out / "README.md").unlink()  # the next card writes it anew, with the Parquet file
    new = tree(pristine)
    with injected(monkeypatch, derived, "write_together") as faults:
        shutil.copytree(out, tmp_path / "start")
        write_card(out)
        total = faults.calls
        assert total > 10
        for n in range(1, total + 1):
            shutil.rmtree(out)
            shutil.copytree(tmp_path / "start", out)
            faults.calls, faults.fail_at = 0, n
            with suppress(ArenatokError):  # exit 3, or 2 where it read the build
                write_card(out)
            faults.fail_at = None
            found = findings(out)
            assert found.problems == []
            assert found.warnings == []
            assert tree(out) in (tree(tmp_path / "start"), new)
    assert tree(pristine) == before


KILL = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pathlib import Path
    start, src, target, work = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    from arenatok.dataset.card import write_card
    from arenatok.pipeline import write
    from arenatok.pipeline.driver import build
    from arenatok.runtime import derived

    def run(n, out):
        # In a child forked from this process (arenatok imported once): the n-th I/O call of
        # the commit kills it (n = 0: none does; the child says how many calls there were).
        shutil.copytree(start, out)
        pid = os.fork()
        if pid:
            return os.waitpid(pid, 0)[1]
        state = {"calls": 0, "armed": False}
        def wrap(fn):
            def call(*args, **kwargs):
                if state["armed"]:
                    state["calls"] += 1
                    if state["calls"] == n:
                        os.kill(os.getpid(), signal.SIGKILL)
                return fn(*args, **kwargs)
            return call
        for name in CALLS:
            setattr(os, name, wrap(getattr(os, name)))
        owner, method = {
            "build": (write.DatasetWriter, "commit"), "card": (derived, "write_together")
        }[target]
        real = getattr(owner, method)
        def armed(*args, **kwargs):
            state["armed"] = True
            return real(*args, **kwargs)
        setattr(owner, method, armed)
        build(src, out=out) if target == "build" else write_card(out)
        (work / "calls").write_text(str(state["calls"]))
        os._exit(0)

    # Warm up here once (the tokenizer, the card's libraries), so that each child only commits.
    shutil.copytree(start, work / "warm")
    build(src, out=work / "warm") if target == "build" else write_card(work / "warm")
    shutil.rmtree(work / "warm")
    assert run(0, work / "0") == 0
    total = int((work / "calls").read_text())
    for n in range(1, total + 1):
        status = run(n, work / str(n))
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (n, status)
    print(total)
    """
)


@pytest.mark.parametrize("target", ["build", "card"])
def test_a_commit_killed_at_each_step_leaves_one_build_whole(
    tmp_path: Path, earlier: tuple[Path, Path], target: str
) -> None:
    pristine, src = earlier
    start = tmp_path / "start"
    shutil.copytree(pristine, start)
    if target == "card":
        (start / "README.md").unlink()
    work = tmp_path / "runs"
    work.mkdir()
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            f"CALLS = {CALLS!r}\n{KILL}",
            str(start),
            str(src),
            target,
            str(work),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    total = int(r.stdout)
    assert total > 10
    new = tree(work / "0")
    seen = set()
    for n in range(1, total + 1):
        out = work / str(n)
        found = findings(out)  # finishes a commit that was past its point of no return
        assert found.problems == [], n
        assert all("a temp file left by a run that was killed" in w for w in found.warnings)
        now = tree(out)
        assert now in (tree(start), new), n
        seen.add("earlier" if now == tree(start) else "new")
    assert seen == {"earlier", "new"}


def test_recover_finishes_a_stopped_commit_and_only_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "gone.txt").write_text("old")
    (tmp_path / ".a.txt.0123abcd.tmp").write_text("new a")
    (tmp_path / ".m.txt.89abcdef.tmp").write_text("new m")
    steps = [
        Step("unlink", "m.txt"),
        Step("unlink", "gone.txt"),
        Step("replace", "a.txt", ".a.txt.0123abcd.tmp"),
        Step("replace", "m.txt", ".m.txt.89abcdef.tmp"),
    ]
    body = [{"op": s.op, "path": s.path, **({"tmp": s.tmp} if s.tmp else {})} for s in steps]
    (tmp_path / JOURNAL).write_text(json.dumps(body))
    assert recover(tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.txt": "new a",
        "m.txt": "new m",
    }
    assert not recover(tmp_path)


def test_a_journal_of_a_finished_commit_does_not_undo_it(tmp_path: Path) -> None:
    """Killed after the last rename, before the journal went: its steps are not run again
    (running `unlink m.txt` again would remove the new file)."""
    (tmp_path / "m.txt").write_text("new m")
    body = [
        {"op": "unlink", "path": "m.txt"},
        {"op": "replace", "path": "m.txt", "tmp": ".m.txt.89abcdef.tmp"},
    ]
    (tmp_path / JOURNAL).write_text(json.dumps(body))
    assert recover(tmp_path)
    assert (tmp_path / "m.txt").read_text() == "new m"


@pytest.mark.parametrize(
    "body",
    [
        '[{"op": "unlink", "path": "../outside.txt"}]',
        '[{"op": "unlink", "path": "/etc/passwd"}]',
        '[{"op": "replace", "path": "a.txt", "tmp": "b.txt"}]',
        '[{"op": "chmod", "path": "a.txt"}]',
        "not json",
        '{"op": "unlink"}',
    ],
)
def test_a_journal_arenatok_did_not_write_is_refused_and_nothing_done(
    tmp_path: Path, body: str
) -> None:
    (tmp_path / "a.txt").write_text("mine")
    (tmp_path / "b.txt").write_text("mine too")
    (tmp_path / JOURNAL).write_text(body)
    with pytest.raises(OutputError, match="not a commit journal of arenatok's"):
        recover(tmp_path)
    assert (tmp_path / "a.txt").read_text() == "mine"
    assert (tmp_path / "b.txt").read_text() == "mine too"


def test_a_directory_where_a_file_goes_stops_the_commit_before_its_point_of_no_return(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").mkdir()
    (tmp_path / ".b.txt.0123abcd.tmp").write_text("new")
    with pytest.raises(OutputError, match="is a directory, where arenatok writes a file"):
        commit(
            tmp_path,
            [Step("unlink", "a.txt"), Step("replace", "b.txt", ".b.txt.0123abcd.tmp")],
            hint="",
        )
    assert not (tmp_path / JOURNAL).exists()
    assert not (tmp_path / "b.txt").exists()


def test_a_full_disk_at_the_last_flush_still_removes_the_temp_file(tmp_path: Path) -> None:
    """Closing a temp file flushes its buffer; on a full disk that fails, and fails again when
    the failed file is discarded: the discard still closes and removes it (no traceback from
    the clean-up, no temp file left, the lock released by the caller)."""
    from arenatok.runtime.atomic import TempFile

    f = TempFile(tmp_path / "data_out.jsonl")
    f.write(b"x" * 100)  # still in the buffer
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, f.file.fileno())  # every write of the file now fails with ENOSPC
    os.close(full)
    with pytest.raises(OSError, match="No space left"):
        f.close()
    f.discard()
    assert list(tmp_path.iterdir()) == []
