"""`runtime.files`: the one way arenatok opens a file of its own: a regular file only (a link,
a FIFO, a directory refused at once, in words that fit after its path), no link followed below
the directory, a size bound where a file is read whole; and the kernel's copy of a file."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from arenatok.pipeline import write
from arenatok.pipeline.write import DatasetWriter
from arenatok.runtime.files import (
    HEAD,
    NOT_OURS,
    NotRegularFile,
    exists,
    is_dir,
    is_regular,
    kind,
    mkstemp,
    read_head,
    read_owned,
    sha256_owned,
    writer,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A file, a FIFO, a link to the file, a directory, a folder and a link to that folder."""
    (tmp_path / "f").write_bytes(b"x" * 10)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "g").write_bytes(b"g")
    (tmp_path / "via").symlink_to(tmp_path / "dir")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    return tmp_path


def test_a_regular_file_reads_whole_within_its_bound(tree: Path) -> None:
    assert read_owned(tree / "f", limit=10) == b"x" * 10
    assert read_owned(tree / "dir" / "g", limit=1, within=tree) == b"g"
    assert read_owned(tree / "via" / "g", limit=1) == b"g"  # no `within`: only the last part


@pytest.mark.parametrize(
    ("name", "within", "code", "words"),
    [
        ("fifo", None, errno.EINVAL, "is a FIFO, not a regular file"),
        ("link", None, errno.ELOOP, "is a symbolic link; arenatok does not follow links"),
        ("dir", None, errno.EINVAL, "is a directory, not a regular file"),
        ("f", 5, errno.EFBIG, "has 10 bytes, more than the 5 it may have"),
        ("via/g", "", errno.ENOTDIR, "is under via, which is not a directory of its own (a link?)"),
        ("f/x", "", errno.ENOTDIR, "is under f, which is not a directory of its own (a link?)"),
    ],
)
def test_anything_else_is_refused_in_words_that_follow_its_path(
    tree: Path, name: str, within: int | str | None, code: int, words: str
) -> None:
    limit = within if isinstance(within, int) else 100
    with pytest.raises(NotRegularFile) as caught:
        read_owned(tree / name, limit=limit, within=tree if within == "" else None)
    assert (caught.value.errno, caught.value.strerror) == (code, words)
    assert isinstance(caught.value, NOT_OURS)


def test_nothing_there_is_file_not_found(tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_owned(tree / "nothing", limit=1)
    with pytest.raises(NotRegularFile):  # a link to nothing is still a link
        read_head(tree / "dangling")


def test_read_head_and_sha256_read_a_file_in_blocks(tmp_path: Path) -> None:
    data = os.urandom(HEAD * 2 + 3)
    (tmp_path / "big").write_bytes(data)
    assert read_head(tmp_path / "big") == data[:HEAD]
    assert sha256_owned(tmp_path / "big") == (len(data), hashlib.sha256(data).hexdigest())


def test_lstat_questions_never_follow_a_link(tree: Path) -> None:
    answers = {
        name: (is_regular(tree / name), is_dir(tree / name), exists(tree / name))
        for name in ("f", "fifo", "link", "dir", "via", "dangling", "nothing")
    }
    assert answers == {
        "f": (True, False, True),
        "fifo": (False, False, True),
        "link": (False, False, True),
        "dir": (False, True, True),
        "via": (False, False, True),
        "dangling": (False, False, True),
        "nothing": (False, False, False),
    }


def test_kind_names_each_file_type(tree: Path) -> None:
    assert [kind(os.lstat(tree / n).st_mode) for n in ("f", "fifo", "dir")] == [
        "a regular file",
        "a FIFO",
        "a directory",
    ]
    assert kind(stat.S_IFSOCK) == "a socket"
    assert kind(stat.S_IFCHR) == "a character device"
    assert kind(stat.S_IFBLK) == "a block device"


def test_a_temp_file_is_new_beside_its_final_name_with_a_plain_opens_mode(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)
    try:
        fds = [mkstemp(tmp_path / "x.json") for _ in range(3)]
    finally:
        os.umask(old)
    paths = [path for _, path in fds]
    assert len(set(paths)) == 3
    for fd, path in fds:
        assert path.parent == tmp_path
        assert path.name.startswith(".x.json.")
        assert path.stat().st_mode & 0o777 == 0o644
        with writer(fd, str(path)) as f:
            f.write(b"written through os.write")
        assert path.read_bytes() == b"written through os.write"


@pytest.mark.parametrize("fallback", ["none", "no_reflink", "no_kernel_copy"])
def test_the_copy_of_data_out_json_is_made_by_the_kernel_where_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: str
) -> None:
    """full_data_out.json: a reflink where the file system shares blocks, else
    copy_file_range, else a plain copy; the same bytes every way, and the method recorded."""
    import errno
    import fcntl

    def no(*args: Any) -> Any:
        raise OSError(errno.EXDEV, "not here")

    if fallback != "none":
        monkeypatch.setattr(fcntl, "ioctl", no)
    if fallback == "no_kernel_copy":
        monkeypatch.setattr(os, "copy_file_range", no)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 2**20 + 17))
    with (tmp_path / "dst.bin").open("wb") as dst:
        method = write.clone_file(src, dst)
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()
    expected = {"no_reflink": "copy_file_range", "no_kernel_copy": "copy"}
    assert method == expected.get(fallback, method)
    assert method in ("reflink", "copy_file_range", "copy")
    writer = DatasetWriter(tmp_path / "o", keep_rejects=False)
    writer.add(b'{"a": 1}', 1)
    writer.commit({"counts": {}})
    meta = orjson.loads((tmp_path / "o" / write.METADATA).read_bytes())
    assert meta["full_data_out_copy"] == writer.copy_method == method
    assert (tmp_path / "o" / write.FULL).read_bytes() == (tmp_path / "o" / write.DATA).read_bytes()
