"""`runtime.workers`: how many workers, results in order whatever the number of processes,
errors handed to the caller, a dead worker one clear error."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from arenatok.errors import EngineError
from arenatok.runtime.workers import Background, Pool, default_workers, process_map


def square(x: int) -> int:
    return x * x


def pid_of(_: int) -> int:
    return os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def die(_: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def test_default_workers_are_the_usable_cores() -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == usable >= 1


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_come_in_order(jobs: int) -> None:
    items = list(range(25))
    assert list(process_map(square, items, jobs)) == [x * x for x in items]
    with Pool(jobs) as pool:
        assert list(pool.map(square, items)) == [x * x for x in items]


def test_one_job_runs_here_and_two_run_elsewhere() -> None:
    assert set(process_map(pid_of, range(4), 1)) == {os.getpid()}
    assert os.getpid() not in set(process_map(pid_of, range(4), 2))


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_error_in_a_worker_reaches_the_caller(jobs: int) -> None:
    with pytest.raises(ValueError, match="bad item 3"), Pool(jobs) as pool:
        list(pool.map(fail_on_three, range(6)))


def test_a_worker_that_dies_is_one_engine_error() -> None:
    with pytest.raises(EngineError, match="a worker process died") as caught, Pool(2) as pool:
        list(pool.map(die, range(2)))
    assert caught.value.hint == "retry with --jobs 1"


def test_background_gives_the_result_or_the_error() -> None:
    started = threading.Event()

    def work(x: int) -> int:
        started.set()
        return x + 1

    assert Background(work, 41).result() == 42
    assert started.is_set()

    def broken() -> None:
        raise KeyError("lost")

    with pytest.raises(KeyError, match="lost"):
        Background(broken).result()
