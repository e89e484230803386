"""Executors: run the per-batch step over batches, results in source order.

The step (`steps.run_batch`) knows nothing of where it runs. `run_local` runs it in this
process (tokenising on a thread pool) or in worker processes, one per core: tokenising with
threads alone would leave the rest of the step (checks, records, JSON) waiting for the GIL.
`run_ray` runs the same step with Ray Data, on a local Ray instance or a cluster.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from arenatok.errors import ArenatokError, EngineError, first_line, missing_extra
from arenatok.pipeline import records
from arenatok.pipeline.sources.filetypes.base import Payload
from arenatok.pipeline.steps import BatchResult, StepOptions, run_batch
from arenatok.pipeline.tokens import TokenCounter
from arenatok.runtime.workers import Pool

T = TypeVar("T")
R = TypeVar("R")

_worker: tuple[StepOptions, list[TokenCounter]] | None = None


def _init_worker(options: StepOptions) -> None:
    global _worker
    _worker = (options, options.make_counters(threads=1))


def _run_in_worker(batch: tuple[int, int, Payload]) -> BatchResult:
    assert _worker is not None
    options, counters = _worker
    source, first_row, payload = batch
    return run_batch(
        payload, first_row=first_row, options=options, counters=counters, source=source
    )


def run_local(
    batches: Iterable[tuple[int, int, Payload]],
    *,
    options: StepOptions,
    workers: int,
) -> Generator[BatchResult, None, None]:
    """Results of `run_batch` for each (source, first row, batch), in order. workers <= 1: in
    this process; otherwise a `runtime.workers.Pool` of that many processes with at most 2
    batches each in flight (a worker that dies is an `EngineError`)."""
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
    with Pool(
        workers,
        initializer=_init_worker,
        initargs=(options,),
        hint="retry with fewer workers: --workers 1",
    ) as pool:
        yield from pool.map(_run_in_worker, batches)


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
        records.edit(record, records.Edit(), row_offset=offset)
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
    except ImportError as e:
        raise missing_extra(e, "--engine ray", "ray", "Ray Data", "ray") from e
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
