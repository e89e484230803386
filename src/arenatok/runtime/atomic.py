"""Files written atomically and durably, for every command: a temp file beside the final name
(`TempFile`: flushed to the disk in the background as it grows), renamed into place, the
directory flushed; files that go together renamed together (`write_together`); one run at a
time per directory (`DirLock`); what a killed run left (`temps`). Nothing is written through a
symbolic link.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from typing_extensions import TypedDict

from arenatok.errors import ArenatokError, OutputError, resource_error
from arenatok.runtime.files import fsync_path, kind, mkstemp, sha256_owned, writer
from arenatok.runtime.journal import Step, Unfinished, commit, recover

__all__ = ["fsync_path", "mkstemp"]  # re-exported: the build's writer uses them from here


def dumps_pretty(obj: object) -> str:
    """Indented JSON for the small files meant to be read by people."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def output_error(path: Path, e: OSError, *, hint: str | None = None) -> ArenatokError:
    """The OutputError for an OSError while writing `path` (a ResourceError when the machine
    ran out of memory or open files); `hint`: what to do when the directory cannot be written
    (the build says: choose another --out)."""
    cause = resource_error(e)
    if cause is not None:
        return cause
    if e.errno == errno.ENOSPC:
        return OutputError(f"{path}: no space left on the device", hint="free space and retry")
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        return OutputError(f"{path}: permission denied", hint=hint)
    return OutputError(f"{path}: cannot write: {e.strerror or e}", hint=hint)


BUILD_HINT = "choose another --out directory"


def out_dir(path: str | Path, option: str = "--out") -> Path:
    """A directory to write into (made if missing), or an OptionError that says why it cannot
    be one: an empty path (not the working directory), a file, a link to nothing."""
    from arenatok.errors import OptionError

    if not str(path):
        raise OptionError(
            f"{option} is empty; arenatok does not take it as the working directory",
            hint=f"name a directory, e.g. {option} arenatok-out (or {option} . for this one)",
        )
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise OptionError(
            f"{option} {p}: is a symbolic link to {p.readlink()}, which does not exist",
            hint=f"make its target, remove the link, or choose another {option}",
        )
    if p.exists() and not p.is_dir():
        raise OptionError(
            f"{option} {p}: is a file, not a directory", hint=f"choose another {option}"
        )
    return p


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


SYNC_EVERY = 16 * 2**20
"""Bytes written to a file between two background flushes to the disk."""


class Listed(TypedDict):
    """A file as arenatok lists what it wrote (a build's metadata, the list of derived
    files): its size in bytes and its sha256 in hex."""

    bytes: int
    sha256: str


setattr(Listed, "__pydantic_config__", {"extra": "forbid"})  # noqa: B010 (read by pydantic)


class TempFile:
    """A file in the making: a temp file beside its final name, hashed as it is written
    (`hashed=False`: not hashed, for a copy of a hashed file). Every SYNC_EVERY bytes, the
    written part is flushed to the disk on `syncer`'s thread while the build goes on, so that
    the fsync of `close` has little left to wait for."""

    def __init__(
        self, final: Path, *, hashed: bool = True, syncer: ThreadPoolExecutor | None = None
    ) -> None:
        self.final = final
        fd, self.tmp = mkstemp(final)
        self._fh: IO[bytes] = writer(fd, str(self.tmp))
        self.file = self._fh
        """The open temp file, for a writer of its own (not hashed, not flushed on the way)."""
        self._sha = hashlib.sha256() if hashed else None
        self.size = 0
        self._syncer = syncer
        self._synced = 0
        self._syncing: Future[None] | None = None

    def write(self, data: bytes) -> None:
        if self._sha is not None:
            self._sha.update(data)
        self.size += len(data)
        self._fh.write(data)
        due = self.size - self._synced >= SYNC_EVERY
        if due and self._syncer is not None and (self._syncing is None or self._syncing.done()):
            self._wait()
            self._synced = self.size
            self._syncing = self._syncer.submit(os.fdatasync, self._fh.fileno())

    def _wait(self) -> None:
        """Wait for the background flush (its OSError, such as ENOSPC, is raised here)."""
        if self._syncing is not None:
            syncing, self._syncing = self._syncing, None
            syncing.result()

    def close(self) -> Listed | None:
        """Flush the file to the disk (fsync) and close it; its size and sha256 (None when
        not hashed)."""
        self._wait()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self._sha is None:
            return None
        return {"bytes": self.size, "sha256": self._sha.hexdigest()}

    def discard(self) -> None:
        """Close and remove the temp file, whatever failed before: closing flushes what is
        buffered, which fails again when the disk is full (the file is closed all the same)."""
        if self._syncing is not None:  # not yet started: dropped; running: waited for
            self._syncing.cancel()
            futures.wait([self._syncing])
        with contextlib.suppress(OSError):
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


