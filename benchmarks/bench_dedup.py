"""What duplicate detection costs: its share of the build's CPU time, and the build's peak
memory at a million battles.

    python benchmarks/bench_dedup.py [--share-size 33000] [--memory-size 1000000]

(1) Share: on a corpus of distinct texts (corpus.py), the keys of every battle and the index are
timed in this process, and so is the whole build (`arenatok.build`, in this process); the share
is the keys' and index's CPU seconds over the build's CPU seconds, which include them.
(2) Memory: `arenatok build --limit all` on a corpus of --memory-size battles; peak RSS of the
whole process tree, sampled every 20 ms, and the index's size. Needs ../shared (real texts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from arenatok.pipeline.dedup import Index  # noqa: E402
from arenatok.pipeline.driver import build  # noqa: E402
from arenatok.pipeline.keys import batch_keys  # noqa: E402
from arenatok.pipeline.layouts.arena.arrow import battles_from_arrow  # noqa: E402
from arenatok.pipeline.sources.local import open_local  # noqa: E402
from bench_build import corpus, timed  # noqa: E402


def share(path: Path, work: Path) -> dict[str, float]:
    batches = [battles_from_arrow(b, first_row=1) for b in open_local(path).payloads(1024)]
    started = time.process_time()
    release = "lmsys/chatbot_arena_conversations"
    keys = [batch_keys(x, release) for x in batches]
    keyed = time.process_time()
    index = Index()
    row = 1
    for x in keys:  # a batch at a time, as the build does
        index.see_batch(x, 0, list(range(row, row + len(x))))
        row += len(x)
    indexed = time.process_time()
    # The build in this process (its token counting on threads), so that process_time sees
    # all of its CPU: worker processes would hide theirs.
    cpu, wall = time.process_time(), time.perf_counter()
    build(path, out=work / "out-share", limit=None, workers=1)
    build_cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "battles": row - 1,
        "keys_cpu_s": keyed - started,
        "index_cpu_s": indexed - keyed,
        "build_cpu_s": build_cpu,
        "build_wall_s": wall,
        "share_of_build_cpu": (indexed - started) / build_cpu,
    }


def memory(n: int, work: Path) -> dict[str, float]:
    path = corpus(n, work)
    out = work / f"out-{n}"
    cmd = [sys.executable, "-m", "arenatok.cli", "build", "--source", str(path),
           "--limit", "all", "--out", str(out)]  # fmt: skip
    seconds, peak, _ = timed(cmd)
    meta = json.loads((out / "artifact_metadata.json").read_text())
    return {
        "battles": n,
        "build_wall_s": seconds,
        "peak_rss_mib": peak / 2**20,
        "rows_written": meta["counts"]["rows_written"],
        "later_copies": meta["duplicates"]["later_copies"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--share-size", type=int, default=33000)
    ap.add_argument("--memory-size", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "arenatok-bench")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    s = share(corpus(args.share_size, args.work), args.work)
    print(
        f"share: {s['battles']:,} battles: keys {s['keys_cpu_s']:.2f} s + index "
        f"{s['index_cpu_s']:.2f} s of CPU, the build {s['build_cpu_s']:.2f} s of CPU "
        f"({s['build_wall_s']:.2f} s wall): {s['share_of_build_cpu']:.1%} of the build, "
        f"{s['share_of_build_cpu'] / (1 - s['share_of_build_cpu']):.1%} added to a build "
        "without it"
    )
    if args.memory_size:
        m = memory(args.memory_size, args.work)
        print(
            f"memory: {m['battles']:,} battles: build {m['build_wall_s']:.1f} s, peak RSS of the "
            f"process tree {m['peak_rss_mib']:.0f} MiB; later copies {m['later_copies']}"
        )


if __name__ == "__main__":
    main()
