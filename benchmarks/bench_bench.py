"""Benchmark `arenatok bench` against one plain TF-IDF + logistic-regression fit.

    python benchmarks/bench_bench.py [--sizes 33000,132000] [--repeat 3] [--json FILE]

Makes deterministic corpora in the arena schema from real arena texts (see corpus.py) and
builds them, then, in one run and interleaved, times in fresh processes:

  (a) the baseline `plain`: read data_out.jsonl (orjson), the full text of each side (every
      user message and answer, as `full` sends it), the bench's split, the decisive votes;
      scikit-learn's TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True) fitted on
      the training sides, the test sides transformed, one LogisticRegression fitted on A - B,
      the test votes scored (AUC): what one strategy of the old bench did, done once;
  (b) `arenatok bench OUT --jobs 2 --out DIR`: the default strategies and references, 1,000
      bootstrap rounds, bench.json and bench.html written;
  (c) `stop`: the same bench sent SIGTERM (to its process group) once its workers are busy, 3 s
      in; the seconds from the signal to its exit, and whether any of its processes is left.

Each is run --repeat times; the minimum and the median are reported, and their ratios to the
baseline's. Peak RSS is the largest sum of the resident memory of the process and its
descendants, sampled every 20 ms. Needs ../shared (the real texts).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_build import SHARED, corpus, timed  # noqa: E402

PLAIN = r"""
import sys
import numpy as np, orjson
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from arenatok.bench.corpus import in_test_split
from arenatok.bench.verdicts import auc

a, b, y, test = [], [], [], []
with open(sys.argv[1] + "/data_out.jsonl", "rb") as lines:
    for line in lines:
        ctx = orjson.loads(line)["context"]
        if ctx["winner"] not in ("model_a", "model_b"):
            continue
        conv = ctx["conversation"]
        a.append("\n\n".join(m for t in conv for m in (t["user"], t["response_a"])))
        b.append("\n\n".join(m for t in conv for m in (t["user"], t["response_b"])))
        y.append(ctx["winner"] == "model_a")
        test.append(in_test_split(conv[0]["user"], seed=0))
y, test = np.array(y, dtype=int), np.array(test)
tr, te = np.flatnonzero(~test), np.flatnonzero(test)
v = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
x_tr = v.fit_transform([a[i] for i in tr] + [b[i] for i in tr])
x_tr = x_tr[: len(tr)] - x_tr[len(tr) :]
x_te = v.transform([a[i] for i in te]) - v.transform([b[i] for i in te])
model = LogisticRegression(C=1.0, max_iter=2000).fit(x_tr, y[tr])
print(auc(y[te], model.predict_proba(x_te)[:, 1]))
"""


def build(path: Path, out: Path) -> Path:
    if not (out / "artifact_metadata.json").exists():
        subprocess.run(
            [sys.executable, "-m", "arenatok.cli", "build", "--source", str(path), "--limit",
             "all", "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
    return out


def stop_latency(cmd: list[str], after: float) -> tuple[float, int, bool]:
    """Seconds from SIGTERM (to the process group, `after` seconds in) to the exit; the exit
    code; whether a process of the group still runs 2 s later."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGTERM)
    t0 = time.perf_counter()
    proc.wait()
    seconds = time.perf_counter() - t0
    time.sleep(2)
    return seconds, proc.returncode, bool(_group(proc.pid))


def _group(pgid: int) -> list[int]:
    """The processes of a process group that still run (zombies, dead but not yet reaped by
    their parent, do not count)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(entry.name))
    return out


def bench_size(n: int, work: Path, repeat: int, jobs: int) -> dict[str, Any]:
    out = build(corpus(n, work), work / f"built-{n}")
    bench = [sys.executable, "-m", "arenatok.cli", "bench", str(out), "--jobs", str(jobs),
             "--out", str(work / f"bench-{n}")]  # fmt: skip
    runs: dict[str, list[float]] = {"plain": [], "bench": []}
    peaks: dict[str, list[int]] = {"plain": [], "bench": []}
    stops = []
    for _ in range(repeat):
        for name, cmd in (("plain", [sys.executable, "-c", PLAIN, str(out)]), ("bench", bench)):
            s, peak, _ = timed(cmd)
            runs[name].append(s)
            peaks[name].append(peak)
        stops.append(stop_latency(bench, 3.0))
    best = {k: min(v) for k, v in runs.items()}
    median = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "battles": n,
        "seconds_min": best,
        "seconds_median": median,
        "bench_over_plain_min": best["bench"] / best["plain"],
        "bench_over_plain_median": median["bench"] / median["plain"],
        "peak_rss_bytes": {k: max(v) for k, v in peaks.items()},
        "peak_rss_bytes_each_run": peaks,
        "peak_rss_over_plain": max(peaks["bench"]) / max(peaks["plain"]),
        "stop_seconds_max": max(s for s, _, _ in stops),
        "stop_exit_codes": sorted({c for _, c, _ in stops}),
        "stop_left_processes": any(left for _, _, left in stops),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="33000,132000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "arenatok-bench")
    ap.add_argument(
        "--json", type=Path, help="where the results go (default: WORK/bench_bench.json)"
    )
    args = ap.parse_args()
    if not (SHARED / "tools" / "elobench_to_arena.py").is_file():
        sys.exit(f"needs the real arena texts in {SHARED} (set ARENATOK_SHARED)")
    args.work.mkdir(parents=True, exist_ok=True)
    args.json = args.json or args.work / "bench_bench.json"
    import compileall

    import arenatok

    compileall.compile_dir(Path(arenatok.__file__).parent, quiet=1)
    results = [bench_size(int(n), args.work, args.repeat, args.jobs) for n in args.sizes.split(",")]
    print(f"{'battles':>8} {'plain s':>8} {'bench s':>8} {'ratio (min; median)':>20} "
          f"{'plain RSS':>9} {'bench RSS':>9} {'ratio':>5} {'stop s':>6}")  # fmt: skip
    for r in results:
        print(
            f"{r['battles']:>8,} {r['seconds_min']['plain']:>8.2f}"
            f" {r['seconds_min']['bench']:>8.2f}"
            f" {r['bench_over_plain_min']:>10.2f}; {r['bench_over_plain_median']:.2f}"
            f" {r['peak_rss_bytes']['plain'] / 2**20:>7.0f}Mi"
            f" {r['peak_rss_bytes']['bench'] / 2**20:>7.0f}Mi {r['peak_rss_over_plain']:>5.2f}"
            f" {r['stop_seconds_max']:>6.2f} (exit {r['stop_exit_codes']}, processes left: "
            f"{r['stop_left_processes']})"
        )
    args.json.write_text(json.dumps({"cpus": os.cpu_count(), "sizes": results}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
