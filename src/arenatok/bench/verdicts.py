"""Scores, paired bootstrap intervals, the two verdicts, what the test can detect, and the
answer: the cheapest strategy that keeps the signal, and the cost-quality frontier."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from arenatok.bench.results import Answer, Pick, Power, ResultRow
from arenatok.options import MIN_ROUNDS

OUTCOMES = {
    "binary": ("auc", 1.0),
    "three-way": ("log_loss", -1.0),
}
"""Per outcome: the metric strategies are compared on, and its direction (1: higher is
better)."""

Z_POWER = 1.959964 + 0.841621
"""z of a two-sided 5% test plus z of 80% power: a difference this many standard errors
wide is detected 80% of the time."""

BLOCK = 50
"""Bootstrap rounds computed together (a rounds x test votes matrix of counts)."""

MIN_VOTES = 20
"""The fewest training or test votes a bench runs on; the fewest test votes a score by number
of turns is given for."""

NO_SPREAD = 1e-9
"""A standard deviation of paired differences up to this is float rounding, not a spread: the
two predictors differ by the same amount in every resample."""

DIFFERENCES = (0.005, 0.01, 0.02, 0.05)
"""The differences from full whose test votes needed the power states."""


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    return float(weighted_auc(y, p, np.ones((1, len(y))))[0])


def weighted_auc(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of each row of `counts` (how many times each vote is drawn): the share of
    (positive, negative) pairs, drawn with those multiplicities, where the positive scores
    higher (ties half). NaN for a row without both classes."""
    order = np.argsort(p, kind="stable")
    ps, pos = p[order], (y[order] == 1)
    w = counts[:, order].astype(np.float64)
    start = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])  # groups of tied scores
    neg = np.where(pos, 0.0, w)
    neg_group = np.add.reduceat(neg, start, axis=1)
    below = np.cumsum(neg_group, axis=1) - neg_group  # negatives strictly lower, per group
    group = np.repeat(np.arange(len(start)), np.diff(np.r_[start, len(ps)]))
    credit = below[:, group] + 0.5 * neg_group[:, group]
    n_pos = (w * pos).sum(axis=1)
    n_neg = neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = ((w * pos) * credit).sum(axis=1) / (n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out


def _losses(y: np.ndarray, p: np.ndarray, three_way: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per vote: 1 if predicted right, and its log-loss."""
    if three_way:
        q = np.clip(p[np.arange(len(y)), y], 1e-15, 1.0)
        return (p.argmax(axis=1) == y).astype(float), -np.log(q)
    q = np.clip(p, 1e-12, 1 - 1e-12)
    right = ((p > 0.5) == (y == 1)).astype(float)
    return right, -(y * np.log(q) + (1 - y) * np.log(1 - q))


def scores(
    y: np.ndarray, p: np.ndarray, three_way: bool, counts: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, log-loss (and AUC for binary) of each row of `counts` (vote multiplicities)."""
    right, loss = _losses(y, p, three_way)
    total = counts.sum(axis=1)
    out = {"accuracy": counts @ right / total, "log_loss": counts @ loss / total}
    if not three_way:
        out["auc"] = weighted_auc(y, p, counts)
    return out


def point(y: np.ndarray, p: np.ndarray, three_way: bool) -> dict[str, float]:
    """The scores on the votes as they are."""
    return {k: float(v[0]) for k, v in scores(y, p, three_way, np.ones((1, len(y)))).items()}


def multiclass_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-probability of the observed class (natural log; p: votes x classes).
    A uniform guess over 3 classes scores ln 3 = 1.0986."""
    return point(y, p, True)["log_loss"]


def draws(n: int, rounds: int, seed: int) -> Iterator[np.ndarray]:
    """The bootstrap's resamples as counts (block x n), BLOCK rounds at a time: round r draws
    n votes with replacement (numpy's default_rng(seed), n integers a round)."""
    rng = np.random.default_rng(seed)
    for first in range(0, rounds, BLOCK):
        k = min(BLOCK, rounds - first)
        idx = rng.integers(0, n, (k, n)) + (np.arange(k) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=k * n).reshape(k, n).astype(np.float64)


def bootstrap(
    y: np.ndarray,
    predictions: dict[str, np.ndarray],
    three_way: bool,
    rounds: int,
    seed: int,
    tick: Callable[[], None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Every predictor's scores on the same `rounds` resamples of the test votes (paired): name
    -> score -> a value a round (empty for 0 rounds). `tick` is called after each block."""
    empty = np.zeros((0, len(y)))
    boot = {
        name: {key: [values] for key, values in scores(y, p, three_way, empty).items()}
        for name, p in predictions.items()
    }
    for counts in draws(len(y), rounds, seed):
        for name, p in predictions.items():
            for key, values in scores(y, p, three_way, counts).items():
                boot[name][key].append(values)
        if tick is not None:
            tick()
    return {name: {k: np.concatenate(v) for k, v in d.items()} for name, d in boot.items()}


def interval95(samples: np.ndarray) -> list[float] | None:
    """The 95% percentile interval of bootstrap samples (NaN samples left out), or None with
    fewer than MIN_ROUNDS samples left: too few to place its ends."""
    if np.count_nonzero(~np.isnan(samples)) < MIN_ROUNDS:
        return None
    return [float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))]


def spread(samples: np.ndarray) -> float | None:
    """The standard deviation of bootstrap samples (NaN left out), or None when it cannot be
    told: fewer than MIN_ROUNDS samples, or none at most NO_SPREAD (the same in every
    resample)."""
    if np.count_nonzero(~np.isnan(samples)) < MIN_ROUNDS:
        return None
    sd = float(np.nanstd(samples))
    return sd if sd > NO_SPREAD else None


def _better(ci: list[float] | None, margin: float, better: float) -> bool | None:
    """Whether an interval of differences lies wholly above -margin (higher is better) or
    below +margin (lower is better); None without an interval."""
    if ci is None:
        return None
    lo, hi = ci
    return bool(lo > -margin) if better > 0 else bool(hi < margin)


def verdict_rows(
    points: dict[str, dict[str, float]],
    boot: dict[str, dict[str, np.ndarray]],
    metric: str,
    better: float,
    margin: float,
) -> list[ResultRow]:
    """Per predictor: its scores with intervals, and the comparisons with the length-only
    reference and with full (verdicts and the difference detectable). Without an interval
    (`interval95`) there is no verdict; without a spread (`spread`), no difference
    detectable."""
    reference = "reference: length only"
    rows = []
    for name, pt in points.items():
        ci = {key: interval95(values) for key, values in boot[name].items()}
        row = ResultRow(
            metric=metric,
            strategy=name,
            accuracy=pt["accuracy"],
            log_loss=pt["log_loss"],
            auc=pt.get("auc"),
            accuracy_ci95=ci["accuracy"],
            log_loss_ci95=ci["log_loss"],
            auc_ci95=ci.get("auc"),
            minus_length_only_ci95=interval95(boot[name][metric] - boot[reference][metric]),
        )
        if not row.is_reference:
            row.uses_content = _better(row.minus_length_only_ci95, 0.0, better)
        if "full" in points and not row.is_reference:
            diff = boot[name][metric] - boot["full"][metric]
            row.minus_full = pt[metric] - points["full"][metric]
            row.minus_full_ci95 = interval95(diff)
            row.non_inferior_to_full = _better(row.minus_full_ci95, margin, better)
            sd = spread(diff)
            if name != "full" and sd is not None:
                row.detectable_difference_vs_full = Z_POWER * sd
        rows.append(row)
    return rows


def _no_intervals(rounds: int) -> str:
    """Why no interval was made: no rounds, or too few resamples with a score."""
    if rounds == 0:
        return "no bootstrap rounds were run (--rounds 0)"
    return (
        f"fewer than {MIN_ROUNDS} of the {rounds:,} bootstrap resamples have a score (an AUC "
        "needs both outcomes among the votes drawn)"
    )


def _names(names: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return ", ".join(names[:-1]) + " and " * (len(names) > 1) + names[-1]


def power(rows: Sequence[ResultRow], metric: str, votes: int, rounds: int) -> Power:
    """What the test split can detect: the smallest difference from `full` found 80% of the
    time at the 5% level (2.80 paired-bootstrap standard errors; the median over the
    strategies), and how many test votes other differences would need (the standard error
    shrinks as 1 / sqrt(votes); never fewer than MIN_VOTES). A strategy whose difference from
    full is the same in every resample has no standard error and is left out; when no
    strategy has one (or no interval was made), `cannot_tell` says why."""
    others = [r for r in rows if r.minus_full is not None and r.strategy != "full"]
    if not others:
        return Power(test_votes=votes)
    found = [r.detectable_difference_vs_full for r in others if r.detectable_difference_vs_full]
    flat = [r.strategy for r in others if r.minus_full_ci95 and not r.detectable_difference_vs_full]
    if not found:
        why = (
            f"{_names(flat)} {'has' if len(flat) == 1 else 'have'} the same {metric} difference "
            "from full in every bootstrap resample (no variance)"
            if flat
            else _no_intervals(rounds)
        )
        return Power(
            test_votes=votes,
            cannot_tell=f"{why}, so there is no standard error to measure a difference by",
        )
    mde = float(np.median(found))
    # Rounded up, less a hair: 271 x (0.07 / 0.01)^2 is 13,279 in decimals, and must not
    # become 13,280 through the float error of the division.
    needed = {f"{d:g}": math.ceil(votes * (mde / d) ** 2 - 1e-9) for d in DIFFERENCES}
    rule = (
        f"{Z_POWER:.2f} x the paired bootstrap standard error of {metric}(strategy) - "
        f"{metric}(full), median over the strategies"
    )
    if flat:
        rule += f" ({_names(flat)} left out: the same difference in every resample)"
    rule += ": 80% power at the 5% level"
    if min(needed.values()) < MIN_VOTES:
        rule += (
            f"; a difference the test split detects with fewer than {MIN_VOTES} test votes is "
            f"given {MIN_VOTES}, the fewest a bench tests on"
        )
    return Power(
        test_votes=votes,
        detectable_difference=mde,
        rule=rule,
        votes_needed={d: max(n, MIN_VOTES) for d, n in needed.items()},
    )


def answer(rows: Sequence[ResultRow], metric: str, better: float, rounds: int) -> Answer:
    """The cheapest strategy non-inferior to full and the cheapest that uses content (by
    bytes sent per side, with its share of full's bytes), and the cost-quality frontier: the
    strategies that no other beats on both cost (fewer bytes) and quality (a better point
    estimate of the metric). Without any verdict (no intervals), `cannot_tell` says why."""
    strategies = [(r, r.bytes_per_side) for r in rows if r.bytes_per_side is not None]
    full = next((cost for r, cost in strategies if r.strategy == "full"), None)

    def pick(r: ResultRow, cost: float, share: bool = False) -> Pick:
        of_full = cost / full if share and full is not None and full > 0 else None
        return Pick(
            metric=metric,
            strategy=r.strategy,
            bytes_per_side=cost,
            score=r.score,
            share_of_full_bytes=of_full,
        )

    def cheapest(verdict: str) -> Pick | None:
        found = sorted(
            ((r, cost) for r, cost in strategies if getattr(r, verdict)),
            key=lambda rc: (rc[1], rc[0].strategy),
        )
        return pick(*found[0], share=True) if found else None

    def beats(a: tuple[ResultRow, float], b: tuple[ResultRow, float]) -> bool:
        """a costs no more and scores no worse, and is better on one."""
        (ra, ca), (rb, cb) = a, b
        quality_ok = better * ra.score >= better * rb.score
        strictly = ca < cb or better * ra.score > better * rb.score
        return bool(ca <= cb and quality_ok and strictly)

    frontier = sorted(
        (rc for rc in strategies if not any(beats(o, rc) for o in strategies)),
        key=lambda rc: (rc[1], rc[0].strategy),
    )
    judged = any(
        r.non_inferior_to_full is not None or r.uses_content is not None
        for r in rows
        if not r.is_reference
    )
    return Answer(
        cheapest_non_inferior_to_full=cheapest("non_inferior_to_full"),
        cheapest_using_content=cheapest("uses_content"),
        frontier=[pick(r, cost) for r, cost in frontier],
        rule="cheapest: fewest bytes sent per side among the strategies with that verdict; "
        f"frontier: the strategies that no other matches or beats on both bytes and {metric} "
        "(point estimates) while beating it on one",
        cannot_tell=None
        if judged
        else f"{_no_intervals(rounds)}, so no strategy has an interval to judge it by",
    )
