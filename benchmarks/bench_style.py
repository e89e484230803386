"""Style-controlled ratings with bootstrap intervals: arenatok against the arena's own code.

Times 1,000 bootstrap rounds of the style-controlled Bradley-Terry fit (what `arenatok report`
prints) on the same battles with arenatok (`controlled.contextual_bt` + `controlled_bootstrap`:
Newton steps from the full-data fit; in one process, then in one worker per core) and, given
a FastChat checkout, with FastChat's `compute_bootstrap_style_control` (rows resampled, each
round refitted from zero with L-BFGS in a process pool, one process per core by default).
Also checks that the two full-data fits give the same ratings and coefficients.

    git clone https://github.com/lm-sys/FastChat
    python -m venv /tmp/bench-env && . /tmp/bench-env/bin/activate
    pip install -e . pandas scipy tqdm
    python benchmarks/bench_style.py --fastchat FastChat                  # 33,000 x 64 models
    python benchmarks/bench_style.py --fastchat FastChat --build out      # a built dataset

FastChat is imported from the checkout, never copied. Without --fastchat only arenatok runs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from arenatok.dataset.built import read_built
from arenatok.report import controlled, ratings
from arenatok.report.leaderboards import style_matrix


def synthetic(n: int, n_models: int, seed: int) -> dict[str, object]:
    """n battles between n_models models with planted strengths and a planted style effect
    (longer, more formatted answers win more often); ties 20% of the time."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_models)
    i = rng.integers(0, n_models, n)
    j = (i + rng.integers(1, n_models, n)) % n_models
    a = np.column_stack([rng.integers(1, 1500, n), rng.poisson([1, 4, 2], (n, 3))])
    b = np.column_stack([rng.integers(1, 1500, n), rng.poisson([1, 4, 2], (n, 3))])
    x = controlled.normalised_difference(a.astype(float), b.astype(float))
    p = 1 / (1 + np.exp(-(strength[i] - strength[j] + x @ np.array([0.3, 0.05, 0.1, 0.1]))))
    u = rng.random(n)
    winner = np.where(u < 0.2, "tie", np.where(rng.random(n) < p, "model_a", "model_b"))
    names = [f"model-{k:02d}" for k in range(n_models)]
    return {
        "model_a": [names[k] for k in i],
        "model_b": [names[k] for k in j],
        "winner": winner.tolist(),
        "a": a,
        "b": b,
    }


def from_build(out: str) -> dict[str, object]:
    c = read_built(out).battles
    a, b = style_matrix(c)
    return {"model_a": c.model_a, "model_b": c.model_b, "winner": c.winner, "a": a, "b": b}


def ours(
    data: dict[str, object], rounds: int, jobs: int
) -> tuple[float, dict[str, float], np.ndarray]:
    a, b = np.asarray(data["a"], float), np.asarray(data["b"], float)
    scores = [ratings.score(w) for w in data["winner"]]  # type: ignore[attr-defined]
    started = time.perf_counter()
    m = controlled.Matchups.of(
        data["model_a"],  # type: ignore[arg-type]
        data["model_b"],  # type: ignore[arg-type]
        scores,
        controlled.normalised_difference(a, b),
    )
    full = controlled.contextual_bt(m)
    controlled.controlled_bootstrap(m, full, rounds=rounds, seed=0, jobs=jobs)
    seconds = time.perf_counter() - started
    n = len(m.models)
    elo = dict(zip(m.models, (ratings.SCALE * full[:n] + ratings.INIT).tolist(), strict=True))
    return seconds, elo, full[n:]


def fastchat(
    data: dict[str, object], rounds: int, checkout: str, cpus: int | None
) -> tuple[float, dict[str, float], np.ndarray]:
    sys.path.insert(0, str(Path(checkout).resolve()))
    import pandas as pd
    from fastchat.serve.monitor import rating_systems

    a, b = np.asarray(data["a"], int), np.asarray(data["b"], int)
    meta = [
        {
            "sum_assistant_a_tokens": int(x[0]),
            "header_count_a": int(x[1]),
            "list_count_a": int(x[2]),
            "bold_count_a": int(x[3]),
            "sum_assistant_b_tokens": int(y[0]),
            "header_count_b": int(y[1]),
            "list_count_b": int(y[2]),
            "bold_count_b": int(y[3]),
        }
        for x, y in zip(a, b, strict=True)
    ]
    df = pd.DataFrame(
        {
            "model_a": data["model_a"],
            "model_b": data["model_b"],
            "winner": data["winner"],
            "conv_metadata": meta,
        }
    )
    full, coefs = rating_systems.compute_style_control(df)
    started = time.perf_counter()
    rating_systems.compute_bootstrap_style_control(df, rounds, num_cpu=cpus)
    return time.perf_counter() - started, full.to_dict(), np.asarray(coefs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", help="a built directory (default: synthetic battles)")
    parser.add_argument("--battles", type=int, default=33_000)
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--fastchat", help="a FastChat checkout to time beside arenatok")
    parser.add_argument("--fastchat-cpus", type=int, help="FastChat's pool size (default: all)")
    args = parser.parse_args()
    data = from_build(args.build) if args.build else synthetic(args.battles, args.models, 0)
    n = len(data["winner"])  # type: ignore[arg-type]
    k = len(set(data["model_a"]) | set(data["model_b"]))  # type: ignore[arg-type]
    print(f"{n:,} battles, {k} models, {args.rounds} bootstrap rounds of the style-controlled fit")
    t_one, elo, coefs = ours(data, args.rounds, 1)
    print(f"arenatok  {t_one:8.2f} s  (one process)")
    jobs = os.cpu_count() or 1
    t_ours = t_one
    if jobs > 1:
        t_ours, _, _ = ours(data, args.rounds, jobs)
        print(f"arenatok  {t_ours:8.2f} s  ({jobs} worker processes)")
    if args.fastchat:
        t_fc, elo_fc, coefs_fc = fastchat(data, args.rounds, args.fastchat, args.fastchat_cpus)
        cpus = args.fastchat_cpus or "all"
        print(f"FastChat  {t_fc:8.2f} s  (process pool: {cpus} cores)")
        print(
            f"FastChat / arenatok: {t_fc / t_ours:.1f}x (both on every core); "
            f"{t_fc / t_one:.1f}x against arenatok on one process"
        )
        gap = max(abs(elo[m] - elo_fc[m]) for m in elo)
        print(
            f"full fit: largest rating difference {gap:.4f} Elo, coefficients "
            f"{np.round(coefs, 4).tolist()} vs {np.round(coefs_fc, 4).tolist()}"
        )
        if not math.isfinite(gap):
            raise SystemExit("the fits disagree")


if __name__ == "__main__":
    main()
