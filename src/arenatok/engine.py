"""Executors: run the per-batch step over batches, results in source order.

The step (`steps.run_batch`) knows nothing of where it runs. `run_local` runs it in this
process (tokenising on a thread pool) or in worker processes, one per core: tokenising with
threads alone would leave the rest of the step (checks, records, JSON) waiting for the GIL.
`run_ray` runs the same step with Ray Data, on a local Ray instance or a cluster.
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Generic, TypeVar

from arenatok import records
from arenatok.errors import ArenatokError, EngineError, MissingExtraError, first_line
from arenatok.load import Payload
from arenatok.steps import BatchResult, StepOptions, run_batch
from arenatok.tokens import TokenCounter

T = TypeVar("T")
R = TypeVar("R")

_worker: tuple[StepOptions, list[TokenCounter]] | None = None


def _init_worker(options: StepOptions, parent: int) -> None:
    global _worker
    _init_plain_worker(parent)
    _worker = (options, options.make_counters(threads=1))


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


def _run_in_worker(source: int, first_row: int, payload: Payload) -> BatchResult:
    assert _worker is not None
    options, counters = _worker
    return run_batch(
        payload, first_row=first_row, options=options, counters=counters, source=source
    )


def default_workers() -> int:
    """One worker process per usable core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_local(
    batches: Iterable[tuple[int, int, Payload]],
    *,
    options: StepOptions,
    workers: int,
) -> Generator[BatchResult, None, None]:
    """Results of `run_batch` for each (source, first row, batch), in order. workers <= 1: in
    this process; otherwise a pool of that many processes with at most 2 batches each in
    flight."""
    if workers <= 1:
        counters = options.make_counters()
        try:
            for source, first_row, payload in batches:
                yield run_batch(
                    payload, first_row=first_row, options=options, counters=counters, source=source
                )
        finally:
            for c in counters:
                c.close()
        return
    pending: deque[Future[BatchResult]] = deque()
    pool = ProcessPoolExecutor(
        workers,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(options, os.getpid()),
    )
    try:
        for source, first_row, payload in batches:
            pending.append(pool.submit(_run_in_worker, source, first_row, payload))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise EngineError(
            "a worker process died (out of memory?)",
            hint="retry with fewer workers: --workers 1",
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context() -> Any:
    """The start method of every worker process: the fork server (spawn where there is none).
    A library call leaves its settings alone (they are the whole process's); each worker sets
    its own signals (`_init_plain_worker`)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def configure_command_line() -> None:
    """For the `arenatok` command only (it owns its process): the fork server preloads
    arenatok, pyarrow and click once for every worker, and ignores SIGTERM (see
    `arenatok._forkserver`)."""
    context = _context()
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["arenatok._forkserver"])


def start_early() -> None:
    """Start the fork server that worker processes come from now, in the background: it
    imports arenatok and pyarrow once (about 0.3 s) while this process plans the build, and
    is ready when the pool asks it for workers. Only an optimisation: the pool starts it
    anyway; a no-op where there is no fork server."""
    context = _context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _init_plain_worker(parent: int) -> None:
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
                mp_context=_context(),
                initializer=_init_plain_worker,
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

        from arenatok import interrupts

        while True:
            try:
                return future.result(timeout=0.1)
            except Pending:
                interrupts.check()
            except BrokenProcessPool:
                time.sleep(0.2)  # a signal to the process group ends workers too: take it first
                interrupts.check()
                raise EngineError(
                    "a worker process died (out of memory?)", hint="retry with --jobs 1"
                ) from None

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


class _RayStep:
    """The per-batch step as a Ray Data callable: one output row per input batch, holding the
    pickled BatchResult (so the driver sees exactly what the local engine produces)."""

    def __init__(self, options: StepOptions) -> None:
        self.options = options
        self.counters = options.make_counters(threads=1)

    def __call__(self, batch: Any) -> Any:
        import pickle

        import pyarrow as pa

        result = run_batch(batch, first_row=1, options=self.options, counters=self.counters)
        return pa.table({"result": pa.array([pickle.dumps(result)], type=pa.large_binary())})


def shift_rows(r: BatchResult, offset: int) -> BatchResult:
    """A result made with its batch's rows counted from 1, with rows counted in the source
    (Ray hands a step its batch without saying where in the file it starts)."""
    if not offset:
        return r
    first = copy.deepcopy(r.first_records)
    for record in first:
        records.edit(record, records.Edit(row_offset=offset))
    lines = records.edit_lines(r.block.split(b"\n") if r.records else [], {}, row_offset=offset)
    return dataclasses.replace(
        r,
        first_row=offset + 1,
        block=b"\n".join(lines),
        first_records=first,
        rejects=[dataclasses.replace(x, row=offset + x.row) for x in r.rejects],
        record_rows=[offset + n for n in r.record_rows],
    )


def run_ray(
    path: Path,
    columns: Sequence[str],
    *,
    options: StepOptions,
    limit: int | None,
    batch_size: int,
) -> Generator[BatchResult, None, None]:
    """Results of `run_batch` over a Parquet file with Ray Data (read_parquet, map_batches),
    in source order. Connects to RAY_ADDRESS when set, else starts a local Ray instance (and
    stops it at the end). Ray's settings that this changes are restored at the end."""
    import pickle

    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingExtraError("--engine ray", "ray", "Ray Data") from None
    started = not ray.is_initialized()
    if started:
        import logging

        # Ray's own log lines on the terminal only with --debug (the command line sets the
        # level of the "arenatok" logger).
        debug = logging.getLogger("arenatok").getEffectiveLevel() <= logging.DEBUG
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            include_dashboard=False,
            log_to_driver=debug,
            logging_level=logging.INFO if debug else logging.ERROR,
        )
        logging.getLogger("ray.data").setLevel(logging.INFO if debug else logging.ERROR)
    context = ray.data.DataContext.get_current()
    saved = context.execution_options.preserve_order, context.enable_progress_bars
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    try:
        # Ray reads whole top-level columns (not nested leaves such as openai_moderation.flagged).
        top = list(dict.fromkeys(c.split(".")[0] for c in columns))
        data = ray.data.read_parquet(str(path), columns=top)
        if limit is not None:
            data = data.limit(limit)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        with warnings.catch_warnings():
            # Remote arguments by keyword are deprecated, with no replacement for max_restarts.
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            results = data.map_batches(
                _RayStep,
                fn_constructor_kwargs={"options": options},
                batch_format="pyarrow",
                batch_size=batch_size,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cpus),
                # A step that died is an error, not restarted (and Ray warns on the terminal
                # about restarting actors whose arguments live in its object store).
                max_restarts=0,  # passed on to Ray as a remote argument
            )
        done = 0
        tables: Iterable[Any] = results.iter_batches(batch_format="pyarrow", batch_size=None)
        try:
            for table in tables:
                for blob in table.column("result").to_pylist():
                    r: BatchResult = pickle.loads(blob)
                    yield shift_rows(r, done)
                    done += r.rows
        except ray.exceptions.RayError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, ArenatokError):  # a bad row or tokenizer of ours, in an actor
                raise cause from e
            raise EngineError(
                f"the Ray cluster lost work after {done:,} rows ({type(e).__name__}: "
                f"{first_line(e)})",
                hint="check the cluster's nodes (ray status) and build again; nothing was written",
            ) from e
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = saved
        if started:
            ray.shutdown()
