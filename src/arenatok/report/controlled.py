"""The controlled fits (the arena's style control): Bradley-Terry with features, P(A wins) =
sigmoid(ALPHA * (r_A - r_B) + x . beta), fitted by penalised maximum likelihood with Newton's
method (`contextual_bt`), its bootstrap (`controlled_bootstrap`) and its sandwich intervals
(`controlled_sandwich`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from arenatok.report.ratings import BASE, bootstrap_jobs, fit_in_parts, model_indices
from arenatok.report.solve import (
    DENSE_MODELS,
    Pattern,
    dense_laplacian,
    forcing,
    sandwich_variances,
    singular,
    solve_spd,
)

STYLE_REG = 0.5
"""L2 penalty of the controlled fits, as the arena's (FastChat `fit_contextual_bt`, reg=0.5):
(STYLE_REG / 2) * |params|^2 added to the summed log-loss, on ratings and coefficients alike."""

ALPHA = math.log(BASE)
"""Ratings of the controlled fits are in log10-odds units (logit = ALPHA * (r_A - r_B) + ...),
so that rating = 400 * r + 1000 as in the arena's code."""


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
    pattern: Pattern | None = None,
) -> np.ndarray:
    """Bradley-Terry with features (the arena's style control): P(A wins) =
    sigmoid(ALPHA * (r_A - r_B) + x . beta), fitted by penalised maximum likelihood (see
    STYLE_REG) with Newton's method; returns [r..., beta...]. `weights`: how often each battle
    counts (a bootstrap round). Newton converges quadratically (error_next ~ C error^2): with
    the last two step sizes d1, d2 it estimates the error left as d2^3 / d1^2 and stops when
    that is under `tol` (log10-odds; 1e-7 is 4e-5 Elo), or when a step is. The Hessian is
    built from per-model sums (bincounts): a step costs O(battles x features), not
    O(battles x models); beyond `solve.DENSE_MODELS` it is solved sparse (`pattern`: the
    battles' `solve.Pattern`, made here if not given)."""
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
        if n + k > DENSE_MODELS:
            pattern = pattern or Pattern(n, m.i, m.j)
            rtol = forcing(math.inf if previous is None else previous)
            step = _sparse_step(pattern, m, h, diff[2:], per_battle[2:], reg, grad, rtol)
            params, previous, done = _advance(m, w, params, step, reg, tol, previous)
            if done:
                break
            continue
        pairs = np.bincount(pair, h, n * n).reshape(n, n)
        rr = -(pairs + pairs.T)
        rr[np.diag_indices(n)] = as_a[1] + as_b[1]
        hess[:n, :n] = ALPHA**2 * rr
        hess[:n, n:] = ALPHA * diff[2:].T
        hess[n:, :n] = ALPHA * diff[2:]
        hess[n:, n:] = xt @ per_battle[2:].T
        hess[np.diag_indices(n + k)] += reg
        step = np.linalg.solve(hess, grad)
        params, previous, done = _advance(m, w, params, step, reg, tol, previous)
        if done:
            break
    return params


def _advance(
    m: Matchups,
    w: np.ndarray,
    params: np.ndarray,
    step: np.ndarray,
    reg: float,
    tol: float,
    previous: float | None,
) -> tuple[np.ndarray, float, bool]:
    """One Newton step taken (a long one halved until the loss falls, see FAR): the new
    parameters, the step's size, and whether the fit has converged (see `contextual_bt`)."""
    if np.max(np.abs(step)) > FAR:
        loss = _loss(m, w, params, reg)
        for _halving in range(30):
            if _loss(m, w, params + step, reg) <= loss:
                break
            step /= 2
    size = float(np.max(np.abs(step)))
    done = size < tol or (previous is not None and size**3 < tol * previous**2)
    return params + step, size, done


def _sparse_step(
    pattern: Pattern,
    m: Matchups,
    h: np.ndarray,
    cross: np.ndarray,
    weighted_x: np.ndarray,
    reg: float,
    grad: np.ndarray,
    rtol: float,
) -> np.ndarray:
    """The Newton step of `contextual_bt` solved sparse: its Hessian is ALPHA^2 times the
    Laplacian of the battles weighted by their curvature `h`, bordered by the features
    (`cross`: per model, the curvature times the features as model A less as model B;
    `weighted_x`: the curvature times each feature), `reg` on the diagonal; to a relative
    residual of `rtol`."""
    n = len(m.models)
    rr = pattern.laplacian(ALPHA**2 * h, reg)
    border = ALPHA * cross.T
    ff = m.x.T @ weighted_x.T + reg * np.eye(len(cross))

    def product(v: np.ndarray) -> np.ndarray:
        return np.concatenate([rr @ v[:n] + border @ v[n:], border.T @ v[:n] + ff @ v[n:]])

    return solve_spd(product, np.concatenate([rr.diagonal(), np.diag(ff)]), grad, rtol)


