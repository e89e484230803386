"""Model ratings from pairwise votes, as the Chatbot Arena computes them.

Outcomes are scored for model A: 1 (A wins), 0 (B wins), 0.5 (any kind of tie: `tie`,
`tie (bothbad)`, `both_bad`, `tie (inconsistent)`: a tie counts as half a win each way).
Ratings are on the Elo scale: 400 points = a factor of 10 in the odds of winning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SCALE = 400.0
BASE = 10.0
INIT = 1000.0

DECISIVE = {"model_a": 1.0, "model_b": 0.0}


def score(winner: str) -> float:
    """Model A's score for a vote label: 1, 0, or 0.5 for every kind of tie."""
    return DECISIVE.get(winner, 0.5)


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
        expected = 1 / (1 + BASE ** ((rb - ra) / SCALE))
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
        models = sorted(set(model_a) | set(model_b))
        index = {m: n for n, m in enumerate(models)}
        keys: dict[tuple[int, int, float], int] = {}
        for a, b, s in zip(model_a, model_b, scores, strict=True):
            key = (index[a], index[b], s)
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


def length_controlled(
    model_a: Sequence[str],
    model_b: Sequence[str],
    scores: Sequence[float],
    length_a: Sequence[int],
    length_b: Sequence[int],
    *,
    ridge: float = 1e-6,
) -> dict[str, Any]:
    """Bradley-Terry with the response-length difference as a feature (the arena's style
    control): P(A wins) = sigmoid(theta_A - theta_B + gamma * z), where z is the normalised
    difference (len_a - len_b) / (len_a + len_b), standardised over the battles. Returns the
    ratings (Elo scale) and gamma (per standard deviation of z)."""
    models = sorted(set(model_a) | set(model_b))
    index = {m: n for n, m in enumerate(models)}
    i = np.array([index[m] for m in model_a])
    j = np.array([index[m] for m in model_b])
    s = np.asarray(scores, dtype=float)
    la, lb = np.asarray(length_a, dtype=float), np.asarray(length_b, dtype=float)
    total = la + lb
    d = np.divide(la - lb, total, out=np.zeros_like(total), where=total > 0)
    z = (d - d.mean()) / (d.std() or 1.0)
    n = len(models)
    x = np.zeros((len(s), n + 1))
    x[np.arange(len(s)), i] += 1
    x[np.arange(len(s)), j] -= 1
    x[:, n] = z
    beta = np.zeros(n + 1)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ beta)))
        grad = x.T @ (s - p) - ridge * beta
        hess = -(x.T * (p * (1 - p))) @ x - ridge * np.eye(n + 1)
        step = np.linalg.solve(hess - 1e-12 * np.eye(n + 1), -grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    theta = beta[:n] - beta[:n].mean()
    return {
        "ratings": dict(zip(models, to_elo(theta).tolist(), strict=True)),
        "length_coefficient": float(beta[n]),
        "length_coefficient_definition": (
            "change in the log-odds of A winning per standard deviation of "
            "(tokens_a - tokens_b) / (tokens_a + tokens_b)"
        ),
    }
