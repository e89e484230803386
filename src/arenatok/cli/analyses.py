"""The commands over a finished build's analyses (`report`, `bench`), and the option type that
every command shares (`CountOr`); `cli` adds them to the `arenatok` group."""

from __future__ import annotations

import time
from pathlib import Path

import click

from arenatok.bench.strategies import DEFAULT_STRATEGIES, HELP
from arenatok.cli.params import CountOr, OutDir, choice
from arenatok.options import Intervals, Outcome
from arenatok.text import terminal


@click.command(
    "report", short_help="Statistics and ratings of a build: report.json and report.html."
)
@click.argument("out_dir", type=OutDir())
@click.option(
    "--rounds",
    type=int,
    metavar="N",
    default=1000,
    show_default=True,
    help="Bootstrap rounds for the 95% intervals of every rating and coefficient (with "
    "--intervals bootstrap): 0 (no intervals) or 100 or more.",
)
@click.option(
    "--intervals",
    type=choice(Intervals),
    default="sandwich",
    show_default=True,
    help="How the 95% intervals are made: sandwich (robust, closed-form: the arena's "
    "leaderboard today) or bootstrap (--rounds resamples of the battles).",
)
@click.option(
    "--reweight",
    is_flag=True,
    help="Weigh each battle 1 / max(battles of its pair, 50), as the arena's reweighting "
    "does, in every fit.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--by",
    metavar="language|turns|category|flag:NAME",
    help="Also a leaderboard per slice (category: the release's own labels; flag:NAME: the "
    "battles with and without a quality flag).",
)
@click.option("--anony-only", is_flag=True, help="Rate only battles with hidden model names.")
@click.option(
    "--min-battles",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Leave out models with fewer battles (and their battles) from the ratings.",
)
@click.option(
    "--exclude-model",
    "exclude",
    multiple=True,
    metavar="NAME",
    help="Leave this model's battles out of the ratings (repeatable).",
)
@click.option(
    "--jobs",
    type=CountOr("auto"),
    default="auto",
    show_default=True,
    help="Worker processes for the bootstrap (auto: one per core for large inputs); the "
    "numbers do not depend on it.",
)
def report_cmd(
    out_dir: Path,
    rounds: int,
    intervals: str,
    reweight: bool,
    seed: int,
    by: str | None,
    anony_only: bool,
    min_battles: int,
    exclude: tuple[str, ...],
    jobs: int | None,
) -> None:
    """Describe a built dataset: counts (battles, models, pairs, votes, turns, languages,
    flags), token distributions, what resending the history costs, ratings as the arena
    computes them (online Elo in arrival order, Bradley-Terry, length- and style-controlled
    Bradley-Terry, each with sandwich or bootstrap intervals and the rank with uncertainty),
    observed against predicted win rates per pair, length bias, and the specification
    report's figures beside ours. Writes report.json (every number) and report.html
    (self-contained, opens offline) into OUT_DIR. The filters and slices apply to the
    ratings; the counts and tokens describe every battle.

    \b
    Example:
        arenatok report arenatok-out
        arenatok report arenatok-out --by language --min-battles 50
    """
    from arenatok.cli.output import print_report, progress_bar
    from arenatok.report import write_report

    started = time.perf_counter()
    with progress_bar("bootstrap rounds") as progress:
        report = write_report(
            out_dir,
            rounds=rounds,
            intervals=intervals,
            reweight=reweight,
            seed=seed,
            by=by,
            anony_only=anony_only,
            min_battles=min_battles,
            exclude=exclude,
            jobs="auto" if jobs is None else jobs,
            progress=progress,
        )
    print_report(report, intervals, rounds, time.perf_counter() - started)
    click.echo(terminal(f"wrote {out_dir}/report.json, {out_dir}/report.html"))


@click.command("bench", short_help="How much of the human vote survives when each side sends less.")
@click.argument("out_dirs", nargs=-1, required=True, type=OutDir())
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    metavar="SPEC",
    help=HELP,
)
@click.option(
    "--outcome",
    type=choice(Outcome),
    default="binary",
    show_default=True,
    help="binary: predict A or B (ties left out), compared on AUC; three-way: A, B or tie, "
    "compared on multiclass log-loss.",
)
@click.option(
    "--margin",
    type=click.FloatRange(0, min_open=True),
    default=0.02,
    show_default=True,
    help="Non-inferiority margin against full (AUC points, or log-loss for three-way).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the split, the bootstrap and the learners.",
)
@click.option(
    "--rounds",
    type=int,
    metavar="N",
    default=1000,
    show_default=True,
    help="Bootstrap rounds for the 95% intervals, from which the verdicts and the power are "
    "made: 0 (none of them) or 100 or more.",
)
@click.option(
    "--limit",
    type=CountOr("all"),
    default="all",
    show_default=True,
    help="Use the first N battles of each build, or all.",
)
@click.option(
    "--jobs",
    type=CountOr("auto"),
    default="auto",
    show_default=True,
    help="Worker processes that read and tokenise the builds (auto: one per core; 1: in this "
    "process). The results do not depend on it.",
)
@click.option(
    "--out",
    "write_to",
    type=OutDir(),
    help="Where bench.json and bench.html go (default: the first OUT_DIR).",
)
def bench_cmd(
    out_dirs: tuple[Path, ...],
    strategies: tuple[str, ...],
    outcome: str,
    margin: float,
    seed: int,
    rounds: int,
    limit: int | None,
    jobs: int | None,
    write_to: Path | None,
) -> None:
    """Benchmark message compression against human preference: for each strategy (what one
    side sends instead of its full messages; recurrent ones carry a state across turns), train
    a preference predictor on one split and measure on held-out votes (no prompt in both
    splits) how much of the signal survives, with paired bootstrap intervals, beside what the
    strategy costs (per side and by turn) and references that see no content (length, style,
    model identity). Two verdicts per strategy: non-inferior to full (full always runs, as the
    reference), and uses content (beats length only); and what the test split can detect.
    Several OUT_DIRs are pooled. Writes bench.json and bench.html into the first OUT_DIR (or
    --out).

    \b
    Example:
        arenatok bench arenatok-out --strategy full --strategy recurrent:16
        arenatok bench out33k out55k --outcome three-way --out pooled --jobs 2
    """
    from arenatok.bench import write_bench
    from arenatok.bench.strategies import parse_strategies
    from arenatok.cli.output import print_bench, progress_bar
    from arenatok.runtime.workers import default_workers

    started = time.perf_counter()
    chosen = parse_strategies(strategies or DEFAULT_STRATEGIES)
    with progress_bar("benchmarking") as progress:
        bench = write_bench(
            list(out_dirs),
            chosen,
            write_to=write_to,
            seed=seed,
            rounds=rounds,
            limit=limit,
            outcome=outcome,
            margin=margin,
            jobs=jobs or default_workers(),
            progress=progress,
        )
    print_bench(bench, time.perf_counter() - started)
    where = write_to or out_dirs[0]
    click.echo(terminal(f"wrote {where}/bench.json, {where}/bench.html"))
