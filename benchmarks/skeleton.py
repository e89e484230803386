"""The build's skeleton: what `arenatok build` does besides its per-battle work, timed alone.

    python benchmarks/skeleton.py CORPUS.parquet OUT_DIR [--counter tiktoken|fast]

The same reading (Parquet batches of 1,024 rows), the same worker processes (the build's fork
server, two batches in flight per worker), the same token counter in each worker (its cache of
distinct texts and, with the fast counter, its cross-check with tiktoken), and blocks as large
as the records' JSON (every text twice, as a record holds it, and 1,050 bytes of fields a
battle) written to three files, two of them hashed with sha256, flushed to the disk at the end.
No checks, metrics, markdown counts, records, JSON or duplicate keys: no per-battle work. What
a build takes beyond this is what its per-battle step costs; what this takes is a floor that no
per-battle step, however fast, goes under. Prints the number of tokens counted (the same as
the dataset's `total_tokens`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.tokens import TokenCounter, counter_for
from arenatok.runtime import workers

FIELDS = 1050
"""Bytes of a record's JSON that are not its texts, on average (data_out.json of the benchmark
corpus, 166.6 MB, less every text twice, 132.1 MB, over 33,000 battles)."""

_counter: TokenCounter | None = None


def _init(counter: str) -> None:
    global _counter
    _counter = counter_for("cl100k_base", threads=1, counter=counter)


def _work(batch: Any) -> tuple[int, bytes]:
    """Count every text of a batch (the users once, both sides' answers) and make a block of
    the records' size."""
    assert _counter is not None
    texts: list[str] = []
    for side in ("conversation_a", "conversation_b"):
        messages = pc.struct_field(pc.list_flatten(batch.column(side)), "content").to_pylist()
        texts += messages[1::2] if side == "conversation_b" else messages
    tokens = sum(_counter.count_many(texts))
    return tokens, "\n".join(texts).encode() * 2 + b" " * (FIELDS * batch.num_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--counter", default="tiktoken", choices=["tiktoken", "fast"])
    args = ap.parse_args()
    workers.configure_command_line()  # the build's own fork server, with what it preloads
    workers.start_early()
    n_workers = workers.default_workers()
    args.out.mkdir(parents=True, exist_ok=True)
    hashes = [hashlib.sha256(), hashlib.sha256()]
    tokens = 0
    pending: deque[Future[tuple[int, bytes]]] = deque()
    with ExitStack() as stack:
        names = ("data.json", "full.json", "data.jsonl")
        files = [stack.enter_context((args.out / name).open("wb")) for name in names]

        def take() -> None:
            nonlocal tokens
            n, block = pending.popleft().result()
            tokens += n
            for f in files:
                f.write(block)
            for h in hashes:
                h.update(block)

        with ProcessPoolExecutor(
            n_workers, mp_context=workers.context(), initializer=_init, initargs=(args.counter,)
        ) as pool:
            for batch in open_local(args.corpus).payloads(1024):
                pending.append(pool.submit(_work, batch))
                if len(pending) >= 2 * n_workers:
                    take()
            while pending:
                take()
        for f in files:
            f.flush()
            os.fdatasync(f.fileno())
    print(f"{tokens} tokens counted and written (the build's skeleton, counter {args.counter})")


if __name__ == "__main__":
    main()