class NewDirs:
    """`path` made with its missing parents; `undo` removes those of them that a command which
    failed leaves empty (the innermost first), so that it leaves no empty output directory."""

    def __init__(self, path: Path) -> None:
        self.made = [d for d in (path, *path.parents) if not d.exists()][::-1]
        path.mkdir(parents=True, exist_ok=True)

    def undo(self) -> None:
        for made in reversed(self.made):
            try:
                made.rmdir()
            except OSError:  # not empty (or gone): what is in it stays
                break
        self.made = []


LOCK = ".arenatok.lock"


class DirLock:
    """An exclusive lock on an output directory: `flock` on DIR/.arenatok.lock, which holds the
    holder's pid and is removed at the end. The kernel drops the lock when its holder dies, so
    a lock file left by a killed build is simply taken over. A link or anything but a regular
    file under the lock's name is refused at once (O_NOFOLLOW, O_NONBLOCK, fstat), never
    written through. Once locked, a commit that a stopped run left is finished
    (`journal.recover`) before the holder reads or writes anything there."""

    def __init__(self, directory: Path, *, hint: str = BUILD_HINT) -> None:
        import fcntl

        self.path = directory / LOCK
        while True:
            fd = _open_lock(self.path, os.O_RDWR | os.O_CREAT, hint)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"{directory}: another arenatok run (pid {holder}) is writing here",
                    hint=f"wait for it to finish, or {hint}",
                ) from e
            # The file may have been replaced between open and lock: lock the current one.
            if self.path.exists() and os.fstat(fd).st_ino == self.path.stat().st_ino:
                break
            os.close(fd)
        self._fd: int | None = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            recover(directory)
        except BaseException:  # a full disk: no empty lock file is left
            self.release()
            raise

    def release(self) -> None:
        """Unlock, removing the lock file (a lock file that cannot be removed stays: the next
        run takes it over)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                # Unlink while still holding the lock; a build waiting on the old file notices
                # the change of inode above and locks the new file instead.
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
            finally:
                os.close(fd)


def temps(directory: Path, names: Iterable[str], *, through_links: bool) -> Iterator[Path]:
    """Our temp files (.<file name>.<random>.tmp) of the files `names` under `directory`; with
    `through_links` False, none under a folder that is a link."""
    for name in names:
        path = directory / name
        if through_links or not path.parent.is_symlink():
            yield from path.parent.glob(f".{path.name}.*.tmp")


def remove_stale_temps(directory: Path, names: Iterable[str]) -> None:
    """Temp files that a killed run left behind, for the files `names` under `directory`.
    Called under the directory's lock, so that no live run's temp file is taken."""
    for stale in temps(directory, names, through_links=False):
        stale.unlink(missing_ok=True)


def _open_lock(path: Path, flags: int, hint: str) -> int:
    """The lock file opened (`flags`), if it is a regular file: a link, a FIFO, a directory
    is an OutputError at once."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputError(
                f"{path}: is a symbolic link; arenatok does not write through links",
                hint=f"remove the link, or {hint}",
            ) from e
        if e.errno not in (errno.EISDIR, errno.ENXIO):
            raise
        raise OutputError(
            f"{path}: is not a regular file; arenatok locks only a regular file of its own",
            hint=f"remove it, or {hint}",
        ) from e
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OutputError(
            f"{path}: is {kind(mode)}; arenatok locks only a regular file of its own",
            hint=f"remove it, or {hint}",
        )
    return fd


