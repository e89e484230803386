"""Trust at the edges (inputs, resources, streams): a key named twice is a bad row; compressed
sources give the plain file's records; look-alike model names stay apart and are named; out of
memory and out of open files are one line with their cause; a closed or ASCII stdout is no
crash; a killed run's temp files do not condemn a good build."""

from __future__ import annotations

import bz2
import errno
import gzip
import json
import lzma
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from tests.helpers import TINY, battle, write_jsonl
from tests.test_formats import kaggle_row, write_csv


def run(*args: object) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_jsonl_row_that_names_a_key_twice_is_a_bad_row(tmp_path: Path) -> None:
    row = json.dumps(TINY[0])[:-1] + ', "winner": "model_b"}'  # json keeps the last silently
    nested = json.dumps(TINY[1]).replace('"role": "user"', '"role": "user", "role": "user"', 1)
    src = tmp_path / "b.jsonl"
    src.write_text(row + "\n" + nested + "\n" + json.dumps(TINY[2]) + "\n")
    result = run("build", "--source", src, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: {src}: row 1: line 1 names the key 'winner' twice in one object (which value "
        "is meant cannot be told)"
    )
    build(src, out=tmp_path / "o", on_bad_row="reject")
    rejects = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    why = "twice in one object (which value is meant cannot be told)"
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (1, f"line 1 names the key 'winner' {why}"),
        (2, f"line 2 names the key 'role' {why}"),
    ]


def test_a_json_record_that_names_a_key_twice_is_a_bad_row(tmp_path: Path) -> None:
    first = json.dumps(TINY[0])[:-1] + ', "winner": "model_b"}'
    src = tmp_path / "b.json"
    src.write_text(f"[{first}, {json.dumps(TINY[1])}]")
    build(src, out=tmp_path / "o", on_bad_row="reject")
    [reject] = [json.loads(x) for x in (tmp_path / "o" / "rejects.jsonl").read_text().splitlines()]
    assert reject["reason"] == (
        "record 1 names the key 'winner' twice in one object (which value is meant cannot be told)"
    )
    assert validate_dir(tmp_path / "o") == []


COMPRESSORS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda data: pa.compress(data, codec="zstd", asbytes=True),
}


def _zstd_frame(data: bytes) -> bytes:
    """A zstd frame a `zstd` command would write (Arrow's compress gives a bare frame too)."""
    out = pa.BufferOutputStream()
    with pa.CompressedOutputStream(out, "zstd") as f:
        f.write(data)
    return bytes(out.getvalue().to_pybytes())


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz", "zst"])
@pytest.mark.parametrize("kind", ["jsonl", "json", "csv"])
def test_a_compressed_source_gives_the_plain_files_records(
    tmp_path: Path, suffix: str, kind: str
) -> None:
    if kind == "csv":
        plain = write_csv(
            tmp_path / "b.csv", [kaggle_row(i, ["Hey"], winner=i % 3) for i in range(5)]
        )
    elif kind == "json":
        plain = tmp_path / "b.json"
        plain.write_text(json.dumps(TINY))
    else:
        plain = write_jsonl(tmp_path / "b.jsonl", TINY)
    data = plain.read_bytes()
    packed = _zstd_frame(data) if suffix == "zst" else COMPRESSORS[suffix](data)
    compressed = tmp_path / "c" / f"b.{kind}.{suffix}"
    compressed.parent.mkdir()
    compressed.write_bytes(packed)
    build(plain, out=tmp_path / "plain", limit=None)
    build(compressed, out=tmp_path / "packed", limit=None)
    for name in ("data_out.jsonl", "data_out.json", "mini_data_out.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "packed" / name).read_bytes()
    meta = json.loads((tmp_path / "packed" / "artifact_metadata.json").read_text())
    assert meta["source"]["compressed"]["bytes"] == len(packed)
    assert meta["source"]["bytes"] == len(data)
    assert validate_dir(tmp_path / "packed") == []


def test_compression_is_told_by_its_bytes_and_a_cut_stream_is_one_line(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "b.jsonl", TINY).read_bytes()
    named_plain = tmp_path / "gz_inside.jsonl"
    named_plain.write_bytes(gzip.compress(data))
    build(named_plain, out=tmp_path / "o")
    assert len((tmp_path / "o" / "data_out.jsonl").read_text().splitlines()) == 4
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(data * 50)[:-40])
    result = run("build", "--source", cut, "--out", tmp_path / "o2", "--limit", "all")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {cut}: the gzip data is corrupt or cut short")
    assert len(result.output.splitlines()) == 2


