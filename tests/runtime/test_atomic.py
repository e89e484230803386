"""`runtime.atomic`: files written whole or not at all, together or not at all, one run at a
time per directory (its lock), what a killed run left found and removed, and the errors that
say why a directory cannot be written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from arenatok.errors import OptionError, OutputError, ResourceError
from arenatok.runtime.atomic import (
    LOCK,
    DirLock,
    Listed,
    NewDirs,
    TempFile,
    dumps_pretty,
    locked,
    out_dir,
    output_error,
    remove_stale_temps,
    sha256_file,
    temps,
    write_together,
)


def test_dumps_pretty_is_indented_utf8_json_ending_a_line() -> None:
    text = dumps_pretty({"caf\u00e9": [1, None], "b": {}})
    assert text == '{\n  "caf\u00e9": [\n    1,\n    null\n  ],\n  "b": {}\n}\n'
    assert json.loads(text) == {"caf\u00e9": [1, None], "b": {}}


@pytest.mark.parametrize(
    ("error", "message", "hint"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device"),
            "no space left on the device",
            "free space and retry",
        ),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied", "H"),
        (OSError(errno.EROFS, "Read-only file system"), "permission denied", "H"),
        (OSError(errno.EIO, "Input/output error"), "cannot write: Input/output error", "H"),
    ],
)
def test_an_os_error_while_writing_says_what_to_do(error: OSError, message: str, hint: str) -> None:
    made = output_error(Path("out"), error, hint="H")
    assert isinstance(made, OutputError)
    assert (made.message, made.hint) == (f"out: {message}", hint)


def test_running_out_of_memory_while_writing_is_a_resource_error() -> None:
    made = output_error(Path("out"), OSError(errno.ENOMEM, "Cannot allocate memory"), hint="H")
    assert isinstance(made, ResourceError)
    assert made.message.startswith("out of memory")


def test_out_dir_takes_a_directory_or_a_new_path_and_says_why_not_otherwise(
    tmp_path: Path,
) -> None:
    assert out_dir(tmp_path) == tmp_path
    assert out_dir(str(tmp_path / "new")) == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # made by the command that writes, not here
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = [
        ("", "--out is empty; arenatok does not take it as the working directory"),
        (tmp_path / "file", f"--out {tmp_path / 'file'}: is a file, not a directory"),
        (
            tmp_path / "dangling",
            f"--out {tmp_path / 'dangling'}: is a symbolic link to {tmp_path / 'nowhere'}, "
            "which does not exist",
        ),
    ]
    for path, message in cases:
        with pytest.raises(OptionError) as caught:
            out_dir(path)
        assert caught.value.message == message
    with pytest.raises(OptionError, match=r"^--to is empty"):
        out_dir("", "--to")


def test_sha256_file_is_the_files_sha256(tmp_path: Path) -> None:
    data = os.urandom(2**20 * 2 + 5)  # more than one block
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_a_temp_file_is_beside_its_final_name_and_lists_what_was_written(
    tmp_path: Path,
) -> None:
    f = TempFile(tmp_path / "x.json")
    assert f.tmp.parent == tmp_path
    assert re.fullmatch(r"\.x\.json\.[0-9a-f]{8}\.tmp", f.tmp.name)
    f.write(b"ab")
    f.write(b"c")
    assert f.close() == {"bytes": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}
    assert f.tmp.read_bytes() == b"abc"
    assert not (tmp_path / "x.json").exists()  # renamed only by a commit
    unhashed = TempFile(tmp_path / "y.json", hashed=False)
    unhashed.write(b"abc")
    assert unhashed.close() is None
    dropped = TempFile(tmp_path / "z.json")
    dropped.write(b"abc")
    dropped.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f.tmp.name, unhashed.tmp.name])


def test_new_dirs_undo_removes_only_the_empty_folders_it_made(tmp_path: Path) -> None:
    made = NewDirs(tmp_path / "a" / "b" / "c")
    assert made.made == [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"]
    (tmp_path / "a" / "keep").write_text("x")
    made.undo()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["keep"]
    NewDirs(tmp_path / "d" / "e").undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_one_lock_per_directory_holding_the_pid_and_gone_when_released(
    tmp_path: Path,
) -> None:
    lock = DirLock(tmp_path)
    try:
        assert locked(tmp_path)
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
        with pytest.raises(OutputError) as caught:
            DirLock(tmp_path, hint="choose another --to")
        assert caught.value.message == (
            f"{tmp_path}: another arenatok run (pid {os.getpid()}) is writing here"
        )
        assert caught.value.hint == "wait for it to finish, or choose another --to"
    finally:
        lock.release()
    lock.release()  # twice: nothing more
    assert not locked(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("plant", "message", "hint"),
    [
        (
            lambda p: p.symlink_to(p.parent / "elsewhere"),
            "is a symbolic link; arenatok does not write through links",
            "remove the link, or choose another --out directory",
        ),
        (
            os.mkfifo,
            "is a FIFO; arenatok locks only a regular file of its own",
            "remove it, or choose another --out directory",
        ),
        (
            os.mkdir,
            "is not a regular file; arenatok locks only a regular file of its own",
            "remove it, or choose another --out directory",
        ),
    ],
)
def test_anything_but_a_regular_file_under_the_locks_name_is_refused_at_once(
    tmp_path: Path, plant: Callable[[Path], object], message: str, hint: str
) -> None:
    plant(tmp_path / LOCK)
    with pytest.raises(OutputError) as caught:
        DirLock(tmp_path)
    assert (caught.value.message, caught.value.hint) == (f"{tmp_path / LOCK}: {message}", hint)
    assert not locked(tmp_path)
    assert not (tmp_path / "elsewhere").exists()


def test_temps_finds_a_killed_runs_temp_files_and_not_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    left = [
        tmp_path / ".x.json.0f0f0f0f.tmp",
        tmp_path / "data" / ".t.parquet.12345678.tmp",
        tmp_path / "elsewhere" / ".y.json.0f0f0f0f.tmp",
    ]
    for p in [*left, tmp_path / ".other.json.0f0f0f0f.tmp", tmp_path / "x.json"]:
        p.write_text("half")
    names = ["x.json", "data/t.parquet", "linked/y.json"]
    assert sorted(temps(tmp_path, names, through_links=True)) == sorted(
        [left[0], left[1], tmp_path / "linked" / ".y.json.0f0f0f0f.tmp"]
    )
    assert sorted(temps(tmp_path, names, through_links=False)) == sorted(left[:2])
    remove_stale_temps(tmp_path, names)
    assert [p.exists() for p in left] == [False, False, True]
    assert (tmp_path / ".other.json.0f0f0f0f.tmp").exists()


def test_write_together_writes_every_file_and_lists_each(tmp_path: Path) -> None:
    def parts(f: IO[bytes]) -> None:
        f.write(b"one ")
        f.write(b"two")

    seen: list[dict[str, Listed]] = []
    (tmp_path / "sub").mkdir()  # folders are the caller's to make

    def last(table: dict[str, Listed]) -> dict[str, bytes]:
        seen.append(table)
        return {"list.json": json.dumps(sorted(table)).encode()}

    listed = write_together(
        tmp_path,
        {"a.txt": b"alpha", "sub/b.txt": parts},
        hint="H",
        last=last,
    )
    assert (tmp_path / "sub" / "b.txt").read_bytes() == b"one two"
    assert json.loads((tmp_path / "list.json").read_bytes()) == ["a.txt", "sub/b.txt"]
    for name in ("a.txt", "sub/b.txt", "list.json"):
        data = (tmp_path / name).read_bytes()
        assert listed[name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert seen == [{k: listed[k] for k in ("a.txt", "sub/b.txt")}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "list.json", "sub"]


def test_write_together_refuses_a_link_and_a_refusal_of_prepare_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_bytes(b"old")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError) as caught:
        write_together(tmp_path, {"a.txt": b"new", "link/b.txt": b"b"}, hint="H")
    assert caught.value.message == (
        f"{tmp_path / 'link'}: is a symbolic link; arenatok does not write through links"
    )

    def refuse() -> None:
        raise OutputError("no", hint=None)

    with pytest.raises(OutputError, match=r"^no$"):
        write_together(tmp_path, {"a.txt": b"new"}, hint="H", prepare=refuse)
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "elsewhere", "link"]


def test_files_respect_the_umask_and_leave_it_alone(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_together(tmp_path, {"x.json": b"{}"}, hint="")
        assert os.umask(0o027) == 0o027  # the library did not change it
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o640
