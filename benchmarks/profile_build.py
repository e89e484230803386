"""Where the time of a build goes, stage by stage, in one process (no worker processes, token
counting on one thread), on a corpus of distinct texts:

    python benchmarks/profile_build.py CORPUS.parquet [--counter tiktoken|fast]

Stages: read (Parquet batches), check (rows to battles), count (every distinct text), style
(the markdown counts of every answer), records (metrics and record dicts), keys (the duplicate
digests of every battle), json (one serialisation per record), write (the files:
data_out.json, its copy full_data_out.json, data_out.jsonl, hashing, fsync). Each is timed
around the same calls the build makes; the shares say what the build does besides counting.
Make a corpus with corpus.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from arenatok.pipeline.keys import batch_keys
from arenatok.pipeline.records import dumps_lines
from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.stats import Stats
from arenatok.pipeline.steps import StepOptions, gc_paused, parse_batch, records_of, texts_of
from arenatok.pipeline.style import battle_style
from arenatok.pipeline.write import MINI_SIZE, DatasetWriter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--counter", default="tiktoken", choices=["tiktoken", "fast"])
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    options = StepOptions(dataset="profile", counter=args.counter)
    [counter] = options.make_counters(threads=1)
    seconds: dict[str, float] = defaultdict(float)
    source = open_local(args.corpus)
    stats = Stats()

    def timed(stage: str, started: float) -> float:
        now = time.perf_counter()
        seconds[stage] += now - started
        return now

    with tempfile.TemporaryDirectory() as out:
        writer = DatasetWriter(Path(out), keep_rejects=False)
        first = 1
        t = time.perf_counter()
        for payload in source.payloads(args.batch_size):
            t = timed("read", t)
            with gc_paused():  # as in the build's step
                battles, rejects, _ = parse_batch(payload, first_row=first, options=options)
                t = timed("check", t)
                counter.count_many(texts_of(battles))  # warms the cache: records_of hits it
                t = timed("count", t)
                for b in battles:  # what records_of spends on context.style (it runs again)
                    battle_style(b.answers_a, b.answers_b)
                t = timed("style", t)
                records = records_of(battles, [counter], options=options)
                stats += Stats.of(records, len(rejects))
                t = timed("records", t)
                batch_keys(battles, "profile")
                t = timed("keys", t)
                block = dumps_lines(records)
                t = timed("json", t)
            writer.add(block, len(records), records[:MINI_SIZE])
            first += len(payload)
            t = timed("write", t)
        writer.commit({"counts": stats.summary()["counts"]})
        timed("write", t)
    seconds["records"] -= seconds["style"]  # records_of counted the style a second time
    total = sum(seconds.values())
    print(f"{stats.written:,} battles, counter {args.counter}, {total:.2f} s in one process")
    for stage, s in seconds.items():
        print(f"{stage:>8} {s:7.2f} s {s / total:6.1%}")


if __name__ == "__main__":
    main()
