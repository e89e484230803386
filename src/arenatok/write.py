"""Output files. Every file is written to a temp file in the output directory and renamed into
place only when the whole build succeeded; `artifact_metadata.json` is renamed last.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from arenatok import interrupts
from arenatok.derived import DERIVED, card_build, made_from
from arenatok.errors import OutputError
from arenatok.records import Record, Reject, dumps_lines

DATA = "data_out.json"
FULL = "full_data_out.json"
MINI = "mini_data_out.json"
PREVIEW = "preview_data_out.json"
JSONL = "data_out.jsonl"
REJECTS = "rejects.jsonl"
DUPLICATES = "duplicates.jsonl"
METADATA = "artifact_metadata.json"
SCHEMA = "record.schema.json"
OUTPUTS = (DATA, FULL, MINI, PREVIEW, JSONL, REJECTS, DUPLICATES, SCHEMA)
"""Every file a build writes besides METADATA."""
MINI_SIZE = 3
PREVIEW_CHARS = 200


def dumps_pretty(obj: object) -> str:
    """Indented JSON for the small files meant to be read by people."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def cut_strings(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """A copy of `value` with every string longer than `limit` characters cut, marked
    `… [cut: N chars in all]`."""
    if isinstance(value, str):
        cut = len(value) > limit
        return f"{value[:limit]}… [cut: {len(value)} chars in all]" if cut else value
    if isinstance(value, Mapping):
        return {k: cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [cut_strings(v, limit) for v in value]
    return value


def output_error(path: Path, e: OSError, *, hint: str | None = None) -> OutputError:
    """The OutputError for an OSError while writing `path`; `hint`: what to do when the
    directory cannot be written (the build says: choose another --out)."""
    if e.errno == errno.ENOSPC:
        return OutputError(f"{path}: no space left on the device", hint="free space and retry")
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        return OutputError(f"{path}: permission denied", hint=hint)
    return OutputError(f"{path}: cannot write: {e.strerror or e}", hint=hint)


_BUILD_HINT = "choose another --out directory"


def _mkstemp(final: Path) -> tuple[int, Path]:
    """A new temp file beside `final` (same file system, so the rename is atomic), with the
    permissions a plain open() would give (0o666 less the umask, applied by the kernel)."""
    while True:
        tmp = final.parent / f".{final.name}.{secrets.token_hex(4)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync(path: Path) -> None:
    """Flush a file, or a directory's entries (so its renames survive a power loss), to the
    disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SYNC_EVERY = 16 * 2**20
"""Bytes written to a file between two background flushes to the disk."""


class _HashingFile:
    """A file in the making: a temp file beside its final name, hashed as it is written
    (`hashed=False`: not hashed, for a copy of a hashed file). Every SYNC_EVERY bytes, the
    written part is flushed to the disk on `syncer`'s thread while the build goes on, so that
    the fsync of `close` has little left to wait for."""

    def __init__(
        self, final: Path, *, hashed: bool = True, syncer: ThreadPoolExecutor | None = None
    ) -> None:
        self.final = final
        fd, self.tmp = _mkstemp(final)
        self._fh: IO[bytes] = os.fdopen(fd, "wb")
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

    def close(self) -> dict[str, object]:
        """Flush the file to the disk (fsync) and close it; its size and sha256 (an empty
        dict when not hashed)."""
        self._wait()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self._sha is None:
            return {}
        return {"bytes": self.size, "sha256": self._sha.hexdigest()}

    def discard(self) -> None:
        if self._syncing is not None:  # not yet started: dropped; running: waited for
            self._syncing.cancel()
            futures.wait([self._syncing])
        self._fh.close()
        self.tmp.unlink(missing_ok=True)


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


LOCK = ".arenatok.lock"


