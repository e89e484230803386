"""Worker processes and threads, for the build and the analyses alike: where they come from
(the fork server, `start_early`; what it preloads is set by the command line only,
`configure_command_line`), how many (`default_workers`: the usable cores), and how they stop
(with the caller, at once: `Pool`, `process_map`, `Background`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, TypeVar

from arenatok.errors import EngineError

T = TypeVar("T")
R = TypeVar("R")


def _exit_with(parent: int) -> None:
    """End this worker when the build process is gone (killed with SIGKILL, say): a worker
    waiting for work would otherwise never notice."""
    while _alive(parent):
        time.sleep(0.5)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, killed but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def default_workers() -> int:
    """One worker process per usable core (the cores this process may run on)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def context() -> Any:
    """The start method of every worker process: the fork server (spawn where there is none).
    A library call leaves its settings alone (they are the whole process's); each worker sets
    its own signals (`init_worker`)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def configure_command_line() -> None:
    """For the `arenatok` command only (it owns its process): the fork server preloads
    arenatok, pyarrow and click and builds the default encoding once for every worker, and
    ignores SIGTERM (see `arenatok.cli._forkserver`)."""
    mp = context()
    if mp.get_start_method() == "forkserver":
        mp.set_forkserver_preload(["arenatok.cli._forkserver"])


def start_early() -> None:
    """Start the fork server that worker processes come from now, in the background: it
    imports arenatok and pyarrow once (about 0.3 s) while this process plans the build, and
    is ready when the pool asks it for workers. Only an optimisation: the pool starts it
    anyway; a no-op where there is no fork server."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def init_worker(parent: int) -> None:
    """Any worker: Ctrl-C and SIGTERM reach the whole process group, and the parent handles
    them once and stops the pool; the worker ends with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


class Pool:
    """Worker processes for the analyses (`jobs` of them; jobs <= 1: this process), that stop
    at once when the caller is interrupted: waits wake every 0.1 s for `interrupts.check()`,
    and leaving the `with` block on an exception (Ctrl-C, SIGTERM, an error) kills the workers
    instead of waiting for their work."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        if self.jobs > 1:
            self._pool = ProcessPoolExecutor(
                self.jobs,
                mp_context=context(),
                initializer=init_worker,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._pool is None:
            return
        if kind is None:
            self._pool.shutdown(wait=True)
            return
        # Stopped: kill the workers, and do not wait for anything of theirs: a task still in
        # the pipe to a dead worker would hold the queue's feeder thread, and with it this
        # process's exit, for ever.
        for process in list((getattr(self._pool, "_processes", None) or {}).values()):
            process.kill()
        queue = getattr(self._pool, "_call_queue", None)
        if queue is not None:
            queue.cancel_join_thread()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """fn(*args) in a worker (here: at once)."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        future: Future[R] = Future()
        future.set_result(fn(*args))
        return future

    def result(self, future: Future[R]) -> R:
        """The future's result, waking every 0.1 s to take an interruption."""
        from concurrent.futures import TimeoutError as Pending

        from arenatok.runtime import interrupts

        while True:
            try:
                return future.result(timeout=0.1)
            except Pending:
                interrupts.check()
            except BrokenProcessPool as e:
                time.sleep(0.2)  # a signal to the process group ends workers too: take it first
                interrupts.check()
                raise EngineError(
                    "a worker process died (out of memory?)", hint="retry with --jobs 1"
                ) from e

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        """fn(x) for each of `items`, in order, as they are done (2 in flight a worker)."""
        if self._pool is None:
            yield from map(fn, items)
            return
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(self.submit(fn, item))
            if len(pending) >= 2 * self.jobs:
                yield self.result(pending.popleft())
        while pending:
            yield self.result(pending.popleft())


def trim_memory() -> None:
    """Give the memory this process freed back to the system (glibc keeps freed blocks of a
    few MiB, such as the chunks of a large computation, for reuse): the resident size then
    says what is in use. A no-op where the C library has no malloc_trim."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)


class Background(Generic[R]):
    """fn(*args) on a daemon thread of this process (for work that releases the GIL, such as
    scikit-learn's sparse fits), while the caller goes on; `result()` waits for it in 0.1 s
    steps, so Ctrl-C and SIGTERM stop the caller at once (the thread ends with the process)."""

    def __init__(self, fn: Callable[..., R], *args: Any) -> None:
        self._done = threading.Event()
        self._box: list[Any] = []
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._box.append(fn(*args))
            except BaseException as e:  # handed to the caller by result()
                self._error = e
            finally:
                self._done.set()

        threading.Thread(target=run, daemon=True).start()

    def result(self) -> R:
        while not self._done.wait(0.1):
            pass
        if self._error is not None:
            raise self._error
        value: R = self._box[0]
        return value


def process_map(fn: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[R]:
    """fn(x) for each of `items`, in order, as they are done; in `jobs` worker processes when
    jobs > 1 (then `fn` and the items must pickle). Stops at once when interrupted."""
    with Pool(min(jobs, len(items))) as pool:
        yield from pool.map(fn, items)
