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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, TypeVar

from arenatok.errors import EngineError
from arenatok.runtime import interrupts

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
    is ready when the pool asks it for workers (`Pool` starts it here too); a no-op where
    there is no fork server. It starts with Ctrl-C and SIGTERM blocked, and ignores them
    before it unblocks them (`arenatok.cli._forkserver`; its workers: `init_worker`): a signal
    while it starts would otherwise end it with a traceback, and every worker with it."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver, resource_tracker

        resource_tracker.ensure_running()  # first: it unblocks both signals when it has started
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, interrupts.HELD)
        try:
            forkserver.ensure_running()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def init_worker(parent: int) -> None:
    """Any worker: Ctrl-C and SIGTERM reach the whole process group, and the parent handles
    them once and stops the pool; the worker ends with the parent."""
    for sig in interrupts.HELD:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, interrupts.HELD)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _start_worker(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    init_worker(parent)
    if initializer is not None:
        initializer(*initargs)


_stopped: list[object] = []
"""The queues of the last pool stopped on an exception (`Pool.__exit__`)."""


class Pool:
    """Worker processes for the build and the analyses (`jobs` of them; jobs <= 1: this
    process), each set up by `initializer(*initargs)` (here: once). They stop at once when the
    caller is interrupted: waits wake every 0.1 s for `interrupts.check()`, and leaving the
    `with` block on an exception (Ctrl-C, SIGTERM, an error) kills the workers instead of
    waiting for their work. A worker that dies (the kernel's out-of-memory killer), at any
    moment, is an `EngineError` whose hint is `hint`."""

    def __init__(
        self,
        jobs: int,
        *,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        hint: str = "retry with --jobs 1",
    ) -> None:
        self.jobs = jobs
        self.hint = hint
        self._start = (initializer, initargs)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        initializer, initargs = self._start
        if self.jobs <= 1:
            if initializer is not None:
                initializer(*initargs)
            return self
        start_early()
        _stopped.clear()
        self._pool = ProcessPoolExecutor(
            self.jobs,
            mp_context=context(),
            initializer=_start_worker,
            initargs=(os.getpid(), initializer, initargs),
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
        results = getattr(self._pool, "_result_queue", None)
        if results is not None:
            # With this last writer closed too, the pool's thread reads the end of a result that
            # a killed worker was sending, and stops (an exit would wait for it for ever).
            results._writer.close()
        # Its queues are kept (until the next pool starts): their semaphores are then unlinked
        # by this thread (at exit, or `release_now`), not by one of the pool's as it ends,
        # halfway when the process leaves at that moment (the resource tracker would then
        # report them leaked after the command's last line).
        _stopped[:] = [queue, results]
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """fn(*args) in a worker (here: at once). A worker it starts is known to the pool
        before a signal is taken, so that stopping kills it too."""
        if self._pool is None:
            future: Future[R] = Future()
            future.set_result(fn(*args))
            return future
        with interrupts.held():
            try:
                future = self._pool.submit(fn, *args)
            except (BrokenProcessPool, EOFError, ConnectionError) as e:  # EOF: no fork server
                raise self._died() from e
            except OSError as e:
                # The pool's thread, finding a worker dead, closes the pipe that submit wakes
                # it through ("handle is closed"): a race of ProcessPoolExecutor's own.
                if not (getattr(self._pool, "_broken", False) or self._lost()):
                    raise
                raise self._died() from e
            interrupts.check()
        return future

    def result(self, future: Future[R]) -> R:
        """The future's result, waking every 0.1 s to take an interruption."""
        from concurrent.futures import TimeoutError as Pending

        while True:
            try:
                return future.result(timeout=0.1)
            except Pending:
                interrupts.check()
                if self._lost():
                    raise self._died() from None
            except BrokenProcessPool as e:
                raise self._died() from e

    def _lost(self) -> bool:
        """Whether a worker has ended. The pool itself may never see it: a worker killed while
        it sent a result leaves the pool's thread waiting for the rest of it."""
        processes = getattr(self._pool, "_processes", None) or {}
        return any(p.exitcode is not None for p in list(processes.values()))

    def _died(self) -> EngineError:
        time.sleep(0.2)  # a signal to the process group ends workers too: take it first
        interrupts.check()
        return EngineError("a worker process died (out of memory?)", hint=self.hint)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """fn(x) for each of `items`, in order, as they are done (2 in flight a worker); the
        items are taken as there is room for them."""
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


def release_now() -> None:
    """Before a process leaves with `os._exit` (the command, stopped by a signal): unlink the
    semaphores of its worker pools' queues, as a normal exit would; the resource tracker
    would otherwise report them leaked after the command's last line."""
    import multiprocessing.util

    multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]


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
