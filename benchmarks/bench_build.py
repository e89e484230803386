"""Benchmark `arenatok build` against bare tiktoken on arena-sized corpora.

    python benchmarks/bench_build.py [--sizes 33000,330000] [--repeat 3] [--json FILE]

Makes deterministic corpora in the arena schema from real arena texts (see corpus.py), then, in
one run and interleaved, times:

  (a) the baseline: a fresh Python process reads the same Parquet file and counts every message
      of both conversations with bare tiktoken as fast as it goes. Two ways are timed and the
      faster is the baseline: a thread pool over chunks of texts, each chunk a plain loop of
      `encode_ordinary` (one thread per core), and tiktoken's own `encode_ordinary_batch`;
  (b) `arenatok build --source FILE --limit all` with every output file, in a fresh process.

Each is run --repeat times; the minimum is reported (the least noisy estimate on a shared
machine), the median beside it. Peak RSS is the largest sum of the resident memory of the build
process and its children, sampled every 20 ms. Needs ../shared (the real texts).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("ARENATOK_SHARED", ROOT.parent / "shared"))

BASELINE = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
import pyarrow.compute as pc, pyarrow.parquet as pq
from arenatok.tokens import get_encoding
from arenatok.engine import default_workers

enc = get_encoding("cl100k_base")
encode = enc.encode_ordinary
mode, path = sys.argv[1], sys.argv[2]

def texts():
    for b in pq.ParquetFile(path).iter_batches(batch_size=4096,
                                                columns=["conversation_a", "conversation_b"]):
        for side in ("conversation_a", "conversation_b"):
            yield pc.struct_field(pc.list_flatten(b.column(side)), "content").to_pylist()

def loop(chunk):
    return sum(len(encode(t)) for t in chunk)

total = 0
if mode == "threads":
    workers = default_workers()
    with ThreadPoolExecutor(workers) as pool:
        for ts in texts():
            size = -(-len(ts) // (workers * 8))
            total += sum(pool.map(loop, [ts[i:i + size] for i in range(0, len(ts), size)]))
else:
    for ts in texts():
        total += sum(map(len, enc.encode_ordinary_batch(ts)))
print(total)
"""


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(
                int(x.split()[1]) * 1024 for x in status.splitlines() if x.startswith("VmRSS:")
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS in bytes, and stdout of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return seconds, peak, out


def corpus(n: int, work: Path) -> Path:
    sys.path.insert(0, str(HERE))
    from corpus import make_corpus

    path = work / f"arena-{n}.parquet"
    if not path.exists():
        source = work / "elobench.parquet"
        if not source.exists():
            subprocess.run(
                [
                    sys.executable,
                    str(SHARED / "tools" / "elobench_to_arena.py"),
                    "--elobench-dir",
                    str(SHARED / "data" / "v-xchen-v_EloBench"),
                    "--out",
                    str(source),
                ],
                check=True,
                capture_output=True,
            )
        make_corpus(source, n, path)
    return path


def bench_size(n: int, work: Path, repeat: int, baselines: list[str]) -> dict[str, Any]:
    path = corpus(n, work)
    out = work / f"out-{n}"
    arenatok = [sys.executable, "-m", "arenatok.cli"]
    runs: dict[str, list[float]] = {mode: [] for mode in [*baselines, "build"]}
    peaks: list[int] = []
    tokens_every_message = 0
    for _ in range(repeat):
        for mode in baselines:
            s, _, stdout = timed([sys.executable, "-c", BASELINE, mode, str(path)])
            runs[mode].append(s)
            tokens_every_message = int(stdout)
        s, peak, summary = timed(
            [*arenatok, "build", "--source", str(path), "--limit", "all", "--out", str(out)]
        )
        runs["build"].append(s)
        peaks.append(peak)
    meta = json.loads((out / "artifact_metadata.json").read_text())
    hit = re.search(r"token cache: ([\d.]+)% of texts", summary)
    best = {k: min(v) for k, v in runs.items()}
    baseline_mode = min(baselines, key=lambda m: best[m])
    build_tokens = meta["totals"]["total_tokens"]
    return {
        "battles": n,
        "corpus_bytes": path.stat().st_size,
        "seconds_min": best,
        "seconds_median": {k: statistics.median(v) for k, v in runs.items()},
        "baseline": baseline_mode,
        "build_over_baseline": best["build"] / best[baseline_mode],
        "rows_per_second": n / best["build"],
        "tokens_counted_by_baseline": tokens_every_message,
        "tokens_in_dataset": build_tokens,
        "build_tokens_per_second": build_tokens / best["build"],
        "baseline_tokens_per_second": tokens_every_message / best[baseline_mode],
        "peak_rss_bytes": max(peaks),
        "token_cache_hit_rate": float(hit.group(1)) / 100 if hit else None,
        "output_bytes": {k: v["bytes"] for k, v in meta["files"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="33000,330000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--baselines",
        default="threads,batch",
        help="baseline ways to time (threads, batch); the fastest is the baseline",
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "arenatok-bench")
    ap.add_argument("--json", type=Path, default=Path("bench_build.json"))
    args = ap.parse_args()
    if not (SHARED / "tools" / "elobench_to_arena.py").is_file():
        sys.exit(f"needs the real arena texts in {SHARED} (set ARENATOK_SHARED)")
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.sizes.split(",")]
    baselines = args.baselines.split(",")
    results = [bench_size(n, args.work, args.repeat, baselines) for n in sizes]
    report: dict[str, Any] = {"cpus": os.cpu_count(), "repeat": args.repeat, "sizes": results}
    if len(results) >= 2:
        a, b = results[0], results[-1]
        report["scaling"] = {
            "battles_ratio": b["battles"] / a["battles"],
            "time_ratio": b["seconds_min"]["build"] / a["seconds_min"]["build"],
        }
    header = (
        f"{'battles':>8} {'baseline s':>10} {'build s':>8} {'build/base':>10} "
        f"{'rows/s':>8} {'tokens/s':>10} {'peak RSS':>9} {'data_out.json':>13} "
        f"{'cache hits':>10}"
    )
    print(header)
    for r in results:
        print(
            f"{r['battles']:>8,} {r['seconds_min'][r['baseline']]:>10.2f} "
            f"{r['seconds_min']['build']:>8.2f} {r['build_over_baseline']:>10.3f} "
            f"{r['rows_per_second']:>8,.0f} {r['build_tokens_per_second'] / 1e6:>9.2f}M "
            f"{r['peak_rss_bytes'] / 2**20:>7.0f}Mi "
            f"{r['output_bytes']['data_out.json'] / 2**20:>11.0f}Mi "
            f"{r['token_cache_hit_rate'] or 0:>10.1%}"
        )
    if "scaling" in report:
        s = report["scaling"]
        print(
            f"time({results[-1]['battles']:,}) / time({results[0]['battles']:,}) = "
            f"{s['time_ratio']:.2f} for {s['battles_ratio']:.0f}x the battles"
        )
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
