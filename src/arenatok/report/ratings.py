"""Model ratings from pairwise votes, as the Chatbot Arena computes them.

Outcomes are scored for model A: 1 (A wins), 0 (B wins), 0.5 (any kind of tie: `tie`,
`tie (bothbad)`, `both_bad`, `tie (inconsistent)`: a tie counts as half a win each way).
Ratings are on the Elo scale: 400 points = a factor of 10 in the odds of winning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

SCALE = 400.0
BASE = 10.0
INIT = 1000.0

DECISIVE = {"model_a": 1.0, "model_b": 0.0}


def score(winner: str) -> float:
    """Model A's score for a vote label: 1, 0, or 0.5 for every kind of tie."""
    return DECISIVE.get(winner, 0.5)


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
) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry log-strengths (natural log, mean 0) by Newton's
    method; `ridge` is a vanishing L2 penalty that keeps models with no win (or no loss)
    finite. `counts` replaces the cells' counts (a bootstrap round)."""
    n_models = len(cells.models)
    w = cells.counts if counts is None else counts
    theta = np.zeros(n_models) if start is None else start.copy()
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
        hess = np.zeros((n_models, n_models))
        np.add.at(hess, (cells.i, cells.j), h)
        hess += hess.T
        diag = np.bincount(cells.i, h, n_models) + np.bincount(cells.j, h, n_models) + ridge
        hess[np.diag_indices(n_models)] = -diag
        step = np.linalg.solve(hess - 1e-12 * np.eye(n_models), -grad)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    centred: np.ndarray = theta - theta.mean()
    return centred


def to_elo(theta: np.ndarray) -> np.ndarray:
    """Natural-log strengths to the Elo scale (mean 1000)."""
    return SCALE * theta / math.log(BASE) + INIT


def bt_ratings(cells: Cells) -> dict[str, float]:
    """Bradley-Terry ratings on the Elo scale."""
    return dict(zip(cells.models, to_elo(bt_strengths(cells)).tolist(), strict=True))


def bt_bootstrap(
    cells: Cells, *, rounds: int = 1000, seed: int = 0, method: str = "cells"
) -> np.ndarray:
    """Ratings of `rounds` bootstrap resamples (rounds x models). Resampling the battles with
    replacement only changes the cell counts, so a round is one multinomial draw over the cells
    (method "cells"); method "rows" draws battle indices instead (the same distribution, for
    checking)."""
    rng = np.random.default_rng(seed)
    total = int(cells.counts.sum())
    full = bt_strengths(cells)
    out = np.empty((rounds, len(cells.models)))
    if method == "rows":
        row_cell = np.repeat(np.arange(len(cells.counts)), cells.counts.astype(np.int64))
    for r in range(rounds):
        if method == "cells":
            counts = rng.multinomial(total, cells.counts / total).astype(float)
        else:
            picked = row_cell[rng.integers(0, total, total)]
            counts = np.bincount(picked, minlength=len(cells.counts)).astype(float)
        out[r] = to_elo(bt_strengths(cells, counts, start=full))
    return out


STYLE_REG = 0.5
"""L2 penalty of the controlled fits, as the arena's (FastChat `fit_contextual_bt`, reg=0.5):
(STYLE_REG / 2) * |params|^2 added to the summed log-loss, on ratings and coefficients alike."""

