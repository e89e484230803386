"""A commit with a point of no return, as SQLite commits: everything that can fail (reading and
hashing what an earlier run left, writing and flushing every new file) is done first, as temp
files; then the journal (`JOURNAL`, the list of renames and unlinks still to do) is written and
renamed into place: the point of no return. After it, only renames and unlinks run, each of
which can be done again without harm; the journal is removed last.

A run that stops after the point of no return (killed, or a rename that failed) leaves the
journal, and the next arenatok run in the directory finishes the commit (`recover`, called
under the directory's lock) before it reads or writes anything there: a directory holds the
earlier files or the new ones, never a mix."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import orjson

from arenatok.errors import OutputError
from arenatok.runtime import interrupts
from arenatok.runtime.files import (
    LIMITS,
    NotRegularFile,
    fsync_path,
    kind,
    mkstemp,
    read_owned,
)

JOURNAL = ".arenatok-commit.json"
"""What a commit still has to do, while it does it."""


@dataclass(frozen=True)
class Step:
    """One step after the point of no return (`path` relative to the directory): `replace`
    renames the temp file `tmp` over `path`, `unlink` removes the file `path`, `rmdir` removes
    the folder `path` if it is empty. Each is done again without harm."""

    op: Literal["replace", "unlink", "rmdir"]
    path: str
    tmp: str | None = None


class Unfinished(OutputError):
    """A commit stopped after its point of no return: the journal stays, and the next run in
    the directory finishes it."""


def _relative(directory: Path, name: str) -> Path:
    """`directory / name` for a name of a journal: relative, inside the directory, not under
    a link (else an OutputError: the journal is not one arenatok wrote)."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", ".") for p in parts):
        raise _foreign(directory, f"names {name!r}, which is not inside the directory")
    path = directory.joinpath(*parts)
    if len(parts) > 1 and path.parent.is_symlink():
        raise _foreign(directory, f"names {name!r}, which is under a symbolic link")
    return path


def _foreign(directory: Path, why: str) -> OutputError:
    return OutputError(
        f"{directory / JOURNAL}: {why}; it is not a commit journal of arenatok's",
        hint=f"move it away if it is yours, then run the command again ({directory})",
    )


_TMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")


def _check(directory: Path, steps: Sequence[Step]) -> None:
    """The steps can be done: every temp file is a temp file of its target's, beside it; no
    target is a directory (a rename or unlink over one fails)."""
    for step in steps:
        path = _relative(directory, step.path)
        if step.op == "replace":
            tmp = _relative(directory, step.tmp or "")
            m = _TMP.fullmatch(tmp.name)
            if tmp.parent != path.parent or m is None or m["name"] != path.name:
                raise _foreign(directory, f"renames {step.tmp!r}, not a temp file of {step.path}")
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if step.op != "rmdir" and stat.S_ISDIR(mode):
            raise OutputError(
                f"{path}: is {kind(mode)}, where arenatok writes a file of its own",
                hint=f"move it away, then run the command again in {directory}",
            )


def _run(directory: Path, steps: Sequence[Step]) -> None:
    """Every step, in order, each one that is already done skipped; then every folder
    touched flushed to the disk."""
    for step in steps:
        path = directory / step.path
        if step.op == "replace":
            assert step.tmp is not None
            with contextlib.suppress(FileNotFoundError):  # done before a stopped run's end
                (directory / step.tmp).replace(path)
        elif step.op == "unlink":
            path.unlink(missing_ok=True)
        else:
            try:
                path.rmdir()
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
    for folder in sorted({(directory / s.path).parent for s in steps if s.op == "replace"}):
        fsync_path(folder)
    fsync_path(directory)  # the unlinks' and rmdirs' folder


def _done(directory: Path, steps: Sequence[Step]) -> bool:
    """Whether every step ran: the last step is a rename whose temp file is gone."""
    last = steps[-1] if steps else None
    return last is None or (last.op == "replace" and not (directory / (last.tmp or "")).exists())


def commit(directory: Path, steps: Sequence[Step], *, hint: str) -> None:
    """Check the steps, write the journal (the point of no return), run the steps with Ctrl-C
    and SIGTERM held, remove the journal. The last step must be a rename (the file that says
    the commit is whole: a build's metadata, the list of derived files). Before the point of
    no return an error leaves everything as it was (an OutputError); after it, the error is
    Unfinished: the journal stays, and the next run here finishes the commit."""
    assert steps
    assert steps[-1].op == "replace"
    _check(directory, steps)
    data = orjson.dumps(
        [{"op": s.op, "path": s.path, **({"tmp": s.tmp} if s.tmp else {})} for s in steps]
    )
    fd, tmp = mkstemp(directory / JOURNAL)
    try:
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        with interrupts.held():
            tmp.replace(directory / JOURNAL)  # the point of no return
            interrupts.committed()
            try:
                fsync_path(directory)
                _run(directory, steps)
                (directory / JOURNAL).unlink()
            except BaseException as e:
                raise Unfinished(
                    f"{directory}: the commit stopped half-way ({_why(e)}); the next arenatok "
                    "run here finishes it",
                    hint=f"run arenatok validate {directory} (it finishes the commit)",
                ) from e
    except Unfinished:
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the commit is whole: the journal's unlink may wait
        fsync_path(directory)


def _why(e: BaseException) -> str:
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    return type(e).__name__


def pending(directory: Path) -> bool:
    """Whether a commit journal is in `directory` (anything under its name: an lstat)."""
    try:
        os.lstat(directory / JOURNAL)
    except OSError:
        return False
    return True


def recover(directory: Path) -> bool:
    """Finish the commit that a stopped run left in `directory` (call it under the directory's
    lock, before anything else there is read or written). Returns whether there was one. A
    journal that arenatok did not write is an OutputError, and nothing is done."""
    path = directory / JOURNAL
    try:
        raw = read_owned(path, limit=LIMITS[JOURNAL])
    except FileNotFoundError:
        return False
    except NotRegularFile as e:
        raise _foreign(directory, str(e.strerror)) from e
    except OSError as e:
        raise OutputError(
            f"{path}: cannot be read ({e.strerror or e})",
            hint="check the directory's permissions, then run the command again",
        ) from e
    try:
        entries = orjson.loads(raw)
        steps = [Step(e["op"], e["path"], e.get("tmp")) for e in entries]
        if not all(s.op in ("replace", "unlink", "rmdir") for s in steps):
            raise ValueError("an unknown step")
    except (ValueError, TypeError, KeyError) as e:
        raise _foreign(directory, "is not a list of steps") from e
    _check(directory, steps)
    if not _done(directory, steps):
        with interrupts.held():
            _run(directory, steps)
    path.unlink()
    fsync_path(directory)
    return True
