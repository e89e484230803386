"""The one way arenatok opens a file of its own (a build's files, the derived files, the list of
them, the lock, a commit's journal): no symbolic link followed below the directory, no open that
can block (a FIFO opens at once and is refused), the file's type and size taken from the open
file (fstat) before a byte is read, and a size bound where a file is read whole.

Every read goes through `os.readv`, every write through `os.write` (`writer`), and every other
call through `os` too, so that a test can make any of them fail (tests/runtime/test_journal.py)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import secrets
import stat
from pathlib import Path
from typing import IO, BinaryIO

LIMITS = {
    "artifact_metadata.json": 64 * 2**20,
    ".arenatok-derived.json": 2**20,
    ".arenatok-commit.json": 2**20,
}
"""Bytes that a file read whole may have (its name in the directory), past which it is refused;
the files a build lists are bound by the size its metadata gives them."""
HEAD = 2**20
"""Bytes read of a page or a card to find its markers."""


class NotRegularFile(OSError):
    """A path where arenatok expects a regular file of its own holds something else (a link, a
    FIFO, a directory, a device), or a file too large to read whole. Its `strerror` says which,
    in words that fit after the path."""


NOT_OURS = (FileNotFoundError, NotADirectoryError, NotRegularFile)
"""What opening a path that holds no file of arenatok's raises (nothing there, a file where a
folder of the path should be, or not a regular file): unlike other OSErrors (an I/O error, no
permission), it says something of the path."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),
)


def kind(mode: int) -> str:
    """What a file of this mode is, in words ("a FIFO"); "a regular file" for one."""
    return next((words for test, words in _KINDS if test(mode)), "a regular file")


class _Raw(io.RawIOBase):
    """An open file descriptor read with `os.readv` and written with `os.write` (see the
    module's docstring)."""

    def __init__(self, fd: int, name: str, *, write: bool = False) -> None:
        super().__init__()
        self.fd = fd
        self.name = name
        self._write = write

    def readable(self) -> bool:
        return not self._write

    def writable(self) -> bool:
        return self._write

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return os.readv(self.fd, [buffer])

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return os.write(self.fd, data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        os.ftruncate(self.fd, size)
        return size

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if not self.closed:
            super().close()
            os.close(self.fd)


def writer(fd: int, name: str) -> BinaryIO:
    """A buffered file over `fd` (open for writing) whose writes are `os.write` calls."""
    return io.BufferedWriter(_Raw(fd, name, write=True), 2**20)  # type: ignore[type-var]


def mkstemp(final: Path) -> tuple[int, Path]:
    """A new temp file `.NAME.XXXXXXXX.tmp` beside `final` (same file system, so the rename is
    atomic), with the permissions a plain open() would give (0o666 less the umask)."""
    while True:
        tmp = final.parent / f".{final.name}.{secrets.token_hex(4)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def fsync_path(path: Path) -> None:
    """Flush a file, or a directory's entries (so its renames survive a power loss), to the
    disk."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_follow(path: Path, within: Path | None) -> int:
    """The directory that holds `path`, opened without following a link below `within` (only
    the last part of `path` when `within` is None): its descriptor."""
    parent = path.parent
    if within is None or parent == within:
        return os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fd = os.open(within, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parent.relative_to(within).parts:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                inner = os.open(part, flags, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotRegularFile(
                        e.errno, f"is under {part}, which is not a directory of its own (a link?)"
                    ) from e
                raise
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_owned(path: Path, *, limit: int | None = None, within: Path | None = None) -> BinaryIO:
    """`path` opened for reading, if it is a regular file (not a link) of at most `limit`
    bytes: else a NotRegularFile at once, FileNotFoundError when nothing is there. With
    `within`, no folder between it and the file may be a link either."""
    parent = _no_follow(path, within)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path.name, flags, dir_fd=parent)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegularFile(
                e.errno, "is a symbolic link; arenatok does not follow links"
            ) from e
        raise
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(errno.EINVAL, f"is {kind(info.st_mode)}, not a regular file")
        if limit is not None and info.st_size > limit:
            raise NotRegularFile(
                errno.EFBIG, f"has {info.st_size:,} bytes, more than the {limit:,} it may have"
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_Raw(fd, str(path)), 2**20)


def read_owned(path: Path, *, limit: int, within: Path | None = None) -> bytes:
    """The whole of a regular file of at most `limit` bytes (see `open_owned`)."""
    with open_owned(path, limit=limit, within=within) as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew since it was opened
        raise NotRegularFile(errno.EFBIG, f"has more than the {limit:,} bytes it may have")
    return data


def read_head(path: Path, *, within: Path | None = None) -> bytes:
    """The first HEAD bytes of a regular file (see `open_owned`)."""
    with open_owned(path, within=within) as f:
        return f.read(HEAD)


def sha256_owned(path: Path, *, within: Path | None = None) -> tuple[int, str]:
    """Size and hex sha256 of a regular file (see `open_owned`), read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open_owned(path, within=within) as f:
        while block := f.read(2**20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file and not a link (an lstat: nothing is opened)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def odd_kind(path: Path) -> str | None:
    """What is at `path`, in words ("a FIFO", "a symbolic link to nothing"), when it is not a
    regular file; None when it is one or nothing is there (an lstat: nothing is opened)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode) and not path.exists():
        return "a symbolic link to nothing"
    return kind(mode)


def is_dir(path: Path) -> bool:
    """Whether `path` is a directory and not a link (an lstat)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def exists(path: Path) -> bool:
    """Whether anything is at `path`, a link to nothing included (an lstat)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


FICLONE = 0x40049409
"""Linux's ioctl that makes a file share another's blocks (a reflink: Btrfs, XFS, ...)."""


def clone_file(src: Path, dst: IO[bytes]) -> str:
    """Give `dst` (an empty file open for writing) the bytes of `src` without this process
    writing them: a reflink where the file system can share blocks ("reflink"), else a copy
    inside the kernel ("copy_file_range"), else a plain copy ("copy"). Returns which ran."""
    import fcntl
    import shutil

    with src.open("rb") as s:
        size = os.fstat(s.fileno()).st_size
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, s.fileno())
            return "reflink"
        except OSError:
            pass
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(s.fileno(), dst.fileno(), size - done)
                if n == 0:
                    break
                done += n
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise
        if done == size:
            return "copy_file_range"
        s.seek(0)
        dst.seek(0)
        dst.truncate()
        shutil.copyfileobj(s, dst, 1 << 20)
        return "copy"
