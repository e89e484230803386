"""`cli.dataset_commands`: `arenatok validate` (ok, or every problem and exit code 1), `arenatok
card` (the card and its Parquet file, a README of the user's left alone unless --force) and
`arenatok push` refusing before it reaches the Hub."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import PARQUET
from tests.helpers import TINY, write_jsonl


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def out(tmp_path: Path) -> Path:
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "o")
    return tmp_path / "o"


def test_validate_says_ok_on_a_build_as_written(out: Path) -> None:
    assert run("validate", out) == (
        0,
        f"{out}: ok (every file matches artifact_metadata.json; every record holds)\n",
        "",
    )


def test_validate_lists_every_problem_and_counts_them(out: Path, tmp_path: Path) -> None:
    size = (out / "mini_data_out.json").stat().st_size
    for name in ("mini_data_out.json", "preview_data_out.json"):
        (out / name).write_text("[]")
    code, text, _ = run("validate", out)
    assert code == 1
    assert text.splitlines()[-1] == f"{out}: 2 problems"
    assert f"problem: mini_data_out.json: 2 bytes, the metadata says {size}" in text
    assert run("validate", tmp_path / "nothing")[:2] == (
        1,
        f"problem: {tmp_path / 'nothing'}: not a directory\n{tmp_path / 'nothing'}: 1 problem\n",
    )


def test_card_writes_the_card_and_its_parquet_and_leaves_a_users_readme(out: Path) -> None:
    (out / "README.md").write_text("# my notes\n")
    code, _, err = run("card", out)
    assert code == 3
    assert err == (
        f"Error: {out / 'README.md'}: is not a card that arenatok wrote; arenatok leaves it "
        "alone\nHint: move it away, or pass --force to replace it\n"
    )
    assert (out / "README.md").read_text() == "# my notes\n"
    assert run("card", out, "--force", "--license", "cc-by-4.0") == (
        0,
        f"wrote {out / 'README.md'}, {out / 'croissant.json'} and the configs default, flat, "
        f"turns and preference under {out / 'data'}\n",
        "",
    )
    assert "\nlicense: cc-by-4.0\n" in (out / "README.md").read_text()
    assert (out / PARQUET).is_file()


def test_push_refuses_before_it_sends_anything(out: Path) -> None:
    code, _, err = run("push", out, "--repo-id", "you/x")
    assert code == 2
    assert err == f"Error: {out}: no dataset card here\nHint: run arenatok card {out} first\n"
    code, _, err = run("push", out)
    assert code == 2
    assert "Missing option '--repo-id'" in err
