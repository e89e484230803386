"""`write_bench`: a bench run and its files, bench.json and bench.html, written together
beside the build they come from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from typing_extensions import Unpack

from arenatok.bench.results import Bench
from arenatok.bench.run import BenchOptions, run_bench
from arenatok.bench.strategies import AnyStrategy
from arenatok.errors import OutputError
from arenatok.runtime.atomic import NewDirs, dumps_pretty, out_dir, output_error
from arenatok.runtime.derived import BENCH_HTML, BENCH_JSON, build_in, write_derived


def write_bench(
    out: str | Path | Sequence[str | Path],
    strategies: Sequence[AnyStrategy],
    *,
    write_to: str | Path | None = None,
    **options: Unpack[BenchOptions],
) -> Bench:
    """Run the benchmark (`run_bench` and its options) and write bench.json and bench.html
    into `write_to` (made if missing, before the run; default: the first built directory)."""
    from arenatok.bench.bench_page import render_html

    first = Path(out) if isinstance(out, str | Path) else Path(out[0])
    target = first if write_to is None else out_dir(write_to, "--out")
    hint = "choose another --out directory"
    made = None
    if write_to is not None:
        _check_target(target, first)  # before the run, not only at its end
        try:
            made = NewDirs(target)
        except OSError as e:
            raise output_error(target, e, hint=hint) from e
    try:
        bench = run_bench(out, strategies, **options)
        data = dumps_pretty(bench.to_json()).encode("utf-8")
        page = render_html(bench, run=hashlib.sha256(data).hexdigest())
        write_derived(
            target,
            {BENCH_JSON: data, BENCH_HTML: page.encode("utf-8")},
            build=bench.build,
            read_from=first,
            hint=hint,
        )
    except BaseException:
        if made is not None:
            made.undo()  # a bench that failed leaves no empty --out
        raise
    return bench


def _check_target(target: Path, first: Path) -> None:
    """An OutputError when --out holds a build other than the first one benchmarked: the
    bench's files would name a build that is not there."""
    here, ours = build_in(target), build_in(first)
    if here is not None and here != ours and target.resolve() != first.resolve():
        raise OutputError(
            f"--out {target}: holds another build; bench.json made from {first} does not "
            "belong there",
            hint="choose a directory without a build, or the first build benchmarked",
        )
