from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from arenatok.errors import ArenatokError, OptionError
from arenatok.pipeline.driver import build
from arenatok.pipeline.write import DUPLICATES, METADATA, OUTPUTS
from tests.helpers import TINY, battle, write_jsonl, write_parquet

# Ray Data 2.60 warns about its own deprecated settings when a Dataset runs; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FILES = [n for n in (*OUTPUTS, METADATA) if n != DUPLICATES]


@pytest.fixture(scope="module")
def local_ray() -> object:
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_engine_writes_what_the_local_engine_writes(local_ray: object, tmp_path: Path) -> None:
    rows = [
        dict(battle(f"q{i}"), **TINY[i % len(TINY)]) | {"question_id": f"q{i}"} for i in range(300)
    ]
    rows[17] = battle("bad-17", winner="nobody")
    src = write_parquet(tmp_path / "b.parquet", rows)
    common = {"limit": 250, "on_bad_row": "reject", "batch_size": 16}
    build(src, out=tmp_path / "local", **common)  # type: ignore[arg-type]
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    import ray.data

    context = ray.data.DataContext.get_current()
    settings = (context.execution_options.preserve_order, context.enable_progress_bars)
    loggers = [logging.getLogger(n) for n in ("ray", "ray.data", "ray.data._internal.util")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        result = build(src, out=tmp_path / "ray", engine="ray", **common)  # type: ignore[arg-type]
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    # Ray logs a deprecation for arguments it will drop (`concurrency`): we pass none.
    assert [r.getMessage() for r in logged if "deprecated" in r.getMessage()] == []
    # The caller's Ray settings are as they were.
    assert (context.execution_options.preserve_order, context.enable_progress_bars) == settings
    assert (result.stats.read, result.stats.written, result.stats.rejected) == (250, 249, 1)
    for name in FILES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_ray_engine_reads_parquet_only(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    with pytest.raises(OptionError, match="--engine ray reads one Parquet source, this is jsonl"):
        build(src, out=tmp_path / "out", engine="ray")


def test_ray_engine_without_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    src = write_parquet(tmp_path / "b.parquet", TINY)
    with pytest.raises(ArenatokError) as e:
        build(src, out=tmp_path / "out", engine="ray")
    assert e.value.message == "--engine ray needs Ray Data, which is not installed"
    assert e.value.hint == "pip install 'arenatok[ray]'"
    assert not (tmp_path / "out" / "data_out.json").exists()


def test_the_fork_server_starts_early_only_for_builds_that_use_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arenatok.pipeline import plan

    started: list[bool] = []
    monkeypatch.setattr(plan, "start_early", lambda: started.append(True))

    def starts(sources: list[str | Path], limit: int | None, workers: int | None) -> bool:
        started.clear()
        plan.start_workers_early(sources, limit=limit, workers=workers)
        return bool(started)

    small = write_jsonl(tmp_path / "small.jsonl", TINY)
    large = tmp_path / "large.jsonl"
    with large.open("wb") as f:
        f.truncate(plan.PROCESS_MIN_ROWS * plan.BATTLE_BYTES)  # sparse: the size is what counts
    assert not starts([small], None, None)
    assert starts([small], None, 2)
    assert starts([large], None, None)
    assert starts([f"kaggle-55k:{large}"], None, None)
    assert not starts([large], 300, None)  # --limit 300 reads too few rows
    assert not starts([large], None, 1)
    assert not starts([large, tmp_path / "missing.jsonl"], None, None)  # plan reports it
    assert not starts([], None, None)  # the Hub file: not known before it is fetched


def test_the_command_line_starts_without_the_slow_imports() -> None:
    """numpy, pyarrow and importlib.metadata take 0.2 s to import: the command line starts
    the fork server (`workers.start_early`) before it needs them."""
    import subprocess

    slow = ("numpy", "pyarrow", "importlib.metadata", "pandas")
    code = f"import sys, arenatok.cli; print([m for m in {slow!r} if m in sys.modules])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "[]\n"
    # A worker makes its counters without looking up versions (only the metadata needs them).
    code = (
        "import sys; from arenatok.pipeline.steps import StepOptions; "
        "StepOptions(dataset='x').make_counters(threads=1); "
        "print('importlib.metadata' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "False\n"


FORKSERVER_PROBE = """
import multiprocessing, signal, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

def sigterm():
    return {signal.SIG_DFL: "default", signal.SIG_IGN: "ignored"}.get(
        signal.getsignal(signal.SIGTERM), "a handler"
    )

if __name__ == "__main__":
    import arenatok
    from arenatok.report import write_report

    tmp = Path(sys.argv[1])
    arenatok.build(tmp / "b.jsonl", out=tmp / "o", workers=2, limit=None)
    write_report(tmp / "o", rounds=100, jobs=2)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        print(pool.submit(sigterm).result())
"""


def test_a_library_call_leaves_the_fork_server_alone(tmp_path: Path) -> None:
    """build(workers=2) and a report with jobs leave the caller's own worker processes as the
    caller would have them: SIGTERM still ends them."""
    import subprocess

    write_jsonl(tmp_path / "b.jsonl", [battle(f"q{i}") for i in range(40)])
    (tmp_path / "probe.py").write_text(FORKSERVER_PROBE)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "default"


PRELOAD_PROBE = """
from concurrent.futures import ProcessPoolExecutor

def encodings_built():
    from arenatok.pipeline.encodings import get_encoding
    return get_encoding.cache_info().currsize

if __name__ == "__main__":
    from arenatok.runtime import workers

    workers.configure_command_line()
    with ProcessPoolExecutor(1, mp_context=workers.context()) as pool:
        print(pool.submit(encodings_built).result())
"""


def test_the_command_lines_workers_start_with_the_default_encoding_built(tmp_path: Path) -> None:
    """The command line's fork server builds cl100k_base once (0.1 s), so that its workers
    do not each build it again."""
    import subprocess

    (tmp_path / "probe.py").write_text(PRELOAD_PROBE)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