def locked(directory: Path) -> bool:
    """Whether an arenatok run holds the directory's lock now (the lock file is only read;
    anything but a regular file there is no lock of a run's)."""
    import fcntl

    try:
        fd = _open_lock(directory / LOCK, os.O_RDONLY, BUILD_HINT)
    except (OSError, OutputError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


Content = bytes | Callable[[IO[bytes]], object]
"""A file's bytes, or a function that writes them into an open file (in the order given)."""

Opens = Callable[[str], AbstractContextManager[IO[bytes]]]
"""Opens one file of a `Group` by its name, for writing; the file is whole when its context
ends."""


@dataclass(frozen=True)
class Group:
    """Files made in one pass by one function (`write`), which opens each of `names` once,
    in any order, through the `Opens` it is given."""

    names: tuple[str, ...]
    write: Callable[[Opens], object]


def _replace(directory: Path, f: TempFile) -> Step:
    """The commit's step that renames a temp file into place (names relative to
    `directory`)."""
    return Step(
        "replace",
        f.final.relative_to(directory).as_posix(),
        f.tmp.relative_to(directory).as_posix(),
    )


def write_together(
    directory: Path,
    files: Mapping[str, Content],
    *,
    hint: str,
    prepare: Callable[[], Collection[str]] | None = None,
    last: Callable[[dict[str, Listed]], Mapping[str, bytes]] | None = None,
    groups: Sequence[Group] = (),
) -> dict[str, Listed]:
    """Write `groups` then `files` (names relative to `directory`) so that all of them change
    or none: each to a temp file beside it (flushed to the disk), then all renamed into place
    with Ctrl-C held, then the directory flushed. Holds the directory's lock meanwhile, and
    first removes the temp files that a killed run left for these names. A link where a file
    or its folder is expected is refused. Under the lock, `prepare` runs before anything is
    written (it may refuse) and names the files that the commit removes; `last`, given each
    file's size and sha256, names more files, renamed after the others. The renames are a
    commit with a point of no return (`journal.commit`). Returns the size and sha256 of every
    file written."""
    made: list[TempFile] = []
    lock = None
    table: dict[str, Listed] = {}
    names = [*(n for g in groups for n in g.names), *files]
    try:
        lock = DirLock(directory, hint=hint)
        gone = sorted(prepare()) if prepare is not None else []
        for name in names:
            inner = (directory / p for p in Path(name).parents if p != Path())
            for link in (directory / name, *inner):
                if link.is_symlink():
                    raise OutputError(
                        f"{link}: is a symbolic link; arenatok does not write through links",
                        hint=f"remove the link, or {hint}",
                    )
        remove_stale_temps(directory, names)

        @contextmanager
        def opened(name: str) -> Iterator[IO[bytes]]:
            f = TempFile(directory / name, hashed=False)
            made.append(f)
            yield f.file
            f.close()
            size, sha = sha256_owned(f.tmp)
            table[name] = {"bytes": size, "sha256": sha}

        def put(name: str, data: Content) -> None:
            with opened(name) as fh:
                if isinstance(data, bytes):
                    fh.write(data)
                else:
                    data(fh)

        for group in groups:
            group.write(opened)
            assert set(group.names) <= set(table), "a group left some of its files unwritten"
        for name, data in files.items():
            put(name, data)
        if last is not None:
            for name, data in last(dict(table)).items():
                put(name, data)
        steps = [
            *(Step("unlink", name) for name in gone),
            *(_replace(directory, f) for f in made),
        ]
        try:
            commit(directory, steps, hint=hint)
        except Unfinished:
            made.clear()  # the journal names the temp files: the next run renames them
            raise
        made.clear()
    except OSError as e:
        raise output_error(directory, e, hint=hint) from e
    finally:
        for f in made:
            f.discard()
        if lock is not None:
            lock.release()
    return table
