"""The report's ratings: the leaderboard (online Elo, Bradley-Terry with sandwich or bootstrap
intervals, the style-controlled fit), the pairwise table, and the ratings section.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arenatok.dataset.built import Battles
from arenatok.pipeline.style import FEATURES
from arenatok.report import controlled, ratings
from arenatok.report.results import Board, ModelRow, PairRow, Ratings

STYLE_FEATURES: tuple[str, ...] = ("length", *FEATURES)
"""The arena's style-control features, in its order: answer tokens, headers, list items, bold."""


def interval95(samples: np.ndarray) -> list[float]:
    """The 95% percentile interval of bootstrap samples (NaN samples left out)."""
    return [float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))]


def style_matrix(c: Battles) -> tuple[np.ndarray, np.ndarray]:
    """Per battle and side: answer tokens and the markdown counts (battles x STYLE_FEATURES)."""
    a = np.column_stack([np.asarray(c.output_a, dtype=float), np.asarray(c.style_a, float)])
    b = np.column_stack([np.asarray(c.output_b, dtype=float), np.asarray(c.style_b, float)])
    width = len(STYLE_FEATURES)
    return a.reshape(len(c), width), b.reshape(len(c), width)


def style_matchups(c: Battles, scores: Sequence[float]) -> controlled.Matchups:
    """The battles with every style feature, as the arena normalises them (each column
    standardised on its own, so a fit on some columns takes them as they are)."""
    a, b = style_matrix(c)
    x = controlled.normalised_difference(a, b)
    return controlled.Matchups.of(c.model_a, c.model_b, scores, x)


INTERVALS = ("sandwich", "bootstrap")
"""How the 95% intervals are made: the sandwich (robust, closed-form: the arena's leaderboard
today) or the bootstrap (`rounds` resamples of the battles)."""

Progress = Callable[[int, int], None]
"""Called with (bootstrap rounds done, rounds in all) as the fits go."""


def battle_weights(m: controlled.Matchups) -> np.ndarray:
    """The arena's inverse-propensity weights of each battle (`ratings.pair_weights`),
    normalised to mean 1, as its controlled fits take them."""
    w = ratings.pair_weights(m.i, m.j)
    out: np.ndarray = w / w.mean()
    return out


def _bounds(values: np.ndarray, half: np.ndarray) -> list[list[float]]:
    return [[float(v - h), float(v + h)] for v, h in zip(values, half, strict=True)]


@dataclass
class _Fits:
    """What the three fits of a leaderboard give: each fit's ratings (Elo, in the order of
    the models) and, where made, their 95% intervals; the controlled fits' coefficients."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    bounds: dict[str, list[list[float]]] = field(default_factory=dict)
    coefficients: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _FitOptions:
    """How every fit of a leaderboard gets its intervals (see `leaderboard`)."""

    rounds: int
    seed: int
    jobs: int | str
    intervals: str
    reweight: bool


def _plain_fit(
    cells: ratings.Cells, fits: _Fits, opts: _FitOptions, tick: Callable[[int], None]
) -> None:
    """Bradley-Terry, with its sandwich or bootstrap intervals."""
    weights = ratings.pair_weights(cells.i, cells.j, cells.counts) if opts.reweight else None
    theta = ratings.bt_strengths(cells, weights=weights)
    fits.columns["bradley_terry"] = ratings.to_elo(theta)
    if opts.intervals == "sandwich":
        variance = ratings.bt_sandwich(cells, theta, weights)
        half = ratings.Z95 * ratings.ELO_PER_LOG_ODDS * np.sqrt(variance)
        fits.bounds["bradley_terry"] = _bounds(fits.columns["bradley_terry"], half)
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


def _controlled_fit(
    m: controlled.Matchups,
    name: str,
    features: tuple[str, ...],
    fits: _Fits,
    opts: _FitOptions,
    tick: Callable[[int], None],
) -> None:
    """A controlled fit (the length- or style-controlled Bradley-Terry) with its intervals
    and its coefficients'."""
    n = len(m.models)
    weights = battle_weights(m) if opts.reweight else None
    full = controlled.contextual_bt(m, weights)
    fits.columns[name] = ratings.SCALE * full[:n] + ratings.INIT
    coefficients: dict[str, dict[str, Any]] = {
        f: {"estimate": float(full[n + k])} for k, f in enumerate(features)
    }
    fits.coefficients[name] = coefficients
    if opts.intervals == "sandwich":
        half = ratings.Z95 * np.sqrt(controlled.controlled_sandwich(m, full, weights))
        fits.bounds[name] = _bounds(fits.columns[name], ratings.SCALE * half[:n])
        for k, f in enumerate(features):
            coefficients[f]["ci95"] = _bounds(full[n + k : n + k + 1], half[n + k : n + k + 1])[0]
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
            coefficients[f]["ci95"] = interval95(boot[:, n + k])


