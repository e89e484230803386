"""The report's ratings: the leaderboard (online Elo, Bradley-Terry with bootstrap intervals,
the style-controlled fit), the pairwise table, and the ratings section.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from arenatok.dataset.built import Battles
from arenatok.report import ratings
from arenatok.style import FEATURES

STYLE_FEATURES = ("length", *FEATURES)
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


def style_matchups(c: Battles, scores: Sequence[float]) -> ratings.Matchups:
    """The battles with every style feature, as the arena normalises them (each column
    standardised on its own, so a fit on some columns takes them as they are)."""
    a, b = style_matrix(c)
    x = ratings.normalised_difference(a, b)
    return ratings.Matchups.of(c.model_a, c.model_b, scores, x)


def leaderboard(c: Battles, *, rounds: int, seed: int, jobs: int | str = 1) -> dict[str, Any]:
    """Ratings of the battles `c`: Bradley-Terry, online Elo in arrival order, and the
    length- and style-controlled Bradley-Terry, each with a bootstrap interval and the arena's
    rank with uncertainty; the controlled fits' coefficients with intervals."""
    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    models = cells.models
    n = len(models)
    order = ratings.arrival_order(c.timestamp)
    elo = ratings.online_elo(
        [c.model_a[k] for k in order], [c.model_b[k] for k in order], [scores[k] for k in order]
    )
    bt = ratings.bt_ratings(cells)  # in the order of `models`
    columns: dict[str, np.ndarray] = {"bradley_terry": np.fromiter(bt.values(), float, n)}
    samples: dict[str, np.ndarray] = {}
    if rounds:
        samples["bradley_terry"] = ratings.bt_bootstrap(cells, rounds=rounds, seed=seed)
    coefficients: dict[str, dict[str, Any]] = {}
    every = slice(0, len(STYLE_FEATURES))
    matchups = style_matchups(c, scores)
    for name, cols in (("length_controlled", slice(0, 1)), ("style_controlled", every)):
        fit_on = matchups.columns(cols)
        full = ratings.contextual_bt(fit_on)
        boot = (
            ratings.controlled_bootstrap(fit_on, full, rounds=rounds, seed=seed, jobs=jobs)
            if rounds
            else None
        )
        columns[name] = ratings.SCALE * full[:n] + ratings.INIT
        features = STYLE_FEATURES[cols]
        coefficients[name] = {f: {"estimate": float(full[n + k])} for k, f in enumerate(features)}
        if boot is not None:
            samples[name] = ratings.SCALE * boot[:, :n] + ratings.INIT
            for k, f in enumerate(features):
                coefficients[name][f]["ci95"] = interval95(boot[:, n + k])
    table = []
    intervals = {name: [interval95(x[:, k]) for k in range(n)] for name, x in samples.items()}
    ranks = {
        name: ratings.rank_with_uncertainty([i[0] for i in iv], [i[1] for i in iv])
        for name, iv in intervals.items()
    }
    per_model = Counter(c.model_a) + Counter(c.model_b)
    for k, m in enumerate(models):
        row: dict[str, Any] = {"model": m, "battles": per_model[m], "online_elo": elo[m]}
        for name, values in columns.items():
            row[name] = float(values[k])
            if name in intervals:
                row[f"{name}_ci95"] = intervals[name][k]
                row[f"{name}_rank"] = ranks[name][k]
        table.append(row)
    table.sort(key=lambda r: (-r["bradley_terry"], r["model"]))
    return {"battles": len(c), "coefficients": coefficients, "models": table}


def pairwise(c: Battles, board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pair of models that met: battles, the observed score of the first (wins + half
    the ties, over battles) and what the Bradley-Terry ratings predict for it."""
    rating = {r["model"]: r["bradley_terry"] for r in board["models"]}
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
            {
                "model": x,
                "opponent": y,
                "battles": len(s),
                "observed_score": observed,
                "predicted_score": predicted,
                "difference": observed - predicted,
                # How many standard errors apart (binomial, at the predicted rate).
                "z": (observed - predicted) / math.sqrt(predicted * (1 - predicted) / len(s)),
            }
        )
    return rows


def ratings_section(c: Battles, *, rounds: int, seed: int, jobs: int | str = 1) -> dict[str, Any]:
    board = leaderboard(c, rounds=rounds, seed=seed, jobs=jobs)
    order = "by timestamp (stable on ties; a battle without one keeps its source position)"
    return {
        "method": {
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
            "bootstrap": f"{rounds} rounds, seed {seed}: for Bradley-Terry each a multinomial "
            "draw of the battles over the (model_a, model_b, outcome) cells, which is what "
            "resampling battles with replacement does to it; for the controlled fits the "
            "battles resampled with replacement, refitted by Newton steps from the full fit; "
            "95% percentile intervals",
        },
        "length_coefficient": board["coefficients"]["length_controlled"]["length"]["estimate"],
        "length_coefficient_definition": (
            "change in the log-odds of A winning per standard deviation of "
            "(tokens_a - tokens_b) / (tokens_a + tokens_b + 1)"
        ),
        **board,
        "pairwise": pairwise(c, board),
    }
