"""The card's bounds at scale: a build's records repeated to N battles (300,000 by default,
each copy with a question id of its own), then the card's two passes over them
(`dataset.shards`: the schema and the shards, then every config written), and every config's
shards and row groups measured against the bounds. The records are not checked one by one
(that is the build's reader's work, timed elsewhere): this measures the Parquet files.

    python benchmarks/bench_card.py --build out --n 300000 --work card300k

Prints, per config, its files, its rows, its largest file and its largest row group
(uncompressed, as Parquet counts it), and exits 1 when a bound does not hold.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

from arenatok.dataset.configs import CONFIGS
from arenatok.dataset.shards import BOUNDS, Bounds, read_shards, write_shards

QUESTION_ID = re.compile(rb'"question_id":"([^"]*)"')


def repeat(build: Path, n: int, work: Path) -> str:
    """work/data_out.jsonl: the build's records, repeated to `n` (copy k's question ids end in
    -k); its sha256."""
    lines = (build / "data_out.jsonl").read_bytes().splitlines(keepends=True)
    sha = hashlib.sha256()
    work.mkdir(parents=True, exist_ok=True)
    with (work / "data_out.jsonl").open("wb") as f:
        for i in range(n):
            copy, line = divmod(i, len(lines))
            if copy:
                line_bytes = QUESTION_ID.sub(
                    lambda m, c=copy: b'"question_id":"' + m[1] + f'-{c}"'.encode(), lines[line]
                )
            else:
                line_bytes = lines[line]
            sha.update(line_bytes)
            f.write(line_bytes)
    return sha.hexdigest()


def measure(work: Path, bounds: Bounds) -> tuple[list[dict[str, Any]], bool]:
    """Per config: its files, rows, largest file and row group; whether every bound held."""
    rows, held = [], True
    for config in CONFIGS:
        files = sorted((work / config.folder).glob("train-*.parquet"))
        metas = [pq.ParquetFile(f).metadata for f in files]
        groups = [m.row_group(g) for m in metas for g in range(m.num_row_groups)]
        largest = max((g.total_byte_size for g in groups if g.num_rows > 1), default=0)
        size = max(f.stat().st_size for f in files)
        held &= largest <= bounds.row_group_bytes and size <= bounds.shard_bytes
        rows.append(
            {
                "config": config.name,
                "files": len(files),
                "rows": sum(m.num_rows for m in metas),
                "row_groups": len(groups),
                "largest_file_MB": round(size / 1e6, 1),
                "largest_row_group_MB": round(largest / 1e6, 1),
            }
        )
    return rows, held


def run(build: Path, n: int, work: Path, bounds: Bounds) -> tuple[list[dict[str, Any]], bool]:
    start = time.perf_counter()
    sha = repeat(build, n, work)
    made = time.perf_counter()
    shards = read_shards(work, None, bounds)
    first = time.perf_counter()

    @contextmanager
    def opens(name: str) -> Iterator[IO[bytes]]:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        with (work / name).open("wb") as f:
            yield f

    meta: Any = {"files": {"data_out.jsonl": {"sha256": sha}}}
    write_shards(work, meta, shards, opens, bounds)
    second = time.perf_counter()
    print(
        f"{n} battles: records {made - start:.1f} s, first pass {first - made:.1f} s, "
        f"second pass {second - first:.1f} s"
    )
    return measure(work, bounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, required=True, help="a built directory")
    parser.add_argument("--n", type=int, default=300_000, help="battles (default 300,000)")
    parser.add_argument("--work", type=Path, required=True, help="where to write (new)")
    parser.add_argument("--row-group-bytes", type=int, default=BOUNDS.row_group_bytes)
    parser.add_argument("--shard-bytes", type=int, default=BOUNDS.shard_bytes)
    args = parser.parse_args()
    bounds = Bounds(args.row_group_bytes, args.shard_bytes)
    rows, held = run(args.build, args.n, args.work, bounds)
    for row in rows:
        print("  ".join(f"{k} {v}" for k, v in row.items()))
    print(
        f"bounds: row groups <= {bounds.row_group_bytes / 1e6:g} MB uncompressed, files <= "
        f"{bounds.shard_bytes / 1e6:g} MB: {'held' if held else 'NOT HELD'}"
    )
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
