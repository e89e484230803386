"""The environment through the real command, where the libraries are imported for the first
time and read their variables: a value that stopped one with a traceback is one line (exit 2)
where the command uses the variable, and is ignored where it does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.planted import planted
from tests.fakehub import serve
from tests.helpers import TINY, write_jsonl


def arenatok(env: dict[str, str], *args: object) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the real command with these variables set."""
    done = subprocess.run(
        [sys.executable, "-m", "arenatok.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("name", "value", "must", "example"),
    [
        ("HF_HUB_ETAG_TIMEOUT", "abc", "whole seconds", "10"),
        ("HF_HUB_DOWNLOAD_TIMEOUT", "1.5", "whole seconds", "10"),
        ("HF_ENDPOINT", "http://[::1", "an http or https URL", "https://huggingface.co"),
    ],
)
def test_what_the_hub_reads_is_checked_where_it_is_used(
    name: str, value: str, must: str, example: str, built: Path, tmp_path: Path
) -> None:
    expected = (
        2,
        f"Error: {name} must be {must}, got {value!r}\n"
        f"Hint: for example {name}={example}, or unset it\n",
    )
    env = {name: value, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    code, _, err = arenatok(env, "build", "--out", tmp_path / "o")  # the Hub file
    assert (code, err) == expected
    assert arenatok(env, "card", built)[0] == 0  # no request: ignored
    code, _, err = arenatok({**env, "HF_TOKEN": "hf_fake"}, "push", built, "--repo-id", "you/a")
    assert (code, err) == expected


def test_an_unreadable_date_is_one_line_for_the_build(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    env = {"SOURCE_DATE_EPOCH": "1700000000.0"}
    code, _, err = arenatok(env, "build", "--source", src, "--out", tmp_path / "o")
    assert (code, err) == (
        2,
        "Error: SOURCE_DATE_EPOCH must be whole seconds since 1970, got '1700000000.0'\n"
        "Hint: for example SOURCE_DATE_EPOCH=$(date +%s), or unset it\n",
    )


@pytest.mark.parametrize("date", ["", "1700000000.0"])
def test_report_ignores_what_it_does_not_use(date: str, built: Path) -> None:
    """numpy's f2py (loaded with SciPy) read SOURCE_DATE_EPOCH with int(); matplotlib refused a
    backend it does not know, though arenatok draws without one."""
    env = {"SOURCE_DATE_EPOCH": date, "MPLBACKEND": "no-such-backend"}
    code, stdout, err = arenatok(env, "report", built, "--rounds", "0")
    assert (code, err) == (0, "")
    assert stdout.endswith(f"wrote {built}/report.json, {built}/report.html\n")


def test_bench_ignores_what_it_does_not_use(tmp_path: Path) -> None:
    """scikit-learn and joblib read these with int() at their import."""
    built = planted(tmp_path, signal=True)
    env = {
        "SOURCE_DATE_EPOCH": "",
        "SKLEARN_WORKING_MEMORY": "a lot",
        "JOBLIB_MULTIPROCESSING": "yes",
        "LOKY_MAX_DEPTH": "deep",
    }
    code, stdout, err = arenatok(env, "bench", built, "--strategy", "full", "--rounds", "0")
    assert (code, err) == (0, "")
    assert stdout.endswith(f"wrote {built}/bench.json, {built}/bench.html\n")


def test_card_and_push_ignore_tqdm_settings_they_cannot_read(built: Path) -> None:
    env = {"TQDM_MININTERVAL": "0,1", "TQDM_NCOLS": "wide", "HF_HUB_ETAG_TIMEOUT": ""}
    assert arenatok(env, "card", built)[:3:2] == (0, "")
    with serve({}) as hub:
        env = {**env, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_fake"}
        code, _, err = arenatok(env, "push", built, "--repo-id", "you/arena")
        assert (code, err) == (0, "")
        shard = "train-00000-of-00001.parquet"
        configs = [f"data/{c}/{shard}" for c in ("flat", "preference", "turns")]
        assert [sorted(c) for c in hub.commits] == [
            sorted(["README.md", "croissant.json", f"data/{shard}", *configs])
        ]
