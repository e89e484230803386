"""`arenatok report`: the numbers people look at before they trust the data, as one dict
(`build_report`), with the caveats of thin data. `report_page.write_report` writes them as files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from arenatok.dataset.built import Built
from arenatok.errors import OptionError, SourceError
from arenatok.options import Intervals, check_choice, check_rounds, check_seed
from arenatok.pipeline.write import JSONL
from arenatok.report.leaderboards import Progress, ratings_section
from arenatok.report.results import FITS, Ratings, Report
from arenatok.report.slices import select, slices_section
from arenatok.report.usage import (
    counts_section,
    length_bias,
    sources_section,
    spec_comparison,
    tokens_section,
)
from arenatok.text import lookalikes_note

THIN_BATTLES = 300
"""Below this many rated battles a report says its data is thin."""
PLOT_MIN_BATTLES = 30
"""Models with fewer rated battles are left out of the plots (their ratings are in the tables):
with a handful of battles a rating is little more than noise and stretches every axis, which is
why the arena's own leaderboard shows only models with enough votes."""


SHOWN_APART = 20
"""Models that a caveat names one by one (outside the largest group, without a rating)."""


def _some(names: Sequence[str]) -> str:
    """Names, the first SHOWN_APART of them, then how many more."""
    more = len(names) - SHOWN_APART
    return ", ".join(names[:SHOWN_APART]) + (f" and {more:,} more" if more > 0 else "")


def _left_out(models: int, battles: int) -> str:
    """ "Its 1 battle is left out", "Their 8 battles are left out"."""
    whose = "Their" if models > 1 else "Its"
    return f"{whose} {battles:,} battle{'s are' if battles != 1 else ' is'} left out"


def caveats(rating: Ratings, battles: int, names: Sequence[str] = ()) -> list[str]:
    """What a reader must know before reading the ratings: thin data, rough models, model
    names (`names`: every model of the build) that are easily taken for one another.
    `battles`: how many were rated."""
    models = rating.models
    out = []
    alike = lookalikes_note(names)
    if alike:
        out.append(alike[0].upper() + alike[1:] + ".")
    groups = rating.separate_groups or []
    if len(groups) > 1:
        apart = [m for g in groups[1:] for m in g]
        out.append(
            f"The battles fall into {len(groups)} groups of models that never met, not even "
            f"through other models: ratings are comparable only within a group (each group's "
            f"rated models have a mean of 1000). Outside the largest group "
            f"({len(groups[0]):,} models): {_some(apart)}."
        )
    sets = rating.rated_sets or []
    if sets:
        apart = [m for s in sets[1:] for m in s]
        out.append(
            f"The ratings are on {len(sets)} separate scales: {len(sets)} rated sets (models "
            "that each beat or tied every other of their set, directly or through others) meet "
            "only through models without a finite rating, so ratings compare only within a set "
            f"(each with a mean of 1000). Outside the largest set ({len(sets[0]):,} models): "
            f"{_some(apart)}."
        )
    unrated = [f"{m.model} ({m.why_not('bradley_terry')})" for m in models if m.not_rated()]
    if unrated:
        n = len(unrated)
        out.append(
            f"No finite rating for {n} model{'s' * (n > 1)}: {_some(unrated)}. A model that "
            "never lost (or never won) against the rest, directly or through other models, or "
            "that meets the rated models only through such models, has no maximum-likelihood "
            f"rating (separation). {_left_out(n, rating.battles_left_out or 0)} of the fits, "
            "which rate the other models on their battles among themselves, exactly as "
            "without them; online Elo keeps every battle."
        )
    flat = [m for m in models if not m.not_rated() and m.flat_intervals()]
    if flat:
        reasons: dict[str, list[str]] = {}
        for m in flat:
            why = next(
                (m.not_estimable or {})[f"{fit}_ci95"]
                for fit in FITS
                if m.why_not(f"{fit}_ci95") is not None
            )
            reasons.setdefault(why.split(": ", 1)[-1], []).append(m.model)
        out.append(
            f"A 95% interval is not estimable for {len(flat)} rated "
            f"model{'s' * (len(flat) > 1)}: "
            + "; ".join(f"{_some(names)} ({why})" for why, names in reasons.items())
            + "."
        )
    if battles < THIN_BATTLES:
        out.append(
            f"Thin data: {battles:,} rated battles (under {THIN_BATTLES}). Ratings and ranks move "
            "a lot with so few votes: read the 95% intervals, not the points; a shared rank of 1 "
            "means the intervals overlap, not a tie."
        )
    rough = [m.model for m in models if m.battles < PLOT_MIN_BATTLES and not m.not_rated()]
    if rough:
        out.append(
            f"{len(rough)} of {len(models)} models have fewer than {PLOT_MIN_BATTLES} rated "
            "battles: their ratings are rough (wide intervals, where one can be estimated) and "
            "they are left out of the plots; the tables keep them."
        )
    return out


def build_report(
    built: Built,
    *,
    rounds: int = 1000,
    seed: int = 0,
    by: str | None = None,
    anony_only: bool = False,
    min_battles: int = 0,
    exclude: Sequence[str] = (),
    jobs: int | str = 1,
    intervals: Intervals = "sandwich",
    reweight: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Every number of the report of a built dataset. The filters (`select`) apply to the
    ratings, the slices (`by`) and the pairwise view; the counts and tokens describe every
    battle. `intervals`: "sandwich" (the arena's leaderboard today) or "bootstrap" (`rounds`
    rounds: 0, no intervals, or at least 100, whatever `intervals`: `options.check_rounds`,
    as the command line); `reweight`: the arena's inverse-propensity weights. `jobs`: worker
    processes for the bootstrap, or "auto" (one per core for large inputs; the numbers do not
    depend on it; the calling script must be importable: guard it with `if __name__ ==
    "__main__":`); `progress`: called with (rounds done, rounds in all)."""
    from arenatok._version import __version__

    c, meta = built.battles, built.metadata
    check_seed(seed)
    check_choice(intervals, Intervals, "kind of intervals")
    check_rounds(rounds)
    if not len(c):
        raise SourceError(
            f"{built.out / JSONL}: no battles to report on",
            hint="build from a source with usable rows (see rejects.jsonl)",
        )
    started = time.perf_counter()
    rated, filters = select(c, anony_only=anony_only, min_battles=min_battles, exclude=exclude)
    if not len(rated):
        raise OptionError(
            "no battles are left to rate after the filters",
            hint="loosen --anony-only / --min-battles / --exclude-model",
        )
    rating = ratings_section(
        rated,
        rounds=rounds,
        seed=seed,
        jobs=jobs,
        intervals=intervals,
        reweight=reweight,
        progress=progress,
    )
    rating.filters = filters
    slices = (
        slices_section(
            rated, by, rounds=rounds, seed=seed, jobs=jobs, intervals=intervals, reweight=reweight
        )
        if by
        else None
    )
    return Report(
        arenatok_version=__version__,
        build=built.build_id,
        dataset=meta["dataset"],
        source=meta["source"],
        tokenizer=meta["tokenizer"]["name"],
        counts=counts_section(c),
        tokens=tokens_section(c),
        ratings=rating,
        slices=slices,
        length_bias=length_bias(c),
        source_token_agreement=meta.get("source_token_agreement"),
        source_style_agreement=meta.get("source_style_agreement"),
        specification_report=spec_comparison(c, meta),
        sources=sources_section(meta),
        caveats=caveats(rating, filters.battles_after, sorted({*c.model_a, *c.model_b})),
        ratings_seconds=time.perf_counter() - started,
    )
