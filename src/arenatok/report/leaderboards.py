"""The report's ratings: the leaderboard (online Elo, Bradley-Terry with sandwich or bootstrap
intervals, the style-controlled fit), the pairwise table, and the ratings section.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from arenatok.dataset.built import Battles
from arenatok.pipeline.style import FEATURES
from arenatok.report import controlled, ratings, separation
from arenatok.report.fits import FitOptions, Fits, controlled_fit, plain_fit
from arenatok.report.results import FITS, Board, ModelRow, PairRow, Ratings

STYLE_FEATURES: tuple[str, ...] = ("length", *FEATURES)
"""The arena's style-control features, in its order: answer tokens, headers, list items, bold."""


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
    1 / max(battles of its pair, 50) (the arena's inverse-propensity weights). The fits rate
    the rated sets (`report.separation`) on the battles among their models; every other model
    has no rating, and its battles are left out of the fits (online Elo keeps them)."""
    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    order = ratings.arrival_order(c.timestamp)
    elo = ratings.online_elo(
        [c.model_a[k] for k in order], [c.model_b[k] for k in order], [scores[k] for k in order]
    )
    standing = separation.standings(len(cells.models), cells.i, cells.j, cells.s, cells.counts)
    place = standing.place
    rated = {m for m, p in zip(cells.models, place, strict=True) if p == separation.RATED}
    kept = [k for k in range(len(c)) if c.model_a[k] in rated and c.model_b[k] in rated]
    fitted = c if len(kept) == len(c) else _fitted(c, kept)
    opts = FitOptions(rounds=rounds, seed=seed, jobs=jobs, intervals=intervals, reweight=reweight)
    fits = _fit(fitted, opts, progress) if len(fitted) else _unfitted(opts)
    groups = ratings.components(cells)
    sets = [[cells.models[k] for k in s] for s in standing.sets]
    return Board(
        battles=len(c),
        battles_left_out=len(c) - len(fitted) or None,
        coefficients=fits.coefficients,
        models=_rows(c, dict(zip(cells.models, place, strict=True)), elo, fits, sets),
        separate_groups=groups if len(groups) > 1 else None,
        rated_sets=sets if _shares_a_group(sets, groups) else None,
    )


def _shares_a_group(sets: list[list[str]], groups: list[list[str]]) -> bool:
    """Whether two rated sets are in one group of models that met (then their ratings are on
    separate scales, which the groups alone do not say)."""
    group = {m: k for k, g in enumerate(groups) for m in g}
    return len({group[s[0]] for s in sets}) < len(sets)


def _fitted(c: Battles, kept: Sequence[int]) -> Battles:
    """The battles `kept`, with what the fits read of them."""
    fields = ("model_a", "model_b", "winner", "output_a", "output_b", "style_a", "style_b")
    return Battles(**{f: [getattr(c, f)[k] for k in kept] for f in fields})


def _fit(c: Battles, opts: FitOptions, progress: Progress | None) -> Fits:
    """The three fits of the battles `c`, every model of which is in a rated set."""
    rounds = opts.rounds

    def tick(fit: int) -> Callable[[int], None]:
        return lambda done: progress(fit * rounds + done, 3 * rounds) if progress else None

    scores = [ratings.score(w) for w in c.winner]
    cells = ratings.Cells.of(c.model_a, c.model_b, scores)
    fits = Fits(opts.intervals == "sandwich" or rounds > 0, models=cells.models)
    plain_fit(cells, fits, opts, tick(0))
    matchups = style_matchups(c, scores)
    for fit, (name, cols) in enumerate(CONTROLLED, start=1):
        features = STYLE_FEATURES[cols]
        controlled_fit(matchups.columns(cols), name, features, fits, opts, tick(fit))
    return fits


NO_BATTLES = "not estimable: no battle is between two models with a finite rating"
"""Why the controlled fits' coefficients are null when no model has a rating."""


def _unfitted(opts: FitOptions) -> Fits:
    """What the fits give when no model is in a rated set: no rating, no coefficient."""
    return Fits(
        opts.intervals == "sandwich" or opts.rounds > 0,
        coefficients={
            name: {f: {"estimate": None, "not_estimable": NO_BATTLES} for f in STYLE_FEATURES[c]}
            for name, c in CONTROLLED
        },
    )


CONTROLLED: tuple[tuple[str, slice], ...] = (
    ("length_controlled", slice(0, 1)),
    ("style_controlled", slice(0, None)),
)
"""The controlled fits and the style features each takes."""

ORDER = (separation.ABOVE, separation.RATED, separation.BELOW, separation.OPEN)
"""The order of a leaderboard's rows by where the models stand: those above the rated set
(by name), the rated ones (best Bradley-Terry rating first, then by name), those below, then
the others (by name)."""


def _rows(
    c: Battles,
    place: dict[str, str],
    elo: dict[str, float],
    fits: Fits,
    sets: list[list[str]],
) -> list[ModelRow]:
    """The leaderboard's rows in ORDER: each rating with its interval and the arena's rank
    with uncertainty where intervals were made, among the models of its rated set that have
    an interval (ratings of two sets are on separate scales: a rank never compares them); for
    a model without a rating, a null in place of each rating, interval and rank, and why in
    `not_estimable`."""
    index = {m: k for k, m in enumerate(fits.models)}
    ranks: dict[str, dict[int, int]] = {}
    for name, bounds in fits.bounds.items():
        ranks[name] = {}
        for members in sets:
            have = {
                k: b
                for m in members
                if (k := index.get(m)) is not None and not isinstance(b := bounds[k], str)
            }
            ranked = ratings.rank_with_uncertainty(
                [b[0] for b in have.values()], [b[1] for b in have.values()]
            )
            ranks[name].update(zip(have, ranked, strict=True))
    per_model = Counter(c.model_a) + Counter(c.model_b)
    rows = []
    for m, standing in place.items():
        values: dict[str, Any] = {}
        why: dict[str, str] = {}
        k = index.get(m)
        for name in FITS:
            if k is None:
                values[name] = None
                why[name] = separation.REASONS[standing]
                if fits.intervals:
                    why[f"{name}_ci95"] = (
                        why[name].split(":")[0] + ": no finite rating, so no interval around it"
                    )
                continue
            values[name] = float(fits.columns[name][k])
            if fits.intervals:
                bound = fits.bounds[name][k]
                if isinstance(bound, str):
                    why[f"{name}_ci95"] = bound
                values[f"{name}_ci95"] = None if isinstance(bound, str) else bound
                values[f"{name}_rank"] = ranks[name].get(k)
        row = ModelRow(
            model=m, battles=per_model[m], online_elo=elo[m], **values, not_estimable=why or None
        )
        rows.append((standing, row))
    rows.sort(key=_row_order)
    return [row for _, row in rows]


def _row_order(entry: tuple[str, ModelRow]) -> tuple[int, float, str]:
    """A row's place in ORDER (`entry`: where its model stands, and the row)."""
    standing, row = entry
    return (ORDER.index(standing), -(row.bradley_terry or 0.0), row.model)


def pairwise(c: Battles, board: Board) -> list[PairRow]:
    """Every pair of models that met: battles, the observed score of the first (wins + half
    the ties, over battles) and what the Bradley-Terry ratings predict for it (null where a
    model of the pair has no rating)."""
    rating = {r.model: r.bradley_terry for r in board.models}
    met: dict[tuple[str, str], list[float]] = {}
    for a, b, w in zip(c.model_a, c.model_b, c.winner, strict=True):
        score = ratings.score(w)
        key, score = ((a, b), score) if a < b else ((b, a), 1 - score)
        met.setdefault(key, []).append(score)
    rows = []
    for (x, y), s in sorted(met.items()):
        observed = sum(s) / len(s)
        rx, ry = rating[x], rating[y]
        fit: dict[str, float | None] = dict.fromkeys(("predicted_score", "difference", "z"))
        if rx is not None and ry is not None:
            predicted = ratings.expected_score(rx, ry)
            fit = {
                "predicted_score": predicted,
                "difference": observed - predicted,
                # How many standard errors apart (binomial, at the predicted rate).
                "z": (observed - predicted) / math.sqrt(predicted * (1 - predicted) / len(s)),
            }
        rows.append(PairRow(model=x, opponent=y, battles=len(s), observed_score=observed, **fit))
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


SEPARATION = (
    "a model that never lost (or never won) against the rest, directly or through other "
    "models, has no maximum-likelihood rating (separation; a tie is half a win each way, so a "
    "tie breaks it): it is shown unbounded above or below, or not estimable where its place is "
    "open, and its battles are left out of every fit; each fit rates the rated sets (sets of "
    "two or more models that each beat or tied every other, directly or through others, not "
    "joined to another set by wins or ties; the largest first) on the battles among their "
    "models, which is the maximum-likelihood fit of the whole (the battles left out carry no "
    "information about the rest), so such a model moves no other rating; each set's ratings "
    "have a mean of 1000 and compare only within the set; online Elo keeps every battle "
    "(arena-rank and FastChat give such a model the finite rating where their optimiser "
    "stopped, and through the mean it moves every other rating)"
)
"""How the ratings treat separation, for the report's method (`method.separation`, written
when a model has no rating) and the page."""


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
    separated = {"separation": SEPARATION} if board.battles_left_out else {}
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
            **separated,
        },
        length_coefficient=board.coefficients["length_controlled"]["length"]["estimate"],
        length_coefficient_definition=(
            "change in the log-odds of A winning per standard deviation of "
            "(tokens_a - tokens_b) / (tokens_a + tokens_b + 1)"
        ),
        battles=board.battles,
        battles_left_out=board.battles_left_out,
        coefficients=board.coefficients,
        models=board.models,
        separate_groups=board.separate_groups,
        rated_sets=board.rated_sets,
        pairwise=pairwise(c, board),
    )