ALPHA = math.log(BASE)
"""Ratings of the controlled fits are in log10-odds units (logit = ALPHA * (r_A - r_B) + ...),
so that rating = 400 * r + 1000 as in the arena's code."""


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


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The arena's style feature for counts a and b (battles x features): (a - b) / (a + b + 1),
    each column then standardised over the battles (mean 0, standard deviation 1; a constant
    column stays 0)."""
    d = (a - b) / (a + b + 1.0)
    sd = d.std(axis=0)
    out: np.ndarray = (d - d.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return out


@dataclass(frozen=True)
class Matchups:
    """Battles as model indices (i for model A, j for model B), scores, and features (battles x
    features) whose effect on the log-odds of A winning is fitted beside the ratings."""

    models: list[str]
    i: np.ndarray
    j: np.ndarray
    s: np.ndarray
    x: np.ndarray

    @classmethod
    def of(
        cls,
        model_a: Sequence[str],
        model_b: Sequence[str],
        scores: Sequence[float],
        features: np.ndarray,
    ) -> Matchups:
        models, i, j = model_indices(model_a, model_b)
        return cls(
            models,
            i,
            j,
            np.asarray(scores, dtype=float),
            np.asarray(features, dtype=float).reshape(len(model_a), -1),
        )

    def columns(self, which: slice) -> Matchups:
        """The same battles with only the features `which`."""
        return Matchups(self.models, self.i, self.j, self.s, self.x[:, which])

    def logits(self, params: np.ndarray) -> np.ndarray:
        """Per battle, the log-odds of A winning under `params` ([r..., beta...])."""
        n = len(self.models)
        out: np.ndarray = ALPHA * (params[self.i] - params[self.j]) + self.x @ params[n:]
        return out


def _loss(m: Matchups, w: np.ndarray, params: np.ndarray, reg: float) -> float:
    """The penalised negative log-likelihood that `contextual_bt` minimises."""
    z = m.logits(params)
    # -[s log sigmoid(z) + (1 - s) log sigmoid(-z)] = log(1 + e^z) - s z
    return float(w @ (np.logaddexp(0, z) - m.s * z) + reg / 2 * params @ params)


FAR = 0.5
"""A Newton step longer than this (in any parameter) is checked to lower the loss, and halved
until it does; shorter steps, near the optimum, are taken as they are."""


def contextual_bt(
    m: Matchups,
    weights: np.ndarray | None = None,
    *,
    start: np.ndarray | None = None,
    reg: float = STYLE_REG,
    tol: float = 1e-7,
) -> np.ndarray:
    """Bradley-Terry with features (the arena's style control): P(A wins) =
    sigmoid(ALPHA * (r_A - r_B) + x . beta), fitted by penalised maximum likelihood (see
    STYLE_REG) with Newton's method; returns [r..., beta...]. `weights`: how often each battle
    counts (a bootstrap round). Newton converges quadratically (error_next ~ C error^2): with
    the last two step sizes d1, d2 it estimates the error left as d2^3 / d1^2 and stops when
    that is under `tol` (log10-odds; 1e-7 is 4e-5 Elo), or when a step is. The Hessian is
    built from per-model sums (bincounts): a step costs O(battles x features), not
    O(battles x models)."""
    n, k = len(m.models), m.x.shape[1]
    w = np.ones(len(m.s)) if weights is None else weights
    params = np.zeros(n + k) if start is None else start.copy()
    pair = m.i * n + m.j
    xt = np.ascontiguousarray(m.x.T)
    # Per battle: the residual, the curvature, and the curvature times each feature; summed
    # per model as model A and as model B with one bincount each.
    width = 2 + k
    rows_i = (np.arange(width)[:, None] * n + m.i).ravel()
    rows_j = (np.arange(width)[:, None] * n + m.j).ravel()
    per_battle = np.empty((width, len(m.s)))
    hess = np.empty((n + k, n + k))
    previous: float | None = None
    for _ in range(100):
        z = m.logits(params)
        with np.errstate(over="ignore"):  # exp overflows to inf: p is 0, as it should be
            p = 1 / (1 + np.exp(-z))
        h = w * p * (1 - p)
        np.multiply(w, m.s - p, out=per_battle[0])
        per_battle[1] = h
        np.multiply(h, xt, out=per_battle[2:])
        flat = per_battle.ravel()
        as_a = np.bincount(rows_i, flat, n * width).reshape(width, n)
        as_b = np.bincount(rows_j, flat, n * width).reshape(width, n)
        diff = as_a - as_b
        grad = np.concatenate([ALPHA * diff[0], xt @ per_battle[0]]) - reg * params
        pairs = np.bincount(pair, h, n * n).reshape(n, n)
        rr = -(pairs + pairs.T)
        rr[np.diag_indices(n)] = as_a[1] + as_b[1]
        hess[:n, :n] = ALPHA**2 * rr
        hess[:n, n:] = ALPHA * diff[2:].T
        hess[n:, :n] = ALPHA * diff[2:]
        hess[n:, n:] = xt @ per_battle[2:].T
        hess[np.diag_indices(n + k)] += reg
        step = np.linalg.solve(hess, grad)
        if np.max(np.abs(step)) > FAR:
            loss = _loss(m, w, params, reg)
            for _halving in range(30):
                if _loss(m, w, params + step, reg) <= loss:
                    break
                step /= 2
        params = params + step
        size = float(np.max(np.abs(step)))
        if size < tol or (previous is not None and size**3 < tol * previous**2):
            break
        previous = size
    return params


def controlled_rounds(
    m: Matchups,
    full: np.ndarray,
    seeds: Sequence[np.random.SeedSequence],
    reg: float = STYLE_REG,
    tol: float = 1e-6,
) -> np.ndarray:
    """One bootstrap round per seed (rounds x params): the battles resampled with replacement
    and refitted by Newton steps from the full-data fit (`full`) to `tol` (see
    `contextual_bt`; 1e-6 log10-odds is 4e-4 Elo: usually two steps)."""
    n = len(m.s)
    out = np.empty((len(seeds), len(full)))
    for r, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        drawn = np.flatnonzero(w)  # about 63% of the battles; the others weigh nothing
        sample = Matchups(m.models, m.i[drawn], m.j[drawn], m.s[drawn], m.x[drawn])
        out[r] = contextual_bt(sample, w[drawn], start=full, reg=reg, tol=tol)
    return out


PARALLEL_WORK = 5_000_000
"""Battles x rounds from which `jobs="auto"` runs the bootstrap in worker processes (below
it, starting them costs more than it saves)."""


def controlled_bootstrap(
    m: Matchups,
    full: np.ndarray,
    *,
    rounds: int,
    seed: int,
    reg: float = STYLE_REG,
    tol: float = 1e-6,
    jobs: int | str = 1,
) -> np.ndarray:
    """`rounds` bootstrap refits (rounds x params; see `controlled_rounds`). Round r draws from
    its own seed (`SeedSequence(seed).spawn`), so the result does not depend on `jobs`: how
    many worker processes share the rounds ("auto": one per core for large inputs)."""
    from arenatok.workers import default_workers, process_map

    seeds = np.random.SeedSequence(seed).spawn(rounds)
    if jobs == "auto":
        jobs = default_workers() if len(m.s) * rounds >= PARALLEL_WORK else 1
    if int(jobs) <= 1 or rounds < 2:
        return controlled_rounds(m, full, seeds, reg, tol)

    chunks = [list(c) for c in np.array_split(np.array(seeds, dtype=object), int(jobs))]
    parts = process_map(partial(controlled_rounds, m, full, reg=reg, tol=tol), chunks, int(jobs))
    return np.concatenate(list(parts))


def rank_with_uncertainty(lower: Sequence[float], upper: Sequence[float]) -> list[int]:
    """The arena's rank: 1 + the number of models whose interval lies entirely above this
    model's (their lower bound above its upper bound)."""
    lo = np.asarray(lower)
    return [1 + int((lo > hi).sum()) for hi in upper]