def leaderboard(
    c: Battles,
    *,
    rounds: int,
    seed: int,
    jobs: int | str = 1,
    intervals: str = "sandwich",
    reweight: bool = False,
    progress: Progress | None = None,
) -> Board:
    """Ratings of the battles `c`: Bradley-Terry, online Elo in arrival order, and the
    length- and style-controlled Bradley-Terry, each with a 95% interval (`intervals`:
    sandwich, or bootstrap with `rounds` rounds) and the arena's rank with uncertainty; the
    controlled fits' coefficients with intervals. `reweight`: each battle weighs
    1 / max(battles of its pair, 50) (the arena's inverse-propensity weights)."""
    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    order = ratings.arrival_order(c.timestamp)
    elo = ratings.online_elo(
        [c.model_a[k] for k in order], [c.model_b[k] for k in order], [scores[k] for k in order]
    )
    opts = _FitOptions(rounds=rounds, seed=seed, jobs=jobs, intervals=intervals, reweight=reweight)

    def tick(fit: int) -> Callable[[int], None]:
        return lambda done: progress(fit * rounds + done, 3 * rounds) if progress else None

    fits = _Fits()
    _plain_fit(cells, fits, opts, tick(0))
    matchups = style_matchups(c, scores)
    for fit, (name, cols) in enumerate(CONTROLLED, start=1):
        features = STYLE_FEATURES[cols]
        _controlled_fit(matchups.columns(cols), name, features, fits, opts, tick(fit))
    groups = ratings.components(cells)
    return Board(
        battles=len(c),
        coefficients=fits.coefficients,
        models=_rows(c, cells.models, elo, fits),
        separate_groups=groups if len(groups) > 1 else None,
    )


CONTROLLED: tuple[tuple[str, slice], ...] = (
    ("length_controlled", slice(0, 1)),
    ("style_controlled", slice(0, None)),
)
"""The controlled fits and the style features each takes."""


def _rows(c: Battles, models: list[str], elo: dict[str, float], fits: _Fits) -> list[ModelRow]:
    """The leaderboard's rows, best Bradley-Terry rating first, each rating with its interval
    and the arena's rank with uncertainty where intervals were made."""
    ranks = {
        name: ratings.rank_with_uncertainty([i[0] for i in iv], [i[1] for i in iv])
        for name, iv in fits.bounds.items()
    }
    per_model = Counter(c.model_a) + Counter(c.model_b)
    rows = []
    for k, m in enumerate(models):
        values: dict[str, Any] = {}
        for name, column in fits.columns.items():
            values[name] = float(column[k])
            if name in fits.bounds:
                values[f"{name}_ci95"] = fits.bounds[name][k]
                values[f"{name}_rank"] = ranks[name][k]
        rows.append(ModelRow(model=m, battles=per_model[m], online_elo=elo[m], **values))
    rows.sort(key=lambda r: (-r.bradley_terry, r.model))
    return rows