class _DirLock:
    """An exclusive lock on an output directory: `flock` on DIR/.arenatok.lock, which holds the
    holder's pid and is removed at the end. The kernel drops the lock when its holder dies, so
    a lock file left by a killed build is simply taken over. A link planted under the lock's
    name is refused (O_NOFOLLOW), never written through."""

    def __init__(self, directory: Path, *, hint: str = _BUILD_HINT) -> None:
        import fcntl

        self.path = directory / LOCK
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as e:
                if e.errno != errno.ELOOP:
                    raise
                raise OutputError(
                    f"{self.path}: is a symbolic link; arenatok does not write through links",
                    hint=f"remove the link, or {hint}",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"{directory}: another arenatok run (pid {holder}) is writing here",
                    hint=f"wait for it to finish, or {hint}",
                ) from None
            # The file may have been replaced between open and lock: lock the current one.
            if self.path.exists() and os.fstat(fd).st_ino == self.path.stat().st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            # Unlink while still holding the lock; a build waiting on the old file notices the
            # change of inode above and locks the new file instead.
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


def _temps(directory: Path, names: Iterable[str], *, through_links: bool) -> Iterator[Path]:
    """Our temp files (.<file name>.<random>.tmp) of the files `names` under `directory`; with
    `through_links` False, none under a folder that is a link."""
    for name in names:
        path = directory / name
        if through_links or not path.parent.is_symlink():
            yield from path.parent.glob(f".{path.name}.*.tmp")


def _remove_stale_temps(directory: Path, names: Iterable[str]) -> None:
    """Temp files that a killed run left behind, for the files `names` under `directory`.
    Called under the directory's lock, so that no live run's temp file is taken."""
    for stale in _temps(directory, names, through_links=False):
        stale.unlink(missing_ok=True)


