"""The report's ratings at any number of models: every fit of the leaderboard (Bradley-Terry,
length- and style-controlled) with its 95% intervals, sandwich and 1,000 bootstrap rounds, in
one process and in one worker per core.

    python benchmarks/bench_ratings.py                         # 33,000 x 64 and 20,000 x 1,000
    python benchmarks/bench_ratings.py --build elobench-out    # and a built dataset

Each figure is one run of `report.leaderboards.leaderboard` in this process (the worker
processes start from scratch each time); run it twice on a shared machine. BLAS is kept to one
thread a process, as the `arenatok` command keeps its workers (more threads than cores only
contend)."""

from __future__ import annotations

import argparse
import os

for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import time  # noqa: E402

from arenatok.dataset.built import Battles, read_built  # noqa: E402
from arenatok.report.leaderboards import leaderboard  # noqa: E402
from battles import synthetic  # noqa: E402


def seconds(c: Battles, *, intervals: str, jobs: int, rounds: int = 1000) -> float:
    started = time.perf_counter()
    leaderboard(c, rounds=rounds, seed=0, jobs=jobs, intervals=intervals)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", help="also a directory written by arenatok build")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (1,000)")
    args = parser.parse_args()
    cases = []
    if args.build:
        c = read_built(args.build).battles
        cases.append((f"{len(c):,} battles of {args.build}", c))
    cases.append(("33,000 battles, 64 models", synthetic(64, 33_000)))
    cases.append(("20,000 battles, 1,000 models", synthetic(1_000, 20_000)))
    jobs = len(os.sched_getaffinity(0))
    print(f"| battles, models | sandwich | bootstrap ({args.rounds} rounds), 1 process | "
          f"bootstrap, {jobs} processes |")  # fmt: skip
    print("|---|---|---|---|")
    for label, c in cases:
        one = seconds(c, intervals="bootstrap", jobs=1, rounds=args.rounds)
        many = seconds(c, intervals="bootstrap", jobs=jobs, rounds=args.rounds)
        sandwich = seconds(c, intervals="sandwich", jobs=1)
        print(f"| {label} | {sandwich:.2f} s | {one:.1f} s | {many:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
