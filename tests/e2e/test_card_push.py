"""End to end, `card` and `push`: a user's README stays unless forced, a linked data folder is
left alone, large records are read in blocks, and push sends only a build and card that check:
the files that card wrote, their bytes as its list gives them, nothing else in data/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.errors import SourceError
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import CARD, MANIFEST, PARQUET, by_card
from tests.e2e.commands import cli_run, run
from tests.fakehub import FakeApi, serve
from tests.helpers import TINY, battle, edit_records, rewrite, write_jsonl


def test_push_refuses_a_build_that_validate_rejects(built: Path) -> None:
    from arenatok.dataset.push import push
    from arenatok.errors import BuildError

    assert run("card", built).exit_code == 0
    edit_records(built, lambda r: r["context"]["token_usage"].update(total_tokens=10**15))
    with pytest.raises(BuildError, match="total_tokens is 1000000000000000"):
        push(built, "you/arena", api=object())


def test_push_refuses_a_card_changed_since_it_was_written(built: Path) -> None:
    from arenatok.dataset.push import push

    assert run("card", built).exit_code == 0
    with (built / "README.md").open("a") as f:
        f.write("<img src=x onerror=alert(1)>\n")
    with pytest.raises(SourceError, match=r"README\.md is not as arenatok wrote it"):
        push(built, "you/arena", api=object())


def test_a_failed_card_leaves_no_empty_data_dir_and_no_lock(built: Path) -> None:
    rewrite(built, "data_out.jsonl", (built / "data_out.jsonl").read_bytes() + b"{}\n")
    result = run("card", built)
    assert result.exit_code == 2
    assert not (built / "data").exists()
    assert not (built / ".arenatok.lock").exists()


def test_card_leaves_a_users_readme_unless_forced(tiny_build: Path) -> None:
    (tiny_build / "README.md").write_text("# my notes\n")
    code, _, err = cli_run("card", str(tiny_build))
    assert (code, err) == (
        3,
        f"Error: {tiny_build}/README.md: is not a card that arenatok wrote; "
        "arenatok leaves it alone\n"
        "Hint: move it away, or pass --force to replace it\n",
    )
    assert (tiny_build / "README.md").read_text() == "# my notes\n"
    assert not (tiny_build / "data" / "train-00000-of-00001.parquet").exists()
    assert cli_run("card", str(tiny_build), "--force")[0] == 0
    assert "made_with: arenatok" in (tiny_build / "README.md").read_text()


def test_a_linked_data_folder_is_neither_written_nor_emptied(
    tiny_build: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tiny_build / "data").symlink_to(outside)
    code, _, err = cli_run("card", str(tiny_build))
    assert code == 3
    assert "is a symbolic link; arenatok does not write through links" in err
    assert list(outside.iterdir()) == []
    # Our card's Parquet file placed in the outside folder survives a rebuild.
    (tiny_build / "data").unlink()
    assert cli_run("card", str(tiny_build))[0] == 0
    (outside / "train-00000-of-00001.parquet").write_bytes(
        (tiny_build / "data" / "train-00000-of-00001.parquet").read_bytes()
    )
    shutil.rmtree(tiny_build / "data")
    (tiny_build / "data").symlink_to(outside)
    build(write_jsonl(tmp_path / "c.jsonl", TINY[:2]), out=tiny_build)
    assert [p.name for p in outside.iterdir()] == ["train-00000-of-00001.parquet"]


def test_card_reads_records_over_a_mebibyte_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from arenatok.dataset import shards

    rows = [battle(f"q{i}", tstamp=None if i < 3 else 1.5) for i in range(6)]
    rows[4] = battle("q4", [("Hi", "word " * 230_000, "short")])  # a 1.1 MB answer
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    # Blocks of about one record: the first blocks have no timestamp, the later ones do.
    monkeypatch.setattr(shards, "CHUNK_BYTES", 1000)
    assert cli_run("card", str(out))[0] == 0
    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    assert table.num_rows == 6
    records = [json.loads(line) for line in (out / "data_out.jsonl").read_text().splitlines()]

    def set_fields(v: Any) -> Any:  # Arrow gives a field that one record lacks as null
        if isinstance(v, dict):
            return {k: set_fields(x) for k, x in v.items() if x is not None}
        return [set_fields(x) for x in v] if isinstance(v, list) else v

    assert set_fields(table.to_pylist()) == set_fields(records)
    assert validate_dir(out) == []


def card_files(out: Path) -> dict[str, bytes]:
    """The files that the directory's list names as card's (README.md, croissant.json,
    data/...): their bytes, checked against the list."""
    import hashlib

    listed = json.loads((out / MANIFEST).read_bytes())
    files = {n: (out / n).read_bytes() for n in listed if by_card(n)}
    for name, data in files.items():
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"]
    return files


def push_command(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`arenatok push OUT --repo-id me/arena`, the real command in a process of its own (a
    timeout, not a measure: a push that would wait forever fails instead)."""
    return subprocess.run(
        [sys.executable, "-m", "arenatok.cli", "push", str(out), "--repo-id", "me/arena"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def plant_link(data: Path, outside: Path) -> str:
    (data / "notes.parquet").symlink_to(outside)
    return "data/notes.parquet: is a symbolic link"


def plant_file(data: Path, outside: Path) -> str:
    (data / "extra.parquet").write_bytes((data / "train-00000-of-00001.parquet").read_bytes())
    return "data/extra.parquet: is a file"


def plant_folder(data: Path, outside: Path) -> str:
    (data / "old").mkdir()
    (data / "old" / "train.parquet").write_bytes(b"PAR1")
    return "data/old: is a directory"


def plant_fifo(data: Path, outside: Path) -> str:
    os.mkfifo(data / "pipe")
    return "data/pipe: is a FIFO"


def plant_linked_data(data: Path, outside: Path) -> str:
    copy = outside.parent / "data-copy"
    data.rename(copy)
    data.symlink_to(copy)
    return "data: is a symbolic link"


@pytest.mark.parametrize(
    "plant", [plant_link, plant_file, plant_folder, plant_fifo, plant_linked_data]
)
def test_push_refuses_anything_in_data_that_card_did_not_write(
    tiny_build: Path, tmp_path: Path, plant: Any
) -> None:
    from arenatok.dataset.push import push

    assert run("card", tiny_build).exit_code == 0
    private = tmp_path / "private.parquet"
    private.write_bytes(b"a private file outside the build")
    what = plant(tiny_build / "data", private)
    hub = FakeApi()
    with pytest.raises(SourceError) as e:
        push(tiny_build, "me/arena", api=hub)
    assert (hub.calls, hub.uploaded) == ([], {})  # refused before any network call
    message = (
        f"{tiny_build}/{what} that arenatok card did not write; push uploads only card's files"
    )
    hint = f"move it away, or run arenatok card {tiny_build} again"
    assert (e.value.message, e.value.hint, e.value.exit_code) == (message, hint, 2)
    assert cli_run("push", str(tiny_build), "--repo-id", "me/arena") == (
        2,
        "",
        f"Error: {message}\nHint: {hint}\n",
    )


def test_push_refuses_a_card_file_changed_in_place_after_card(tiny_build: Path) -> None:
    from arenatok.dataset.push import push

    assert run("card", tiny_build).exit_code == 0
    card = tiny_build / CARD
    text = card.read_bytes()
    card.write_bytes(text[:-2] + bytes([text[-2] ^ 1]) + text[-1:])  # the same size
    hub = FakeApi()
    with pytest.raises(SourceError) as e:
        push(tiny_build, "me/arena", api=hub)
    assert e.value.message == (
        f"{tiny_build}: the card is stale: README.md is not as arenatok wrote it (changed, or "
        "not in its list)"
    )
    assert (hub.calls, hub.uploaded) == ([], {})


def test_push_uploads_the_files_it_checked_though_one_is_replaced_meanwhile(
    tiny_build: Path, tmp_path: Path
) -> None:
    from arenatok.dataset.push import push

    assert run("card", tiny_build).exit_code == 0
    ours = card_files(tiny_build)
    private = tmp_path / "private.parquet"
    private.write_bytes(b"a private file outside the build")

    class Swapping(FakeApi):
        """Replaces the Parquet file by a link to a private file once push checked it."""

        def repo_exists(self, repo_id: str, *, repo_type: str) -> bool:
            (tiny_build / PARQUET).unlink()
            (tiny_build / PARQUET).symlink_to(private)
            return super().repo_exists(repo_id, repo_type=repo_type)

    hub = Swapping()
    push(tiny_build, "me/arena", api=hub)
    assert hub.uploaded == ours


def push_to_fake_hub(out: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Any]:
    """The real command and the real Hub client, against a Hub on localhost (HF_ENDPOINT)."""
    with serve({}) as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.url,
            "HF_TOKEN": "hf_fake",
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        env.pop("HF_HUB_OFFLINE", None)
        return push_command(out, env), hub


def test_push_uploads_the_cards_files_to_the_endpoint_of_hf_endpoint(
    tiny_build: Path, tmp_path: Path
) -> None:
    assert run("card", tiny_build).exit_code == 0
    (tiny_build / "report.json").write_text("{}")  # not card's: stays home
    done, hub = push_to_fake_hub(tiny_build, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"pushed to {hub.url}/datasets/me/arena\n",
        "",
    )
    assert hub.commits == [card_files(tiny_build)]
    shard = "train-00000-of-00001.parquet"
    configs = [f"data/{shard}", *(f"data/{c}/{shard}" for c in ("flat", "turns", "preference"))]
    assert sorted(hub.commits[0]) == sorted([CARD, "croissant.json", *configs])


def test_a_link_in_data_to_a_private_file_never_reaches_the_hub(
    tiny_build: Path, tmp_path: Path
) -> None:
    assert run("card", tiny_build).exit_code == 0
    private = tmp_path / "private.parquet"
    private.write_bytes(b"a private file outside the build")
    (tiny_build / "data" / "notes.parquet").symlink_to(private)
    done, hub = push_to_fake_hub(tiny_build, tmp_path)
    assert (done.returncode, hub.requests, hub.commits) == (2, [], [])
    assert done.stderr.startswith(f"Error: {tiny_build}/data/notes.parquet: is a symbolic link")


def test_push_reads_no_list_of_derived_files_that_is_a_fifo(tiny_build: Path) -> None:
    """The list is opened without blocking: a FIFO there is refused, not waited on."""
    assert run("card", tiny_build).exit_code == 0
    (tiny_build / MANIFEST).unlink()
    os.mkfifo(tiny_build / MANIFEST)
    done = push_command(tiny_build, dict(os.environ))
    assert (done.returncode, done.stderr) == (
        3,
        f"Error: {tiny_build / MANIFEST}: is a FIFO, not a regular file; it is arenatok's list "
        "of the files it wrote here\nHint: move it away, then run the command again\n",
    )