def pairwise(c: Battles, board: Board) -> list[PairRow]:
    """Every pair of models that met: battles, the observed score of the first (wins + half
    the ties, over battles) and what the Bradley-Terry ratings predict for it."""
    rating = {r.model: r.bradley_terry for r in board.models}
    met: dict[tuple[str, str], list[float]] = {}
    for a, b, w in zip(c.model_a, c.model_b, c.winner, strict=True):
        score = ratings.score(w)
        key, score = ((a, b), score) if a < b else ((b, a), 1 - score)
        met.setdefault(key, []).append(score)
    rows = []
    for (x, y), s in sorted(met.items()):
        predicted = ratings.expected_score(rating[x], rating[y])
        observed = sum(s) / len(s)
        rows.append(
            PairRow(
                model=x,
                opponent=y,
                battles=len(s),
                observed_score=observed,
                predicted_score=predicted,
                difference=observed - predicted,
                # How many standard errors apart (binomial, at the predicted rate).
                z=(observed - predicted) / math.sqrt(predicted * (1 - predicted) / len(s)),
            )
        )
    return rows


def intervals_text(intervals: str, rounds: int, seed: int) -> str:
    """How the 95% intervals were made, for the report's method."""
    if intervals == "sandwich":
        return (
            "sandwich (the arena's leaderboard today, arena-rank's default): the robust "
            "covariance H^-1 G H^-1 of each fit, H the Hessian of its loss, G the covariance "
            "of the per-battle gradients; rating +/- 1.96 standard errors"
        )
    if not rounds:
        return "none (bootstrap with 0 rounds)"
    return (
        f"bootstrap, {rounds} rounds, seed {seed}: for Bradley-Terry each a multinomial draw "
        "of the battles over the (model_a, model_b, outcome) cells, which is what resampling "
        "battles with replacement does to it; for the controlled fits the battles resampled "
        "with replacement, refitted by Newton steps from the full fit; 95% percentile intervals"
    )


def ratings_section(
    c: Battles,
    *,
    rounds: int,
    seed: int,
    jobs: int | str = 1,
    intervals: str = "sandwich",
    reweight: bool = False,
    progress: Progress | None = None,
) -> Ratings:
    """The report's ratings: the leaderboard of `c` (see `leaderboard` for the options), the
    method in words, the pairwise table."""
    board = leaderboard(
        c,
        rounds=rounds,
        seed=seed,
        jobs=jobs,
        intervals=intervals,
        reweight=reweight,
        progress=progress,
    )
    order = "by timestamp (stable on ties; a battle without one keeps its source position)"
    return Ratings(
        method={
            "scores": "model_a 1, model_b 0, every kind of tie 0.5 (half a win each way)",
            "online_elo": f"K=4, base 10, scale 400, initial 1000, battles in arrival order: "
            f"{order}",
            "bradley_terry": "maximum likelihood, Elo scale (400 per factor 10 of odds), mean 1000",
            "length_controlled": "Bradley-Terry with one feature, (tokens_a - tokens_b) / "
            "(tokens_a + tokens_b + 1) standardised; L2 penalty 0.5 as the arena's; "
            "rating = 400 r + 1000",
            "style_controlled": "the arena's style control: Bradley-Terry with four features, "
            "each (a - b) / (a + b + 1) standardised, for answer tokens, markdown headers, list "
            "items and bold spans (summed over turns); L2 penalty 0.5 as the arena's; "
            "rating = 400 r + 1000",
            "coefficients": "change in the log-odds of A winning per standard deviation of the "
            "feature",
            "rank": "the arena's rank with uncertainty: 1 + the number of models whose 95% "
            "interval lies entirely above this model's",
            "intervals": intervals_text(intervals, rounds, seed),
            "weights": (
                "inverse propensity, as the arena's reweighting: each battle weighs "
                "1 / max(battles of its pair, 50) (normalised to mean 1 in the controlled fits)"
                if reweight
                else "none: every battle counts once"
            ),
        },
        length_coefficient=board.coefficients["length_controlled"]["length"]["estimate"],
        length_coefficient_definition=(
            "change in the log-odds of A winning per standard deviation of "
            "(tokens_a - tokens_b) / (tokens_a + tokens_b + 1)"
        ),
        battles=board.battles,
        coefficients=board.coefficients,
        models=board.models,
        separate_groups=board.separate_groups,
        pairwise=pairwise(c, board),
    )
