"""Synthetic battles for the ratings: models of planted strengths, shared by
`bench_ratings.py` and the tests that compare the rating solvers at many models."""

from __future__ import annotations

import numpy as np

from arenatok.dataset.built import Battles


def synthetic(models: int, battles: int, seed: int = 0) -> Battles:
    """Battles between models of planted strengths (pairs drawn uniformly), 10% ties, answer
    lengths and markdown counts drawn at random."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, models)
    i = rng.integers(0, models, battles)
    j = rng.integers(0, models - 1, battles)
    j[j >= i] += 1
    p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
    u = rng.random(battles)
    winner = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "model_a", "model_b"))
    names = [f"model-{k:04d}" for k in range(models)]
    style = rng.poisson([1, 4, 2], (2 * battles, 3)).tolist()
    return Battles(
        model_a=[names[k] for k in i],
        model_b=[names[k] for k in j],
        winner=winner.tolist(),
        timestamp=[None] * battles,
        output_a=rng.integers(1, 1500, battles).tolist(),
        output_b=rng.integers(1, 1500, battles).tolist(),
        style_a=[tuple(x) for x in style[:battles]],
        style_b=[tuple(x) for x in style[battles:]],
    )
