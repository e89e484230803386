"""Executors: run the per-batch step over batches, results in source order.

The step (`pipeline.run_batch`) knows nothing of where it runs. `run_local` runs it in this
process (tokenising on a thread pool) or, for large inputs, in worker processes, one per core:
tokenising with threads alone would leave the rest of the step (checks, records, JSON) waiting
for the GIL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from arenatok.errors import ArenatokError
from arenatok.load import Payload
from arenatok.steps import BatchResult, run_batch
from arenatok.tokens import TokenCounter

_worker: tuple[TokenCounter, str] | None = None


def _init_worker(encoding: str, dataset: str) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled once, by the parent
    _worker = (TokenCounter(encoding, threads=1), dataset)


def _run_in_worker(start: int, payload: Payload) -> BatchResult:
    assert _worker is not None
    counter, dataset = _worker
    return run_batch(payload, start=start, counter=counter, dataset=dataset)


def default_workers() -> int:
    """One worker process per usable core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_local(
    jobs: Iterable[tuple[int, Payload]],
    *,
    encoding: str,
    dataset: str,
    workers: int,
) -> Iterator[BatchResult]:
    """Results of `run_batch` for each (start row, batch), in order. workers <= 1: in this
    process; otherwise a pool of that many processes with at most 2 batches each in flight."""
    if workers <= 1:
        with TokenCounter(encoding) as counter:
            for start, payload in jobs:
                yield run_batch(payload, start=start, counter=counter, dataset=dataset)
        return
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["arenatok.engine"])
    pending: deque[Future[BatchResult]] = deque()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(encoding, dataset)
    )
    try:
        for start, payload in jobs:
            pending.append(pool.submit(_run_in_worker, start, payload))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise ArenatokError(
            "a worker process died (out of memory?)",
            hint="retry with fewer workers: --workers 1",
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