def test_look_alike_model_names_stay_apart_and_are_named(tmp_path: Path) -> None:
    names = ["gpt-4", "GPT-4", "gpt\u20114", "gpt-4\u00a0", "vicuna", "vi\u0441una", "claude"]
    rows = [
        battle(f"q{i}", [(f"prompt {i}", "a", "b")], model_a=names[i % 7], model_b="claude")
        for i in range(6)
    ]
    out = tmp_path / "o"
    result = run("build", "--source", write_jsonl(tmp_path / "b.jsonl", rows), "--out", out)
    assert result.exit_code == 0
    note = (
        "note: 2 groups of model names differ only by case, Unicode form, whitespace or "
        "look-alike characters, and are kept as distinct models: 'GPT-4' / 'gpt-4' / "
        "'gpt-4\\xa0' / 'gpt\\u20114'; 'vicuna' / 'vi\\u0441una'"
    )
    assert note in result.output.splitlines()
    result = run("report", out, "--rounds", "0")
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["models"] == 7
    assert note.removeprefix("note: 2") in report["caveats"][0]


def test_out_of_memory_reading_parquet_is_not_corrupt_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

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

    target, name = (Jsonl, "batches") if where == "reading" else (driver, "run")
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


def _cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", "from arenatok.cli import main; main()", *args], **kwargs
    )


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    for args in (["validate", str(out)], ["report", str(out), "--rounds", "0"]):
        with subprocess.Popen(
            [sys.executable, "-c", "from arenatok.cli import main; main()", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.close()
            err = proc.stderr.read()
            assert proc.wait() in (0, 141)
        assert err == b""


def test_a_stdout_that_cannot_encode_unicode_gets_escapes(tmp_path: Path) -> None:
    rows = [battle(f"q{i}", model_a="模型-α", winner="model_a") for i in range(3)]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = _cli("report", str(out), "--rounds", "0", capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert b"\\u6a21\\u578b-\\u03b1" in done.stdout
    assert b"UnicodeEncodeError" not in done.stderr


def test_a_lock_that_cannot_be_written_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arenatok.errors import OutputError
    from arenatok.runtime.atomic import DirLock

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError, match="No space"):
        DirLock(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="no space left on the device"):
        build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "new" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl"]  # no empty out dirs


def test_a_killed_runs_temp_files_are_a_warning_beside_a_good_build(tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    (out / ".data_out.jsonl.0f0f0f0f.tmp").write_bytes(b"half a build")
    result = run("validate", out)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "warning: .data_out.jsonl.0f0f0f0f.tmp: a temp file left by a run that was killed (the "
        "next run removes it)",
        f"{out}: ok (every file matches artifact_metadata.json; every record holds)",
    ]
    result = run("validate", out, "--strict")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"{out}: 1 problem"


def test_a_bench_whose_votes_all_go_one_way_says_so(tmp_path: Path) -> None:
    rows = [
        battle(f"q{i}", [(f"question number {i}", "yes " * (i % 9 + 1), "no")], winner="model_a")
        for i in range(400)
    ]
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out, limit=None)
    result = run("bench", out, "--rounds", "1")
    assert result.exit_code == 2
    assert "every decisive vote of the training split has one outcome (model_a)" in result.output
    assert "too few" not in result.output
