"""Model ratings from pairwise votes, as the Chatbot Arena computes them.

Votes are scored for model A (`battle.SCORE_A`): 1 (A wins), 0 (B wins), 0.5 (a `tie` or a
`tie (bothbad)`: a tie counts as half a win each way).
Ratings are on the Elo scale: 400 points = a factor of 10 in the odds of winning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist
from typing import TypeVar

import numpy as np
from scipy import sparse

from arenatok.pipeline.battle import SCORE_A, Vote
from arenatok.report.separation import ABOVE, BELOW, RATED, all_rated, standings
from arenatok.report.solve import (
    DENSE_MODELS,
    FLAT,
    Pattern,
    dense_laplacian,
    forcing,
    sandwich_variances,
    solve_spd,
)

SCALE = 400.0
BASE = 10.0
INIT = 1000.0


def score(winner: Vote) -> float:
    """Model A's score for a vote: 1, 0, or 0.5 for every kind of tie (`battle.SCORE_A`)."""
    return SCORE_A[winner]


def expected_score(ra: float, rb: float) -> float:
    """A's expected score against B on the Elo scale: 1 / (1 + 10^((rb - ra) / 400))."""
    return float(1 / (1 + BASE ** ((rb - ra) / SCALE)))


def model_indices(
    model_a: Sequence[str], model_b: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The models (sorted) and each battle's index of model A and of model B among them."""
    models = sorted(set(model_a) | set(model_b))
    index = {m: n for n, m in enumerate(models)}
    return (
        models,
        np.fromiter((index[m] for m in model_a), np.int64, len(model_a)),
        np.fromiter((index[m] for m in model_b), np.int64, len(model_b)),
    )


def online_elo(
    model_a: Sequence[str],
    model_b: Sequence[str],
    scores: Sequence[float],
    *,
    k: float = 4.0,
) -> dict[str, float]:
    """Online Elo over the battles in order (K=4, base 10, scale 400, initial 1000)."""
    rating: dict[str, float] = {}
    for a, b, s in zip(model_a, model_b, scores, strict=True):
        ra, rb = rating.setdefault(a, INIT), rating.setdefault(b, INIT)
        expected = expected_score(ra, rb)
        rating[a] = ra + k * (s - expected)
        rating[b] = rb - k * (s - expected)
    return rating


@dataclass(frozen=True)
class Cells:
    """Battles reduced to what Bradley-Terry depends on: for each (model i, model j, score)
    cell, how many battles fell in it."""

    models: list[str]
    i: np.ndarray
    j: np.ndarray
    s: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, model_a: Sequence[str], model_b: Sequence[str], scores: Sequence[float]) -> Cells:
        models, i, j = model_indices(model_a, model_b)
        keys: dict[tuple[int, int, float], int] = {}
        for a, b, s in zip(i.tolist(), j.tolist(), scores, strict=True):
            key = (a, b, s)
            keys[key] = keys.get(key, 0) + 1
        ordered = sorted(keys)
        return cls(
            models,
            np.array([k[0] for k in ordered], dtype=np.int64),
            np.array([k[1] for k in ordered], dtype=np.int64),
            np.array([k[2] for k in ordered], dtype=float),
            np.array([keys[k] for k in ordered], dtype=float),
        )


