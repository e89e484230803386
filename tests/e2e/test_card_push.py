"""End to end, `card` and `push`: a user's README stays unless forced, a linked data folder is
left alone, large records are read in blocks, and push sends only a build and card that check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.errors import SourceError
from arenatok.pipeline.driver import build
from tests.e2e.commands import cli_run, run
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
    for p in (tiny_build / "data").iterdir():
        p.unlink()
    (tiny_build / "data").rmdir()
    (tiny_build / "data").symlink_to(outside)
    build(write_jsonl(tmp_path / "c.jsonl", TINY[:2]), out=tiny_build)
    assert [p.name for p in outside.iterdir()] == ["train-00000-of-00001.parquet"]


def test_card_reads_records_over_a_mebibyte_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from arenatok.dataset import card

    rows = [battle(f"q{i}", tstamp=None if i < 3 else 1.5) for i in range(6)]
    rows[4] = battle("q4", [("Hi", "word " * 230_000, "short")])  # a 1.1 MB answer
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    # Blocks of about one record: the first blocks have no timestamp, the later ones do.
    monkeypatch.setattr(card, "CHUNK_BYTES", 1000)
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
