"""What the commands print: the progress bar (stderr, only on a terminal) and the summaries."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arenatok.bench.results import Bench
from arenatok.pipeline.driver import BuildResult
from arenatok.pipeline.write import METADATA
from arenatok.report.results import ModelRow, PairRow, Ratings, Report, Sources, SpecRow
from arenatok.text import lookalikes_note, terminal

if TYPE_CHECKING:
    from rich.console import Console


def console(*, stderr: bool = False) -> Console:
    """A rich console for what the commands print: markup, emoji codes and highlighting off,
    so that text from data (model names, file names) is shown as itself; every such string
    goes through `text.terminal` as well (control characters as visible escapes)."""
    from rich.console import Console

    class Quiet(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1; `main` ends quietly instead
            raise BrokenPipeError(errno.EPIPE, "the output was closed")

    width = None if stderr else 150
    return Quiet(stderr=stderr, width=width, markup=False, emoji=False, highlight=False)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr, updated with (done, total or None); shown only when
    stderr is a terminal, and gone when the work is done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err = console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int | None, stage: str | None = None) -> None:
        bar.update(task, completed=done, total=total)
        if stage is not None:
            bar.update(task, description=terminal(f"{label}: {stage}"))

    with bar:
        yield update


def build_summary(result: BuildResult) -> str:
    """The lines `arenatok build` prints."""
    s = result.stats
    m = result.metadata
    n = s.written
    shares = " · ".join(
        f"{w} {(d['share'] or 0) * 100:.1f}%" for w, d in m["winner_distribution"].items() if n
    )
    flags = ", ".join(f"{f} {c:,}" for f, c in m["quality_flags"].items() if c) or "none"
    dup = m["duplicates"]
    names = [Path(x.get("path") or x.get("filename") or "?").name for x in m["sources"]]
    later = dup["later_copies"]
    lines = [
        f"rows read {s.read:,} = written {s.written:,} + rejected {s.rejected:,}"
        + (f" + dropped {s.dropped:,}" if s.dropped else ""),
        f"tokens ({m['tokenizer']['name']}): {s.total_tokens:,} in all, "
        + (
            f"{s.total_tokens / n:.1f} per battle, {s.turns / n:.2f} turns per battle"
            if n
            else "no battles written"
        ),
        f"winners: {shares}" if n else "winners: none",
        f"model pairs: {m['model_pairs']['ordered']} ordered, "
        f"{m['model_pairs']['unordered']} unordered",
        f"quality flags: {flags}",
        f"duplicates: same_id {later['same_id']:,}, same_battle {later['same_battle']:,} "
        f"(exact {dup['by_key']['exact']:,}, normalized {dup['by_key']['normalized']:,}); "
        f"votes differ {dup['votes_differ']:,}",
        *(
            f"  later copies in source {x['later_in']} ({names[x['later_in']]}) of battles "
            f"first in source {x['first_in']} ({names[x['first_in']]}): {x['later_copies']:,}"
            for x in dup["by_source_pair"]
            if len(names) > 1
        ),
        f"token cache: {result.cache_hit_rate:.1%} of texts were repeats, counted once",
        f"wrote {result.out_dir}/: " + ", ".join([*result.files, METADATA]),
    ]
    for label, read, total in result.limited:
        of = f"{read:,} of {total:,} rows" if total is not None else f"the first {read:,} rows"
        more = "" if total is not None else "; it has more"
        lines.insert(1, f"read {of} of {Path(label).name}{more} (--limit all for every row)")
    alike = lookalikes_note({m for pair in s.pairs for m in pair})
    if alike:
        lines.append(f"note: {alike}")
    if result.kept:
        lines.append(
            "left in place, not made from the build this one replaced: " + ", ".join(result.kept)
        )
    if result.late_signal:
        lines.append(
            "a stop signal came while the finished files were renamed into place: the build "
            "completed, and its output is whole"
        )
    return "".join(terminal(line) + "\n" for line in lines)


def _ci(row: ModelRow, fit: str) -> str:
    ci = row.interval(fit)
    return f"{ci[0]:.0f}–{ci[1]:.0f}" if ci else _words(row.why_not(f"{fit}_ci95"))


def _rating(row: ModelRow, fit: str) -> str:
    value = row.rating(fit)
    return f"{value:.0f}" if value is not None else _words(row.why_not(fit))


def _words(why: str | None) -> str:
    """Why a rating or interval is missing ("unbounded above", "not estimable"), a word a
    line, so that its column stays as narrow as its numbers."""
    return (why or "").replace(" ", "\n")


def ratings_table(models: Sequence[ModelRow], title: str | None = None) -> Any:
    """One leaderboard: each rating with its interval and rank with uncertainty."""
    from rich.table import Column, Table

    table = Table(
        Column("model", no_wrap=True),
        "battles",
        "Bradley-Terry",
        "95% CI",
        "rank",
        "style-controlled",
        "95% CI",
        "rank",
        "length-controlled",
        "online Elo",
        title=None if title is None else terminal(title),
    )
    for r in models:
        table.add_row(
            terminal(r.model),
            f"{r.battles:,}",
            _rating(r, "bradley_terry"),
            _ci(r, "bradley_terry"),
            str(r.bradley_terry_rank or ""),
            _rating(r, "style_controlled"),
            _ci(r, "style_controlled"),
            str(r.style_controlled_rank or ""),
            _rating(r, "length_controlled"),
            f"{r.online_elo:.0f}",
        )
    return table


def print_report(report: Report, intervals: str, rounds: int, seconds: float) -> None:
    """The report's headline, ratings tables, style coefficients and the specification
    comparison."""
    counts, rat, out = report.counts, report.ratings, console()
    how = "sandwich intervals" if intervals == "sandwich" else f"{rounds} bootstrap rounds"
    f = rat.filters
    kept = (
        f"; rated {f.battles_after:,} of {f.battles_before:,} battles after the filters"
        if f is not None and f.battles_after != f.battles_before
        else ""
    )
    out.print(
        f"{counts.battles:,} battles, {counts.models} models, "
        f"{counts.model_pairs.ordered} ordered / {counts.model_pairs.unordered} "
        f"unordered pairs{kept}\n"
        f"ratings with {how} in {report.ratings_seconds:.1f} s; "
        f"report in {seconds:.1f} s",
        highlight=False,
    )
    for caveat in report.caveats:
        out.print(terminal(f"note: {caveat}"))
    out.print(ratings_table(rat.models))
    out.print(_coefficients(rat))
    fitted = (p for p in rat.pairwise if p.battles >= 20 and p.z is not None)
    worst = sorted(fitted, key=lambda p: -abs(p.z or 0))[:5]
    if worst:
        out.print(_pairs(worst))
    if report.slices is not None:
        for sl in report.slices.slices:
            n = sl.battles
            title = f"{report.slices.by} = {sl.slice}: {n:,} battle{'s' * (n != 1)}"
            if sl.too_few_battles:
                out.print(terminal(f"{title} (too few to rate)"))
            else:
                out.print(ratings_table(sl.models or [], title))
    src = report.sources
    if len(src.sources) > 1 or src.votes_differ:
        out.print(_sources(src))
    out.print(_specification(report.specification_report))


def _coefficients(rat: Ratings) -> Any:
    from rich.table import Table

    table = Table("style feature", "coefficient", "95% CI", title="style control (log-odds per sd)")
    for name, x in rat.coefficients["style_controlled"].items():
        ci, why = x.get("ci95"), x.get("not_estimable", "").split(":")[0]
        estimate = x["estimate"]
        table.add_row(
            terminal(name),
            f"{estimate:+.3f}" if estimate is not None else why,
            f"{ci[0]:+.3f} – {ci[1]:+.3f}" if ci else why,
        )
    return table


def _pairs(worst: Sequence[PairRow]) -> Any:
    from rich.table import Table

    table = Table(
        "model",
        "opponent",
        "battles",
        "observed",
        "predicted",
        "z",
        title="pairs the Bradley-Terry fit explains worst (20+ battles)",
    )
    for p in worst:
        table.add_row(
            terminal(p.model),
            terminal(p.opponent),
            str(p.battles),
            f"{p.observed_score:.2f}",
            f"{p.predicted_score:.2f}",
            f"{p.z:+.1f}",
        )
    return table


def _sources(src: Sources) -> Any:
    from rich.table import Table

    title = f"sources (votes differ between copies: {src.votes_differ})"
    table = Table("source", "battles", "later copies within", "of others", title=title)
    for x in src.sources:
        table.add_row(
            terminal(f"{x.source}: {Path(x.name).name}"),
            f"{x.battles or 0:,}",
            f"{x.later_copies_within:,}",
            f"{x.later_copies_of_other_sources:,}",
        )
    return table


def _specification(rows: Sequence[SpecRow]) -> Any:
    from rich.table import Table

    table = Table(
        "figure",
        "report",
        "ours",
        "why they differ",
        title="the specification report, first 300 battles",
    )
    for row in rows:
        table.add_row(row.figure, row.report, terminal(row.ours), terminal(row.why))
    return table


def print_bench(bench: Bench, seconds: float) -> None:
    """The benchmark's split, results table, verdicts and what the test can detect."""
    from arenatok.bench.bench_page import answer_sentences, power_statement

    split, metric = bench.split, bench.compared_on
    out = console()
    pooled = f" from {len(bench.builds)} builds" if len(bench.builds) > 1 else ""
    copies = sum(b.left_out_as_copies_of_an_earlier_build for b in bench.builds)
    if copies:
        pooled += f" ({copies:,} copies of battles of an earlier build left out)"
    votes = "votes" if bench.outcome == "three-way" else "decisive votes"
    out.print(
        f"{bench.battles:,} battles{pooled}: trained on {split.train_votes:,} "
        f"{votes}, tested on {split.test_votes:,} (ties {split.ties}: "
        f"{split.test_ties:,} in the test split); outcome {bench.outcome}, compared on "
        f"{metric}; run time {seconds:.1f} s",
        highlight=False,
    )
    out.print(_results_table(bench))
    for sentence in answer_sentences(bench):
        out.print(terminal(sentence))
    out.print(terminal(power_statement(bench)))


