"""The fits of a leaderboard, each with its 95% intervals: Bradley-Terry (`plain_fit`) and
the length- and style-controlled fits (`controlled_fit`), sandwich or bootstrap; an interval
that cannot be estimated says why (`Bound`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from arenatok.report import controlled, ratings
from arenatok.report.results import Coefficient, Coefficients

Bound = list[float] | str
"""A 95% interval (low, high), or why there is none: "not estimable: ..." or "unbounded
above: ..." (the words before the colon are what the tables show)."""

NARROWEST = 1e-6
"""A bootstrap interval narrower than this (Elo, or log-odds for a coefficient) has zero
width: its rounds agree to rounding error."""

FLAT = (
    "not estimable: the sandwich has no spread of outcomes to estimate a variance from: the "
    "battles that place it were scored exactly as the fit predicts (ties between models rated "
    "equal), or are fewer than the fit's parameters"
)
"""Why a sandwich interval is not estimable (`solve.sandwich_variances`, `solve.singular`,
`ratings.blind`)."""


def interval95(samples: np.ndarray) -> Bound:
    """The 95% percentile interval of bootstrap samples (NaN samples, rounds that did not rate
    the model, left out; +-inf, rounds where its rating is unbounded, kept), or why there is
    none: no round rated it, a bound is infinite, or the rounds agree (zero width)."""
    if np.isnan(samples).all():
        return "not estimable: no bootstrap round rated it"
    big = np.finfo(float).max / 4  # an infinite sample as a finite one the percentiles can mix
    x = np.where(np.isinf(samples), np.copysign(big, samples), samples)
    lo, hi = float(np.nanpercentile(x, 2.5)), float(np.nanpercentile(x, 97.5))
    if max(abs(lo), abs(hi)) > big / 1e6:
        return (
            "not estimable: in more than 2.5% of the bootstrap rounds it has no finite rating "
            "(in the battles drawn it never lost, or never won, against the rest, directly or "
            "through other models), so a 95% bound is infinite"
        )
    if hi - lo < NARROWEST:
        return "not estimable: every bootstrap round gave the same value (zero width)"
    return [lo, hi]


def battle_weights(m: controlled.Matchups) -> np.ndarray:
    """The arena's inverse-propensity weights of each battle (`ratings.pair_weights`),
    normalised to mean 1, as its controlled fits take them."""
    w = ratings.pair_weights(m.i, m.j)
    out: np.ndarray = w / w.mean()
    return out


def sandwich_bounds(values: np.ndarray, half: np.ndarray) -> list[Bound]:
    """Sandwich intervals: each value +- its half width (NaN: not estimable)."""
    return [
        FLAT if np.isnan(h) else [float(v - h), float(v + h)]
        for v, h in zip(values, half, strict=True)
    ]


def coefficient(estimate: float, bound: Bound) -> Coefficient:
    """A coefficient with its 95% interval, or a null one and why."""
    if isinstance(bound, str):
        return {"estimate": estimate, "ci95": None, "not_estimable": bound}
    return {"estimate": estimate, "ci95": bound}


@dataclass
class Fits:
    """What the three fits of a leaderboard give for the `models` they rate: each fit's
    ratings (Elo, in their order) and, where made, their 95% intervals; the controlled fits'
    coefficients."""

    intervals: bool
    """Whether intervals were made (sandwich, or a bootstrap of one round or more)."""
    models: list[str] = field(default_factory=list)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    bounds: dict[str, list[Bound]] = field(default_factory=dict)
    coefficients: Coefficients = field(default_factory=dict)


@dataclass(frozen=True)
class FitOptions:
    """How every fit of a leaderboard gets its intervals (see `leaderboard`)."""

    rounds: int
    seed: int
    jobs: int | str
    intervals: str
    reweight: bool


def plain_fit(
    cells: ratings.Cells, fits: Fits, opts: FitOptions, tick: Callable[[int], None]
) -> None:
    """Bradley-Terry, with its sandwich or bootstrap intervals."""
    weights = ratings.pair_weights(cells.i, cells.j, cells.counts) if opts.reweight else None
    theta = ratings.bt_strengths(cells, weights=weights)
    fits.columns["bradley_terry"] = ratings.to_elo(theta)
    if opts.intervals == "sandwich":
        variance = ratings.bt_sandwich(cells, theta, weights)
        half = ratings.Z95 * ratings.ELO_PER_LOG_ODDS * np.sqrt(variance)
        fits.bounds["bradley_terry"] = sandwich_bounds(fits.columns["bradley_terry"], half)
    elif opts.rounds:
        samples = ratings.bt_bootstrap(
            cells,
            rounds=opts.rounds,
            seed=opts.seed,
            weights=weights,
            jobs=opts.jobs,
            progress=tick,
        )
        fits.bounds["bradley_terry"] = [interval95(x) for x in samples.T]


def controlled_fit(
    m: controlled.Matchups,
    name: str,
    features: tuple[str, ...],
    fits: Fits,
    opts: FitOptions,
    tick: Callable[[int], None],
) -> None:
    """A controlled fit (the length- or style-controlled Bradley-Terry) with its intervals
    and its coefficients'."""
    n = len(m.models)
    weights = battle_weights(m) if opts.reweight else None
    full = controlled.contextual_bt(m, weights)
    fits.columns[name] = ratings.SCALE * full[:n] + ratings.INIT
    coefficients: dict[str, Coefficient] = {
        f: {"estimate": float(full[n + k])} for k, f in enumerate(features)
    }
    fits.coefficients[name] = coefficients
    if opts.intervals == "sandwich":
        half = ratings.Z95 * np.sqrt(controlled.controlled_sandwich(m, full, weights))
        fits.bounds[name] = sandwich_bounds(fits.columns[name], ratings.SCALE * half[:n])
        for k, f in enumerate(features):
            bound = sandwich_bounds(full[n + k : n + k + 1], half[n + k : n + k + 1])[0]
            coefficients[f] = coefficient(float(full[n + k]), bound)
    elif opts.rounds:
        boot = controlled.controlled_bootstrap(
            m,
            full,
            rounds=opts.rounds,
            seed=opts.seed,
            jobs=opts.jobs,
            weights=weights,
            progress=tick,
        )
        boot_elo = ratings.SCALE * boot[:, :n] + ratings.INIT
        fits.bounds[name] = [interval95(x) for x in boot_elo.T]
        for k, f in enumerate(features):
            coefficients[f] = coefficient(float(full[n + k]), interval95(boot[:, n + k]))