def locked(directory: Path) -> bool:
    """Whether an arenatok run holds the directory's lock now (the lock file is only read)."""
    import fcntl

    try:
        fd = os.open(directory / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def stray_temps(directory: Path) -> list[str]:
    """Temp files of arenatok's under `directory` (a killed run's, or a live run's), by their
    path relative to it."""
    names = (*OUTPUTS, METADATA, *DERIVED)
    return sorted(
        str(stale.relative_to(directory)) for stale in _temps(directory, names, through_links=True)
    )


class DatasetWriter:
    """Streams records into data_out.json and data_out.jsonl (and rejects into rejects.jsonl),
    keeps the first records for the mini and preview files, and commits everything at the end.

    Holds the output directory's lock from start to commit or discard. Until commit, only temp
    files are written; the files of an earlier run stay untouched."""

    def __init__(self, out_dir: Path, *, keep_rejects: bool, keep_duplicates: bool = False) -> None:
        self.out_dir = out_dir
        self._open: list[_HashingFile] = []
        self._first: list[Record] = []
        self._n = 0
        self.first_reject: dict[str, object] | None = None
        """The first reject entry added (kept to explain a build where every row failed)."""
        self.copy_method = ""
        """How full_data_out.json was made from data_out.json (see `clone_file`)."""
        self.kept: list[str] = []
        """Files named like derived ones that the commit left: not made from the build it
        replaced."""
        self._lock: _DirLock | None = None
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="arenatok-sync")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._lock = _DirLock(out_dir)
            _remove_stale_temps(out_dir, (*OUTPUTS, METADATA, *DERIVED))
            self._data = self._new(DATA)
            self._jsonl = self._new(JSONL)
            self._rejects = self._new(REJECTS) if keep_rejects else None
            self._duplicates = self._new(DUPLICATES) if keep_duplicates else None
        except OSError as e:
            self.discard()
            raise output_error(out_dir, e, hint=_BUILD_HINT) from None
        except BaseException:
            self.discard()
            raise
        self._write_data(b'{"examples": [\n')

    def _write_data(self, data: bytes) -> None:
        """Append to data_out.json (full_data_out.json is made from it at the end)."""
        self._guard(self._data.write, data)

    def _new(self, name: str, *, hashed: bool = True) -> _HashingFile:
        f = _HashingFile(self.out_dir / name, hashed=hashed, syncer=self._syncer)
        self._open.append(f)
        return f

    def _guard(self, write: Callable[[bytes], None], data: bytes) -> None:
        try:
            write(data)
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=_BUILD_HINT) from None

    def add(
        self,
        block: bytes,
        n: int,
        first_records: Sequence[Record] = (),
        rejects: Iterable[dict[str, object]] = (),
        duplicates: Sequence[dict[str, object]] = (),
    ) -> None:
        """Append a block of `n` records made by `dumps_lines` (and reject and duplicate
        entries), in order; `first_records` are the block's first records, kept for the mini
        and preview files."""
        self._first.extend(first_records[: MINI_SIZE - len(self._first)])
        if n:
            self._guard(self._jsonl.write, block)
            self._guard(self._jsonl.write, b"\n")
            if self._n:
                self._write_data(b",\n")
            self._write_data(block.replace(b"\n", b",\n"))
            self._n += n
        entries = list(rejects)
        if entries and self.first_reject is None:
            self.first_reject = entries[0]
        if self._rejects is not None and entries:
            self._guard(self._rejects.write, dumps_lines(entries) + b"\n")
        if self._duplicates is not None and duplicates:
            self._guard(self._duplicates.write, dumps_lines(duplicates) + b"\n")

    def commit(self, metadata: Mapping[str, object]) -> dict[str, dict[str, object]]:
        """Complete every file as a temp file (flushed to the disk), then remove the files
        derived from an earlier build (`DERIVED`), rename every file into place and
        artifact_metadata.json (with the size and sha256 of every other file) last, and flush
        the directory. Ctrl-C waits until the renames are done. Returns that file table."""
        self._write_data(b"\n]}\n" if self._n else b"]}\n")
        small = {
            MINI: dumps_pretty({"examples": self._first}).encode("utf-8"),
            PREVIEW: dumps_pretty({"examples": cut_strings(self._first)}).encode("utf-8"),
            SCHEMA: schema_bytes(),
        }
        try:
            predecessor = _build_of(self.out_dir)
            files = {f.final.name: f.close() for f in self._open}
            # The same bytes as data_out.json, without this process writing them again: a copy,
            # not a hard link (editing one file must not change the other).
            full = self._new(FULL, hashed=False)
            self.copy_method = clone_file(self._data.tmp, full.file)
            full.close()
            for name, data in small.items():
                f = self._new(name)
                f.write(data)
                files[name] = f.close()
            files[FULL] = files[DATA]
            table = dict(sorted(files.items()))
            meta = self._new(METADATA)
            meta.write(
                dumps_pretty(
                    {**metadata, "full_data_out_copy": self.copy_method, "files": table}
                ).encode("utf-8")
            )
            meta.close()
            with interrupts.held():
                (self.out_dir / METADATA).unlink(missing_ok=True)
                self.kept = remove_derived(self.out_dir, {predecessor} if predecessor else set())
                for f in self._open:
                    if f is not meta:
                        f.tmp.replace(f.final)
                for optional, name in ((self._rejects, REJECTS), (self._duplicates, DUPLICATES)):
                    if optional is None:
                        (self.out_dir / name).unlink(missing_ok=True)
                meta.tmp.replace(meta.final)
                _fsync(self.out_dir)
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=_BUILD_HINT) from None
        except BaseException:
            self.discard()
            raise
        self._open.clear()
        self._release()
        return table

    def discard(self) -> None:
        """Remove every temp file; files of an earlier complete run stay as they were."""
        for f in self._open:
            f.discard()
        self._open.clear()
        self._release()

    def _release(self) -> None:
        self._syncer.shutdown(wait=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _build_of(out_dir: Path) -> str | None:
    """The build whose artifact_metadata.json is in `out_dir` (its data_out.jsonl's sha256),
    or None."""
    try:
        sha = orjson.loads((out_dir / METADATA).read_bytes())["files"][JSONL]["sha256"]
    except Exception:  # none, or unreadable: no build to name
        return None
    return sha if isinstance(sha, str) else None


def remove_derived(out_dir: Path, builds: set[str]) -> list[str]:
    """Remove the files derived from a build (`DERIVED`) that name one of `builds` as their
    maker (and data/ when that leaves it empty); leave any other file of those names, a link,
    or a file under a linked data/. Returns the names left, each with why."""
    kept = []
    for name in DERIVED:
        path = out_dir / name
        if not path.exists() and not path.is_symlink():
            continue
        if path.parent != out_dir and path.parent.is_symlink():
            kept.append(f"{name} (under a symbolic link)")
        elif made_from(path) in builds:
            path.unlink()
        else:
            maker = "arenatok did not make it" if made_from(path) is None else "another build"
            kept.append(f"{name} ({maker})")
    data = out_dir / "data"
    if data.is_dir() and not data.is_symlink() and not any(data.iterdir()):
        data.rmdir()
    return kept


Content = bytes | Callable[[IO[bytes]], object]
"""A file's bytes, or a function that writes them into an open file (in the order given)."""


def write_together(directory: Path, files: Mapping[str, Content], *, hint: str) -> None:
    """Write `files` (names relative to `directory`) so that all of them change or none: each
    to a temp file beside it (flushed to the disk), then all renamed into place with Ctrl-C
    held, then the directory flushed. Holds the directory's lock meanwhile, and first removes
    the temp files that a killed run left for these names. A link where a file or its folder
    is expected is refused."""
    made: list[_HashingFile] = []
    lock = None
    try:
        lock = _DirLock(directory, hint=hint)
        for name in files:
            path = directory / name
            for link in (path, path.parent):
                if link.is_symlink():
                    raise OutputError(
                        f"{link}: is a symbolic link; arenatok does not write through links",
                        hint=f"remove the link, or {hint}",
                    )
        _remove_stale_temps(directory, files)
        for name, data in files.items():
            f = _HashingFile(directory / name, hashed=False)
            made.append(f)
            if isinstance(data, bytes):
                f.write(data)
            else:
                data(f.file)
            f.close()
        with interrupts.held():
            for f in made:
                f.tmp.replace(f.final)
            for folder in {f.final.parent for f in made}:
                _fsync(folder)
        made.clear()
    except OSError as e:
        raise output_error(directory, e, hint=hint) from None
    finally:
        for f in made:
            f.discard()
        if lock is not None:
            lock.release()


@contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    fd, tmp = _mkstemp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        _fsync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def schema_bytes() -> bytes:
    """The JSON Schema of one output record, as shipped in the package."""
    import importlib.resources

    return (importlib.resources.files("arenatok") / SCHEMA).read_bytes()


def card_is_ours(path: Path) -> bool:
    """Whether a README.md is missing or a card that arenatok wrote (which it may replace)."""
    if not path.exists() and not path.is_symlink():
        return True
    try:
        return not path.is_symlink() and card_build(path.read_text("utf-8", "replace")) is not None
    except OSError:
        return False


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically and durably (temp file, fsync, rename, fsync of the
    directory)."""
    p = Path(path)
    try:
        with _atomic(p) as fh:
            fh.write(data)
    except OSError as e:
        raise output_error(p, e, hint="make the directory writable, or copy it elsewhere") from None


def write_json(path: str | Path, obj: object) -> None:
    """Write `obj` as indented JSON to `path`, atomically (temp file + rename)."""
    write_bytes(path, dumps_pretty(obj).encode("utf-8"))


def reject_entry(file: str, reject: Reject) -> dict[str, object]:
    """The rejects.jsonl line of a reject (`row`: counted from 1, in source order)."""
    return {
        "file": file,
        "row": reject.row,
        "question_id": reject.question_id,
        "reason": reject.reason,
    }