def _results_table(bench: Bench) -> Any:
    from rich.table import Column, Table

    metric = bench.compared_on

    def ci(x: list[float] | None) -> str:
        return f"{x[0]:+.3f}…{x[1]:+.3f}" if x else ""

    def verdict(x: bool | None) -> str:
        return {True: "yes", False: "no", None: ""}[x]

    table = Table(
        Column("strategy", no_wrap=True),
        Column("bytes/side", justify="right"),
        Column("tokens/side", justify="right"),
        metric,
        Column("95% CI", no_wrap=True),
        Column("− full", no_wrap=True),
        "non-inf.",
        Column("− length", no_wrap=True),
        "content",
        caption=f"− full, − length: 95% intervals of the {metric} difference from full and "
        f"from the length-only reference; non-inf.: non-inferior to full (margin "
        f"{bench.margin:g}); content: uses content (beats length only)",
    )
    for r in bench.results:
        score_ci = r.score_ci95
        table.add_row(
            terminal(r.strategy),
            f"{r.bytes_per_side:,.0f}" if r.bytes_per_side is not None else "",
            f"{r.tokens_per_side:,.0f}" if r.tokens_per_side is not None else "",
            f"{r.score:.3f}",
            f"{score_ci[0]:.3f}…{score_ci[1]:.3f}" if score_ci else "",
            ci(r.minus_full_ci95),
            verdict(r.non_inferior_to_full),
            ci(r.minus_length_only_ci95) if r.uses_content is not None else "",
            verdict(r.uses_content),
        )
    return table
