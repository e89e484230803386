"""The reference numbers of `tests/report/test_arena_rank.py`: lmarena's `arena-rank` (the code
behind the arena's leaderboard today) run on a build's battles, its Bradley-Terry ratings and
sandwich 95% bounds, plain and reweighted, written as JSON.

arena-rank needs JAX, which arenatok keeps out of every install: run this in an environment of
its own, then commit what it writes (the test compares `arenatok report` with it):

    python3 -m venv /tmp/ar && /tmp/ar/bin/pip install arena-rank==0.1.1
    arenatok build --source elobench.parquet --limit all --out elobench-out
    /tmp/ar/bin/python benchmarks/arena_rank_reference.py elobench-out \
        tests/reference/arena_rank_elobench.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path


def battles(out: Path) -> list[dict[str, str]]:
    """model_a, model_b and winner of every record of a build (its data_out.jsonl)."""
    rows = []
    with (out / "data_out.jsonl").open("rb") as f:
        for line in f:
            c = json.loads(line)["context"]
            rows.append({"model_a": c["model_a"], "model_b": c["model_b"], "winner": c["winner"]})
    return rows


def reference(out: Path) -> dict[str, object]:
    import pandas as pd
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    df = pd.DataFrame(battles(out))
    fits = {}
    for name, reweighted in (("plain", False), ("reweighted", True)):
        data = PairDataset.from_pandas(df, reweighted=reweighted)
        model = BradleyTerry(n_competitors=len(data.competitors))
        got = model.compute_ratings_and_cis(data, significance_level=0.05, ci_method="sandwich")
        fits[name] = {
            m: {
                "rating": float(got["ratings"][k]),
                "lower": float(got["rating_lower"][k]),
                "upper": float(got["rating_upper"][k]),
            }
            for k, m in enumerate(got["competitors"])
        }
    meta = json.loads((out / "artifact_metadata.json").read_text())
    return {
        "made_by": f"arena-rank {importlib.metadata.version('arena-rank')}, "
        "BradleyTerry.compute_ratings_and_cis(ci_method='sandwich', significance_level=0.05); "
        "PairDataset.from_pandas(reweighted=False / True)",
        "build": meta["files"]["data_out.jsonl"]["sha256"],
        "battles": len(df),
        **fits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a directory written by arenatok build")
    parser.add_argument("json", type=Path, help="where the reference numbers go")
    args = parser.parse_args()
    args.json.write_text(json.dumps(reference(args.out), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