def controlled_rounds(
    m: Matchups,
    full: np.ndarray,
    seeds: Sequence[np.random.SeedSequence],
    reg: float = STYLE_REG,
    tol: float = 1e-6,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """One bootstrap round per seed (rounds x params): the battles resampled with replacement
    and refitted by Newton steps from the full-data fit (`full`) to `tol` (see
    `contextual_bt`; 1e-6 log10-odds is 4e-4 Elo: usually two steps); `weights` (fixed, as
    the arena's) multiply the drawn counts."""
    n = len(m.s)
    out = np.empty((len(seeds), len(full)))
    # Many models: every battle stays, those not drawn weigh nothing, and the sparsity of
    # the Hessian is worked out once.
    pattern = Pattern(len(m.models), m.i, m.j) if len(full) > DENSE_MODELS else None
    for r, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        if weights is not None:
            w *= weights
        if pattern is not None:
            out[r] = contextual_bt(m, w, start=full, reg=reg, tol=tol, pattern=pattern)
            continue
        drawn = np.flatnonzero(w)  # about 63% of the battles; the others weigh nothing
        sample = Matchups(m.models, m.i[drawn], m.j[drawn], m.s[drawn], m.x[drawn])
        out[r] = contextual_bt(sample, w[drawn], start=full, reg=reg, tol=tol)
    return out


def controlled_bootstrap(
    m: Matchups,
    full: np.ndarray,
    *,
    rounds: int,
    seed: int,
    reg: float = STYLE_REG,
    tol: float = 1e-6,
    jobs: int | str = 1,
    weights: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """`rounds` bootstrap refits (rounds x params; see `controlled_rounds`). Round r draws from
    its own seed (`SeedSequence(seed).spawn`), so the result does not depend on `jobs`: how
    many worker processes share the rounds ("auto": one per core for large inputs).
    `progress` is called with the rounds done."""
    seeds = np.random.SeedSequence(seed).spawn(rounds)
    jobs = bootstrap_jobs(jobs, len(m.s), rounds, len(m.models))
    pieces = max(1, min(rounds, 4 * jobs, -(-rounds // 10)))
    chunks = [list(c) for c in np.array_split(np.array(seeds, dtype=object), pieces)]
    fit = partial(controlled_rounds, m, full, reg=reg, tol=tol, weights=weights)
    parts = fit_in_parts(fit, chunks, jobs, progress)
    return np.concatenate(parts) if parts else np.empty((0, len(full)))


def _outer_sum(m: Matchups, q: np.ndarray) -> np.ndarray:
    """sum_b q_b v_b v_b^T over the battles, v_b = [ALPHA (u_A - u_B), x_b] the gradient of
    battle b's logit in the parameters [r..., beta...] (dense)."""
    n, k = len(m.models), m.x.shape[1]
    out = np.zeros((n + k, n + k))
    out[:n, :n] = ALPHA**2 * dense_laplacian(n, m.i, m.j, q)
    qx = q[:, None] * m.x
    cross = np.zeros((n, k))
    np.add.at(cross, m.i, qx)
    np.subtract.at(cross, m.j, qx)
    out[:n, n:] = ALPHA * cross
    out[n:, :n] = ALPHA * cross.T
    out[n:, n:] = m.x.T @ qx
    return out


def controlled_sandwich(
    m: Matchups,
    params: np.ndarray,
    weights: np.ndarray | None = None,
    reg: float = STYLE_REG,
) -> np.ndarray:
    """Per parameter ([r..., beta...], log10-odds units), its sandwich variance: H^-1 G H^-1,
    H the Hessian of the penalised loss `contextual_bt` minimises, G the covariance of the
    per-battle gradients about their mean (which is the penalty's gradient at the fit); NaN
    where not estimable (`solve.sandwich_variances`), everywhere where G is singular
    (`solve.singular`: fewer battles than parameters, say)."""
    w = np.ones(len(m.s)) if weights is None else weights
    z = m.logits(params)
    with np.errstate(over="ignore"):
        p = 1 / (1 + np.exp(-z))
    hess = _outer_sum(m, w * p * (1 - p))
    hess[np.diag_indices(len(params))] += reg
    pull = reg * params  # the sum of the per-battle gradients at the fit
    meat = _outer_sum(m, (w * (m.s - p)) ** 2) - np.outer(pull, pull) / len(m.s)
    expected = _outer_sum(m, w**2 * p * (1 - p))
    if singular(meat, expected):
        return np.full(len(params), np.nan)
    return sandwich_variances(hess, meat, expected)
