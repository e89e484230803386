"""End to end, a build short of resources (memory, address space, open files, a library that
cannot load, a tokenizer that fails): one line that says which, never a crash."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from tests.e2e.commands import cli_run, run
from tests.helpers import TINY, battle, write_jsonl


def _tokenizer_file(tmp_path: Path, kind: str) -> Path:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    if kind == "no_unk":
        t = Tokenizer(models.WordLevel({"hello": 0, "world": 1}))
        t.pre_tokenizer = pre_tokenizers.Whitespace()
    else:  # a split pattern that backtracks past the regex engine's limit on long runs
        t = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
        letter = {"backtracks": "a", "backtracks_on_data": "q"}[kind]
        t.pre_tokenizer = pre_tokenizers.Split(Regex(f"({letter}+)+b"), behavior="isolated")
    path = tmp_path / f"{kind}.json"
    t.save(str(path))
    return path


def test_out_of_memory_reading_parquet_is_not_corrupt_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    src = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(TINY), src)

    def oom(*args: Any, **kwargs: Any) -> Any:
        raise pa.lib.ArrowMemoryError("malloc of size 67108864 failed")
        yield

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", oom)
    result = run("build", "--source", src, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: out of memory (malloc of size 67108864 failed)",
        "Hint: free memory or raise the limit (ulimit -v), or ask for less: fewer --workers or "
        "--jobs, a smaller --limit",
    ]


@pytest.mark.parametrize("where", ["reading", "anywhere"])
def test_too_many_open_files_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from arenatok.pipeline import driver
    from arenatok.pipeline.sources.filetypes.jsonl import Jsonl

    def emfile(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    target, name = (Jsonl, "payloads") if where == "reading" else (driver, "run")
    monkeypatch.setattr(target, name, emfile)
    result = run(
        "build", "--source", write_jsonl(tmp_path / "b.jsonl", TINY), "--out", tmp_path / "o"
    )
    assert result.exit_code == 1
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert result.output.splitlines() == [
        f"Error: too many open files (this process may have {soft} open at once)",
        "Hint: raise the limit (ulimit -n 4096), or use fewer --workers or --jobs",
    ]


def test_a_library_that_cannot_load_is_not_called_missing() -> None:
    from arenatok.errors import MissingExtraError, ResourceError, missing_extra

    no_files = ImportError("libgomp.so.1: cannot open shared object file: Too many open files")
    error = missing_extra(no_files, "arenatok bench", "bench", "scikit-learn", "sklearn")
    assert isinstance(error, ResourceError)
    assert error.message.startswith("too many open files")
    broken = missing_extra(
        ImportError("bad ELF"), "arenatok bench", "bench", "scikit-learn", "sklearn"
    )
    assert broken.message == (
        "arenatok bench needs scikit-learn, which is installed but cannot be imported (bad ELF)"
    )
    absent = missing_extra(ImportError("x"), "plotting", "report", "nothing", "no_such_module_x")
    assert isinstance(absent, MissingExtraError)


def test_no_segmentation_fault_under_an_address_space_limit(
    arena_parquet: Path, tmp_path: Path
) -> None:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000 * 1024, resource.RLIM_INFINITY))

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    code = "from arenatok.cli import main; main()"
    args = ["build", "--source", str(arena_parquet), "--limit", "400", "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], preexec_fn=limit, capture_output=True, env=env
    )
    assert done.returncode == 0, done.stderr.decode()
    assert validate_dir(tmp_path / "o") == []


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("no_unk", "WordLevel error: Missing [UNK] token from the vocabulary"),
        ("backtracks", "Onig: Regex search error: retry-limit-in-match over"),
    ],
)
def test_a_tokenizer_that_cannot_encode_fails_before_the_build(
    tmp_path: Path, kind: str, why: str
) -> None:
    tok = _tokenizer_file(tmp_path, kind)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    code, _, err = cli_run("build", "--source", str(src), "--tokenizer", str(tok), "--out", "o")
    assert code == 1
    assert err.splitlines()[0] == f"Error: {tok}: cannot encode a text ({why})"
    assert len(err.splitlines()) == 2  # and its hint


def test_a_tokenizer_panic_on_the_data_stops_the_workers_with_one_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    tok = _tokenizer_file(tmp_path, "backtracks_on_data")
    rows = [battle(f"q{i}", [(f"Hi {i}", "fine", "ok")]) for i in range(6000)]
    rows[5000] = battle("q5000", [("q" * 64 + "c", "fine", "ok")])
    src = write_jsonl(tmp_path / "b.jsonl", rows)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "arenatok.cli", "build", "--source", str(src)),
            *("--limit", "all", "--tokenizer", str(tok), "--workers", "2"),
            *("--out", str(tmp_path / "o")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RUST_BACKTRACE": "0"},
    )
    assert proc.returncode == 1
    assert "Error: " + str(tok) + ": cannot encode a text (Onig: Regex search error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) < 20  # the panic's own lines, then ours
    assert not (tmp_path / "o" / "artifact_metadata.json").exists()