def bt_strengths(
    cells: Cells,
    counts: np.ndarray | None = None,
    *,
    start: np.ndarray | None = None,
    ridge: float = 1e-6,
    weights: np.ndarray | None = None,
    pattern: Pattern | None = None,
) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry log-strengths (natural log, mean 0) by Newton's
    method; `ridge` is a vanishing L2 penalty that keeps models with no win (or no loss)
    finite. `counts` replaces the cells' counts (a bootstrap round); `weights` weighs each
    cell's battles (`pair_weights`). Each step solves a graph Laplacian: dense up to
    `solve.DENSE_MODELS` models, sparse beyond (`pattern`: the cells' `solve.Pattern`, made
    here if not given)."""
    n_models = len(cells.models)
    w = cells.counts if counts is None else counts
    if weights is not None:
        w = w * weights
    theta = np.zeros(n_models) if start is None else start.copy()
    previous = math.inf
    for _ in range(100):
        with np.errstate(over="ignore"):  # exp overflows to inf: p is 0, as it should be
            p = 1 / (1 + np.exp(theta[cells.j] - theta[cells.i]))  # P(i beats j)
        resid = w * (cells.s - p)
        grad = (
            np.bincount(cells.i, resid, n_models)
            - np.bincount(cells.j, resid, n_models)
            - ridge * theta
        )
        h = w * p * (1 - p)
        if n_models > DENSE_MODELS:
            pattern = pattern or Pattern(n_models, cells.i, cells.j)
            lap = pattern.laplacian(h, ridge + 1e-12)
            step = solve_spd(lap.dot, lap.diagonal(), grad, forcing(previous))
        else:
            hess = np.zeros((n_models, n_models))
            np.add.at(hess, (cells.i, cells.j), h)
            hess += hess.T
            diag = np.bincount(cells.i, h, n_models) + np.bincount(cells.j, h, n_models) + ridge
            hess[np.diag_indices(n_models)] = -diag
            step = np.linalg.solve(hess - 1e-12 * np.eye(n_models), -grad)
        theta = theta + step
        size = float(np.max(np.abs(step)))
        if size < 1e-9:
            break
        # Sparse: stop, as `controlled.contextual_bt` does, once Newton's quadratic
        # convergence puts the error left (size^3 / previous^2) under the tolerance.
        if n_models > DENSE_MODELS and previous < math.inf and size**3 < 1e-9 * previous**2:
            break
        previous = size
    centred: np.ndarray = theta - theta.mean()
    return centred


def to_elo(theta: np.ndarray) -> np.ndarray:
    """Natural-log strengths to the Elo scale (mean 1000)."""
    return SCALE * theta / math.log(BASE) + INIT


ELO_PER_LOG_ODDS = SCALE / math.log(BASE)
"""Elo points per unit of natural-log odds."""


def bt_ratings(cells: Cells, weights: np.ndarray | None = None) -> dict[str, float]:
    """Bradley-Terry ratings on the Elo scale."""
    theta = bt_strengths(cells, weights=weights)
    return dict(zip(cells.models, to_elo(theta).tolist(), strict=True))


MIN_PAIR_WEIGHT = 50
"""Pairs with fewer battles weigh as if they had this many (the arena's `min_pair_count`)."""


def pair_weights(i: np.ndarray, j: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """The arena's inverse-propensity weights: each battle weighs 1 / max(battles of its pair
    (A against B or B against A), MIN_PAIR_WEIGHT), so that much-sampled pairs do not drown
    the others. `counts`: how many battles each (i, j) entry stands for (cells)."""
    n = int(max(i.max(initial=0), j.max(initial=0))) + 1
    key = np.minimum(i, j) * n + np.maximum(i, j)
    per = np.ones(len(i)) if counts is None else counts
    _, inverse = np.unique(key, return_inverse=True)
    pair_total = np.bincount(inverse, per)[inverse]
    out: np.ndarray = 1.0 / np.maximum(pair_total, MIN_PAIR_WEIGHT)
    return out


def bt_bootstrap(
    cells: Cells,
    *,
    rounds: int = 1000,
    seed: int = 0,
    method: str = "cells",
    weights: np.ndarray | None = None,
    jobs: int | str = 1,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Ratings of `rounds` bootstrap resamples (rounds x models). Resampling the battles with
    replacement only changes the cell counts, so a round is one multinomial draw over the cells
    (method "cells"); method "rows" draws battle indices instead (the same distribution, for
    checking). Each round is refitted by Newton steps from the full fit; `weights` (fixed, as
    the arena's) multiply the drawn counts. The draws are made here, one after another; with
    `jobs` > 1 worker processes fit them, so the numbers do not depend on `jobs`. `progress`
    is called with the rounds done."""
    rng = np.random.default_rng(seed)
    total = int(cells.counts.sum())
    full = bt_strengths(cells, weights=weights)
    if method == "rows":
        row_cell = np.repeat(np.arange(len(cells.counts)), cells.counts.astype(np.int64))
    draws = np.empty((rounds, len(cells.counts)), dtype=np.int32)
    for r in range(rounds):
        if method == "cells":
            draws[r] = rng.multinomial(total, cells.counts / total)
        else:
            draws[r] = np.bincount(
                row_cell[rng.integers(0, total, total)], minlength=len(cells.counts)
            )
    jobs = bootstrap_jobs(jobs, len(cells.counts), rounds, len(cells.models))
    chunks = np.array_split(draws, max(1, min(jobs * 4, rounds))) if rounds else []
    pattern = (
        Pattern(len(cells.models), cells.i, cells.j) if len(cells.models) > DENSE_MODELS else None
    )
    parts = fit_in_parts(partial(_bt_rounds, cells, full, weights, pattern), chunks, jobs, progress)
    return np.concatenate(parts) if parts else np.empty((0, len(cells.models)))


PARALLEL_WORK = 5_000_000
"""Cells (or battles) x rounds from which `jobs="auto"` fits bootstrap rounds in worker
processes (below it, starting them costs more than it saves)."""


def bootstrap_jobs(jobs: int | str, items: int, rounds: int, models: int) -> int:
    """How many processes fit the bootstrap rounds: `jobs`, or for "auto" one per core when
    items (cells or battles) x rounds, scaled by models / DENSE_MODELS beyond that many models,
    reaches PARALLEL_WORK, else 1."""
    from arenatok.runtime.workers import default_workers

    if jobs != "auto":
        return int(jobs)
    work = items * rounds * max(1, models // DENSE_MODELS)
    return default_workers() if work >= PARALLEL_WORK else 1


Chunk = TypeVar("Chunk")


def fit_in_parts(
    fit: Callable[[Chunk], np.ndarray],
    chunks: Sequence[Chunk],
    jobs: int,
    progress: Callable[[int], None] | None,
) -> list[np.ndarray]:
    """fit(chunk) for each chunk of rounds, in order (in `jobs` worker processes when jobs > 1);
    `progress` is called with the rounds done after each."""
    from arenatok.runtime.workers import process_map

    parts: list[np.ndarray] = []
    for part in process_map(fit, chunks, jobs):
        parts.append(part)
        if progress is not None:
            progress(sum(len(x) for x in parts))
    return parts


def _bt_rounds(
    cells: Cells,
    full: np.ndarray,
    weights: np.ndarray | None,
    pattern: Pattern | None,
    draws: np.ndarray,
) -> np.ndarray:
    """The Elo ratings of each round of drawn cell counts, refitted from `full`; a round
    that leaves a model without a rating is `_separated_round`."""
    out = np.empty((len(draws), len(cells.models)))
    for r, counts in enumerate(draws):
        drawn = counts.astype(float)
        if not all_rated(len(cells.models), cells.i, cells.j, cells.s, drawn):
            place = standings(len(cells.models), cells.i, cells.j, cells.s, drawn).place
            out[r] = _separated_round(cells, full, weights, pattern, drawn, np.array(place))
            continue
        theta = bt_strengths(cells, drawn, start=full, weights=weights, pattern=pattern)
        out[r] = to_elo(theta)
    return out


def _separated_round(
    cells: Cells,
    full: np.ndarray,
    weights: np.ndarray | None,
    pattern: Pattern | None,
    drawn: np.ndarray,
    place: np.ndarray,
) -> np.ndarray:
    """A bootstrap round in which some models have no rating (`report.separation`: the
    draws' own standings `place`): the rated models fitted on the drawn battles among them,
    their mean kept at its value in the full fit (so that the round's scale is the full
    fit's); the others +inf (above), -inf (below) or NaN (open)."""
    rated = place == RATED
    out = np.full(len(cells.models), np.nan)
    if rated.any():
        among = np.where(rated[cells.i] & rated[cells.j], drawn, 0.0)
        theta = bt_strengths(cells, among, start=full, weights=weights, pattern=pattern)
        out[rated] = to_elo(theta + full[rated].mean() - theta[rated].mean())[rated]
    out[place == ABOVE] = np.inf
    out[place == BELOW] = -np.inf
    return out


SANDWICH_RIDGE = 1e-5
"""What the sandwich adds to the Hessian's diagonal: times the battles when they are not
weighted (the arena's `hessian_reg`)."""


def bt_sandwich(cells: Cells, theta: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per model, the sandwich variance of its log-strength (natural log units), as the arena
    computes it: H^-1 G H^-1, H the Hessian of the weighted log-loss (plus SANDWICH_RIDGE on
    the diagonal, times the battles when unweighted), G the covariance of the per-battle
    gradients; NaN where not estimable (`solve.sandwich_variances`, `blind`)."""
    n = len(cells.models)
    opt = cells.counts if weights is None else cells.counts * weights
    with np.errstate(over="ignore"):
        p = 1 / (1 + np.exp(theta[cells.j] - theta[cells.i]))
    hess = dense_laplacian(n, cells.i, cells.j, opt * p * (1 - p))
    ridge = SANDWICH_RIDGE * (cells.counts.sum() if weights is None else 1.0)
    hess[np.diag_indices(n)] += ridge
    meat = dense_laplacian(n, cells.i, cells.j, (opt * (cells.s - p)) ** 2 / cells.counts)
    expected = dense_laplacian(n, cells.i, cells.j, opt**2 / cells.counts * p * (1 - p))
    out = sandwich_variances(hess, meat, expected)
    out[blind(cells, p)] = np.nan
    return out


def blind(cells: Cells, p: np.ndarray) -> np.ndarray:
    """Per model, whether the sandwich is blind to where it stands: G sees only the battles
    whose outcome differs from the fit's prediction p (a squared residual over solve.FLAT
    times p (1 - p); a tie between models rated equal is scored exactly as predicted), so it
    places a model only within the models such battles join it to. A model outside a
    majority of its group (the models its battles join it to) so joined is blind."""
    from scipy.sparse.csgraph import connected_components

    n = len(cells.models)
    varies = (cells.s - p) ** 2 > FLAT * p * (1 - p)

    def groups(keep: np.ndarray) -> np.ndarray:
        graph = sparse.csr_matrix(
            (np.ones(int(keep.sum())), (cells.i[keep], cells.j[keep])), (n, n)
        )
        label: np.ndarray = connected_components(graph, directed=False)[1]
        return label

    group, seen = groups(np.ones(len(cells.i), dtype=bool)), groups(varies)
    pairs, count = np.unique(np.stack([group, seen]), axis=1, return_counts=True)
    size = np.bincount(group, minlength=n)
    major = pairs[:, 2 * count > size[pairs[0]]]  # (group, joined set) of each majority
    out: np.ndarray = ~np.isin(group * n + seen, major[0] * n + major[1])
    return out


Z95 = NormalDist().inv_cdf(0.975)
"""The normal quantile of a two-sided 95% interval (1.96)."""


def components(cells: Cells) -> list[list[str]]:
    """The models in groups that battled each other (directly or through others), the largest
    group first: ratings of models in different groups are not comparable."""
    from scipy.sparse.csgraph import connected_components

    n = len(cells.models)
    graph = sparse.csr_matrix((np.ones(len(cells.i)), (cells.i, cells.j)), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    groups = [[m for m, g in zip(cells.models, label, strict=True) if g == k] for k in range(count)]
    return sorted(groups, key=lambda g: (-len(g), g))


def arrival_order(timestamps: Sequence[float | None]) -> list[int]:
    """The order in which the battles happened: by timestamp, stable on ties; a battle without
    a timestamp keeps its place after the battle before it in the source (it takes that
    battle's time; at the start, the earliest). Source order when none has a timestamp."""
    known = [t for t in timestamps if t is not None]
    last = min(known) if known else 0.0
    keys = []
    for t in timestamps:
        last = last if t is None else t
        keys.append(last)
    return sorted(range(len(keys)), key=keys.__getitem__)


def rank_with_uncertainty(lower: Sequence[float], upper: Sequence[float]) -> list[int]:
    """The arena's rank: 1 + the number of models whose interval lies entirely above this
    model's (their lower bound above its upper bound)."""
    lo = np.asarray(lower)
    return [1 + int((lo > hi).sum()) for hi in upper]
