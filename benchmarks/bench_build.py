"""Benchmark `arenatok build` against bare tiktoken on arena-sized corpora.

    python benchmarks/bench_build.py [--sizes 33000,330000] [--repeat 3] [--json FILE]

Makes deterministic corpora in the arena schema from real arena texts (see corpus.py), then, in
one run and interleaved, times:

  (a) the baseline `processes`: a fresh Python process whose worker processes (one per core)
      each read their share of the same Parquet file and count every message of both
      conversations with bare tiktoken (`len(encode_ordinary(text))`), the fastest way to get
      exact counts with tiktoken here; `processes-fast` does the same with the fast counter
      (bpe-openai's `count`); `threads` (one process, a thread per core) is there to compare;
      `skeleton` and `skeleton-fast` (skeleton.py) are the build without its per-battle work,
      a floor for any per-battle step;
  (b) `arenatok build --source FILE --limit all` with every output file, in a fresh process,
      with each counter (`build`: tiktoken, `build-fast`: --counter fast); with
      `-without-keys` and/or `-without-markdown` after either name, the same build with those
      per-battle features taken out (see without/sitecustomize.py), to time what each costs.
      Builds are also given against the skeleton with their counter, where it is timed.

arenatok's modules are compiled to bytecode first, as an installed package is. Each is run
--repeat times; the minimum is reported (the least noisy estimate on a shared
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
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import pyarrow.compute as pc, pyarrow.parquet as pq
from arenatok.runtime.workers import default_workers

mode, path = sys.argv[1], sys.argv[2]


def counter():
    if mode.endswith("fast"):
        from bpe_openai import _bindings

        return _bindings.tokenizer_for_encoding("cl100k_base").count
    from arenatok.pipeline.encodings import get_encoding

    encode = get_encoding("cl100k_base").encode_ordinary
    return lambda t: len(encode(t))


def texts(batch):
    for side in ("conversation_a", "conversation_b"):
        yield pc.struct_field(pc.list_flatten(batch.column(side)), "content").to_pylist()


def batches(share=0, of=1):
    f = pq.ParquetFile(path)
    mine = [g for g in range(f.metadata.num_row_groups) if g % of == share]
    yield from f.iter_batches(4096, row_groups=mine, columns=["conversation_a", "conversation_b"])


def count_share(share, of):
    count = counter()
    return sum(count(t) for b in batches(share, of) for ts in texts(b) for t in ts)


workers = default_workers()
if mode.startswith("processes"):
    # Each worker reads its own share of the batches: no texts cross a process boundary.
    with ProcessPoolExecutor(workers) as pool:
        total = sum(pool.map(count_share, range(workers), [workers] * workers))
elif mode == "threads":
    count = counter()
    with ThreadPoolExecutor(workers) as pool:
        total = 0
        for b in batches():
            for ts in texts(b):
                size = -(-len(ts) // (workers * 8))
                chunks = [ts[i:i + size] for i in range(0, len(ts), size)]
                total += sum(pool.map(lambda c: sum(map(count, c)), chunks))
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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in bytes and stdout of a command. The peak is the largest sum
    over the process tree seen every 20 ms, and at least the largest resident size of any one
    of its processes (the kernel's rusage), so a run shorter than one look is not 0."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate()
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return seconds, max(peak, usage.ru_maxrss * 1024), out


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


def build_mode(name: str) -> tuple[str, str]:
    """A timed build's --counter and what it is timed without: `build` (tiktoken) or
    `build-fast` (the fast counter), then `-without-keys` and/or `-without-markdown` (see
    without/sitecustomize.py: the build with those per-battle features taken out)."""
    m = re.fullmatch(r"build(-fast)?((?:-without-(?:keys|markdown))*)", name)
    if m is None:
        sys.exit(f"unknown build {name!r}: build or build-fast, then -without-keys/-markdown")
    return ("fast" if m[1] else "tiktoken"), ",".join(re.findall(r"-without-(\w+)", m[2]))


def without_env(without: str) -> dict[str, str]:
    """The environment of a build timed without the features `without` (comma-separated):
    without/ first on its PYTHONPATH, so that every process of the build imports its
    sitecustomize.py."""
    paths = [str(HERE / "without"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "ARENATOK_BENCH_WITHOUT": without,
            "PYTHONPATH": os.pathsep.join(filter(None, paths))}  # fmt: skip


def bench_size(
    n: int, work: Path, repeat: int, baselines: list[str], builds: list[str]
) -> dict[str, Any]:
    path = corpus(n, work)
    arenatok = [sys.executable, "-m", "arenatok.cli"]
    runs: dict[str, list[float]] = {mode: [] for mode in [*baselines, *builds]}
    peaks: dict[str, list[int]] = {mode: [] for mode in [*baselines, *builds]}
    summaries: dict[str, str] = {}
    counted: dict[str, int] = {}
    for _ in range(repeat):
        for mode in baselines:
            cmd = [sys.executable, "-c", BASELINE, mode, str(path)]
            if mode.startswith("skeleton"):
                counter = "fast" if mode.endswith("fast") else "tiktoken"
                cmd = [sys.executable, str(HERE / "skeleton.py"), str(path),
                       str(work / f"out-{n}-{mode}"), "--counter", counter]  # fmt: skip
            s, peak, stdout = timed(cmd)
            runs[mode].append(s)
            peaks[mode].append(peak)
            counted[mode] = int(stdout.split()[0])
        for b in builds:
            out = work / f"out-{n}-{b}"
            counter, without = build_mode(b)
            s, peak, summaries[b] = timed(
                [*arenatok, "build", "--source", str(path), "--limit", "all", "--out", str(out),
                 "--counter", counter],
                without_env(without) if without else None,
            )  # fmt: skip
            runs[b].append(s)
            peaks[b].append(peak)
    meta = json.loads((work / f"out-{n}-{builds[0]}" / "artifact_metadata.json").read_text())
    hit = re.search(r"token cache: ([\d.]+)% of texts", summaries[builds[0]])
    best = {k: min(v) for k, v in runs.items()}
    median = {k: statistics.median(v) for k, v in runs.items()}
    reference = "processes" if "processes" in baselines else baselines[0]
    # each build against the skeleton with its counter, where that skeleton was timed
    skeletons = {b: "skeleton" + ("-fast" if build_mode(b)[0] == "fast" else "") for b in builds}
    skeletons = {b: s for b, s in skeletons.items() if s in best}
    return {
        "battles": n,
        "corpus_bytes": path.stat().st_size,
        "seconds_min": best,
        "seconds_median": median,
        "reference": reference,
        "over_reference_min": {k: v / best[reference] for k, v in best.items()},
        "over_reference_median": {k: v / median[reference] for k, v in median.items()},
        "over_skeleton_min": {b: best[b] / best[s] for b, s in skeletons.items()},
        "over_skeleton_median": {b: median[b] / median[s] for b, s in skeletons.items()},
        "tokens_counted_by_baselines": counted,
        "tokens_in_dataset": meta["totals"]["total_tokens"],
        "peak_rss_bytes": {b: max(v) for b, v in peaks.items()},
        "token_cache_hit_rate": float(hit.group(1)) / 100 if hit else None,
        "output_bytes": {k: v["bytes"] for k, v in meta["files"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="33000,330000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--baselines",
        default="processes,processes-fast",
        help="bare counting to time (processes, processes-fast, threads), and the build's "
        "skeleton (skeleton, skeleton-fast: see skeleton.py); the first is the reference of the "
        "ratios",
    )
    ap.add_argument(
        "--builds",
        default="build,build-fast",
        help="build, build-fast, each optionally followed by -without-keys and/or "
        "-without-markdown (timed with those per-battle features taken out)",
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "arenatok-bench")
    ap.add_argument(
        "--json", type=Path, help="where the results go (default: WORK/bench_build.json)"
    )
    args = ap.parse_args()
    args.json = args.json or args.work / "bench_build.json"
    if not (SHARED / "tools" / "elobench_to_arena.py").is_file():
        sys.exit(f"needs the real arena texts in {SHARED} (set ARENATOK_SHARED)")
    args.work.mkdir(parents=True, exist_ok=True)
    # Every timed process starts as an installed package does, from compiled bytecode (an
    # editable install compiles on first import, unless PYTHONDONTWRITEBYTECODE is set).
    import compileall

    import arenatok

    compileall.compile_dir(Path(arenatok.__file__).parent, quiet=1)
    sizes = [int(x) for x in args.sizes.split(",")]
    baselines = args.baselines.split(",")
    builds = args.builds.split(",")
    for b in builds:
        build_mode(b)  # an unknown name stops before anything is timed
    results = [bench_size(n, args.work, args.repeat, baselines, builds) for n in sizes]
    report: dict[str, Any] = {"cpus": os.cpu_count(), "repeat": args.repeat, "sizes": results}
    if len(results) >= 2:
        a, b = results[0], results[-1]
        report["scaling"] = {
            "battles_ratio": b["battles"] / a["battles"],
            "time_ratio": b["seconds_min"][builds[0]] / a["seconds_min"][builds[0]],
        }
    print(f"{'battles':>8} {'what':>40} {'min s':>7} {'median s':>8} {'/ ref (min; median)':>20} "
          f"{'peak RSS':>9} {'/ its skeleton (min; median)':>29}")  # fmt: skip
    for r in results:
        for k in r["seconds_min"]:
            peak = r["peak_rss_bytes"][k]
            own = ""
            if k in r["over_skeleton_min"]:
                own = f"{r['over_skeleton_min'][k]:>20.3f}; {r['over_skeleton_median'][k]:.3f}"
            print(
                f"{r['battles']:>8,} {k:>40} {r['seconds_min'][k]:>7.2f} "
                f"{r['seconds_median'][k]:>8.2f} "
                f"{r['over_reference_min'][k]:>10.3f}; {r['over_reference_median'][k]:.3f} "
                f"{peak / 2**20:>7.0f} MiB{own}"
            )
        print(
            f"{'':>8} tokens {r['tokens_in_dataset']:,} in the dataset; token cache hits "
            f"{r['token_cache_hit_rate'] or 0:.1%}; data_out.json "
            f"{r['output_bytes']['data_out.json'] / 2**20:.0f} MiB"
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
