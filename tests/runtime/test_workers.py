"""`runtime.workers`: how many workers, each set up alike, results in order whatever the number
of processes, errors handed to the caller, a dead worker one clear error whenever it dies."""

from __future__ import annotations

import gc
import os
import signal
import struct
import threading
from concurrent.futures import wait
from multiprocessing.queues import SimpleQueue

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


def die_while_sending(_: int) -> int:
    """End as a worker that the kernel kills while it sends its result: the result pipe holds
    the header of a message and the first bytes of it."""
    (results,) = [q for q in gc.get_objects() if type(q) is SimpleQueue]
    results._wlock.acquire()
    os.write(results._writer.fileno(), struct.pack("!i", 1_000_000) + b"x" * 100)
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


_setting: str | None = None


def remember(setting: str) -> None:
    global _setting
    _setting = setting


def setting(_: int) -> str | None:
    return _setting


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


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_worker_is_set_up_by_the_initializer(jobs: int) -> None:
    with Pool(jobs, initializer=remember, initargs=(f"set up for {jobs}",)) as pool:
        assert list(pool.map(setting, range(6))) == [f"set up for {jobs}"] * 6


def test_a_worker_that_dies_is_one_engine_error() -> None:
    with pytest.raises(EngineError, match="a worker process died") as caught, Pool(2) as pool:
        list(pool.map(die, range(2)))
    assert caught.value.hint == "retry with --jobs 1"


def test_work_handed_to_a_pool_whose_worker_died_is_one_engine_error() -> None:
    with Pool(2, hint="retry with --workers 1") as pool:
        wait([pool.submit(die, 0)])
        with pytest.raises(EngineError, match="a worker process died") as caught:
            pool.submit(square, 2)
    assert caught.value.hint == "retry with --workers 1"


def test_a_worker_killed_while_it_sends_its_result_is_one_engine_error() -> None:
    """The pool's own thread then waits for the rest of the result for ever: the pool sees the
    worker gone, and stops that thread too (an exit of the process would wait for it)."""
    caught: list[BaseException] = []

    def run() -> None:
        try:
            with Pool(2) as pool:
                list(pool.map(die_while_sending, range(2)))
        except BaseException as e:
            caught.append(e)

    before = set(threading.enumerate())
    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(timeout=60)  # a hang fails here, not the whole run
    assert not caller.is_alive(), "the pool never saw its worker die"
    assert [type(e) for e in caught] == [EngineError]
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=60)
        assert not thread.is_alive(), f"{thread.name} still waits"


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
