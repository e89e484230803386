"""`arenatok bench`: how much of the human preference signal survives when each side sends
less (see `strategies`), against what it saves.

A preference predictor, trained on one split, sees only what the two sides communicated and
predicts the human winner on the other split. Scikit-learn does the learning (the `bench`
extra).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from arenatok import ratings
from arenatok.built import Battles, read_built
from arenatok.engine import process_map
from arenatok.errors import MissingExtraError, OptionError, SourceError
from arenatok.metrics import turn_usages
from arenatok.page import error_bars, figure, html_page, html_table, plot
from arenatok.report import interval95, style_matrix
from arenatok.strategies import Recurrent, Sent, Side, Strategy, run_side
from arenatok.write import dumps_pretty, output_error, write_bytes

BENCH_JSON = "bench.json"
BENCH_HTML = "bench.html"
TEST_SHARE = 0.2

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all): a step is a strategy, or the references."""


def in_test_split(first_prompt: str, *, seed: int, share: float = TEST_SHARE) -> bool:
    """A battle is in the test split by a seeded hash of its first user message: battles that
    share a prompt are always on the same side of the split."""
    digest = hashlib.sha256(f"{seed}\0{first_prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# ---- predictors and metrics -------------------------------------------------------------------


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    from scipy.stats import rankdata

    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((y == 0).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(p)  # average ranks over ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Accuracy, log-loss and AUC of predicted P(A wins) against the votes (1 = A)."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "accuracy": float(np.mean((p > 0.5) == (y == 1))),
        "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "auc": auc(y, p),
    }


def multiclass_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-probability of the observed class (natural log; p: votes x classes).
    A uniform guess over 3 classes scores ln 3 = 1.0986."""
    q = np.clip(p[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.mean(np.log(q)))


def three_way_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Accuracy and multiclass log-loss of predicted (P(B), P(A), P(tie)) against the votes
    (0 = model_b, 1 = model_a, 2 = any tie)."""
    return {
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
        "log_loss": multiclass_log_loss(y, p),
    }


OUTCOMES = {
    "binary": ("auc", 1.0),
    "three-way": ("log_loss", -1.0),
}
"""Per outcome: the metric strategies are compared on, and its direction (1: higher is
better)."""

Z_POWER = 1.959964 + 0.841621
"""z of a two-sided 5% test plus z of 80% power: a difference this many standard errors
wide is detected 80% of the time."""


def _features(sent: Sequence[Sent], vectorizer: Any) -> Any:
    """Per side: the text's TF-IDF (or the vector), and log(1 + tokens) when text was sent."""
    from scipy import sparse

    if sent[0].vector is not None:
        width = max(len(s.vector) for s in sent if s.vector is not None)
        rows = [np.pad(np.asarray(s.vector, float), (0, width - len(s.vector))) for s in sent]  # type: ignore[arg-type]
        return sparse.csr_matrix(np.vstack(rows))
    x = vectorizer.transform([s.text or "" for s in sent])
    length = sparse.csr_matrix(np.log1p([[s.tokens] for s in sent]))
    return sparse.hstack([x, length]).tocsr()


def _pair_view(d: Any, three_way: bool) -> Any:
    """What the predictor sees of a pair, from A minus B (sparse): that; for three-way also
    |A - B| (a tie is likelier when the two sides sent alike)."""
    from scipy import sparse

    return sparse.hstack([d, abs(d)]).tocsr() if three_way else d


def _fit_predict(
    x_train: Any, y_train: np.ndarray, x_test: Any, seed: int, classes: int = 2
) -> np.ndarray:
    """Logistic regression (L2, C=1; multinomial for three classes): P(A wins), or the
    probabilities of the `classes` classes (B, A, tie), 0 for a class the training split
    lacks."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x_train, y_train)
    p: np.ndarray = model.predict_proba(x_test)
    if classes == 2:
        return p[:, list(model.classes_).index(1)]
    out = np.zeros((p.shape[0], classes))
    out[:, model.classes_] = p
    return out


@dataclass
class _Task:
    """What every strategy is evaluated on (small enough to send to a worker process)."""

    side_a: list[Side]
    side_b: list[Side]
    y: np.ndarray
    tr: np.ndarray
    te: np.ndarray
    decisive: np.ndarray
    three_way: bool
    seed: int

    @property
    def classes(self) -> int:
        return 3 if self.three_way else 2


def _evaluate(task: _Task, strategy: Strategy | Recurrent) -> dict[str, Any]:
    """Fit a strategy on the training split, run it on every side, train the predictor on
    what the training sides sent and predict the test votes. Returns the predictions and the
    costs (per side, and cumulative by turn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    tr, te, y = task.tr, task.te, task.y
    train_a, train_b = [task.side_a[i] for i in tr], [task.side_b[i] for i in tr]
    fit_pairs = getattr(strategy, "fit_pairs", None)
    if fit_pairs is not None:
        learn = [k for k, i in enumerate(tr) if task.decisive[i]]
        fit_pairs(
            [train_a[k] for k in learn],
            [train_b[k] for k in learn],
            np.array([1.0 if y[tr[k]] == 1 else 0.0 for k in learn]),
        )
    else:
        strategy.fit(train_a + train_b)
    prepare = getattr(strategy, "prepare", None)
    if prepare is not None:
        prepare(task.side_a + task.side_b)
    runs_a = [run_side(strategy, s) for s in task.side_a]
    runs_b = [run_side(strategy, s) for s in task.side_b]
    sent_a, sent_b = [r[0] for r in runs_a], [r[0] for r in runs_b]
    vectorizer = None
    if sent_a[0].vector is None:
        vectorizer = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
        vectorizer.fit([sent_a[i].text or "" for i in tr] + [sent_b[i].text or "" for i in tr])

    def x(idx: np.ndarray) -> Any:
        return _pair_view(
            _features([sent_a[i] for i in idx], vectorizer)
            - _features([sent_b[i] for i in idx], vectorizer),
            task.three_way,
        )

    by_turn = [ra[1] for ra in runs_a], [rb[1] for rb in runs_b]
    return {
        "prediction": _fit_predict(x(tr), y[tr], x(te), task.seed, task.classes),
        "tokens_per_side": float(np.mean([s.tokens for s in sent_a + sent_b])),
        "bytes_per_side": float(np.mean([s.bytes for s in sent_a + sent_b])),
        "cost_by_turn": _cumulative_by_turn(*by_turn),
    }


MAX_TURN_SHOWN = 10
"""Cost by turn is given for turns 1 to this (later turns are rare)."""


def _cumulative_by_turn(
    a: Sequence[Sequence[tuple[int, int]]], b: Sequence[Sequence[tuple[int, int]]]
) -> list[dict[str, float]]:
    """Per turn t: over the battles with at least t turns, the mean tokens and bytes one side
    has sent by turn t."""
    out = []
    for t in range(1, MAX_TURN_SHOWN + 1):
        rows = [side[t - 1] for side in (*a, *b) if len(side) >= t]
        if not rows:
            break
        out.append(
            {
                "turn": t,
                "battles": len(rows) // 2,
                "tokens": float(np.mean([r[0] for r in rows])),
                "bytes": float(np.mean([r[1] for r in rows])),
            }
        )
    return out


def _resent(users: Sequence[int], answers: Sequence[int]) -> list[int]:
    """What one side has sent by each turn when it resends the whole history: at turn t its
    context (`context_tokens` of the Metrics: every earlier user message and its own answers,
    plus user message t) and its answer t, added up over the turns."""
    turns = turn_usages(users, answers, answers)
    return list(
        itertools.accumulate(t["context_tokens_a"] + a for t, a in zip(turns, answers, strict=True))
    )


def _full_state_by_turn(data: Battles) -> list[dict[str, float]]:
    """`_cumulative_by_turn` for resending the whole history (quadratic in the turns)."""

    def size(texts: Sequence[str]) -> list[int]:
        return [len(t.encode()) for t in texts]

    sides = [
        list(zip(_resent(users, tokens), _resent(size(u_text), size(a_text)), strict=True))
        for answer_tokens, answer_texts in (
            (data.turn_a_tokens, data.answers_a),
            (data.turn_b_tokens, data.answers_b),
        )
        for users, tokens, u_text, a_text in zip(
            data.turn_input_tokens, answer_tokens, data.users, answer_texts, strict=True
        )
    ]
    half = len(sides) // 2
    return _cumulative_by_turn(sides[:half], sides[half:])


def _reference_predictions(data: Battles, task: _Task) -> dict[str, np.ndarray]:
    """Predictors that see no content: the length difference, the style features (length and
    markdown counts, as the arena's style control), and which models fought."""
    from scipy import sparse

    tr, te, y, seed = task.tr, task.te, task.y, task.seed
    a, b = style_matrix(data)
    raw = (a - b) / (a + b + 1.0)
    models, i, j = ratings.model_indices(data.model_a, data.model_b)
    rows = np.arange(len(data))
    who = sparse.csr_matrix(  # +1 for model A, -1 for model B (duplicates add up)
        (
            np.concatenate([np.ones(len(data)), -np.ones(len(data))]),
            (np.concatenate([rows, rows]), np.concatenate([i, j])),
        ),
        shape=(len(data), len(models)),
    )
    out = {}
    for name, x in (
        ("reference: length only", sparse.csr_matrix(raw[:, :1])),
        ("reference: style (length, markdown)", sparse.csr_matrix(raw)),
        ("reference: model identity (Bradley-Terry)", who),
    ):
        view = _pair_view(x, task.three_way)
        out[name] = _fit_predict(view[tr], y[tr], view[te], seed, task.classes)
    return out


def run_bench(
    out: str | Path | Sequence[str | Path],
    strategies: Sequence[Strategy | Recurrent],
    *,
    seed: int = 0,
    rounds: int = 1000,
    limit: int | None = None,
    outcome: str = "binary",
    margin: float = 0.02,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every strategy's cost and the quality its messages retain, with paired bootstrap
    intervals, two verdicts (non-inferior to `full` within `margin`; uses content: better than
    the length-only reference) and what the test split can detect. `out`: one built directory
    or several, pooled (split by the same prompt hash across all of them). `outcome`: "binary"
    (A or B, ties left out; compared on AUC) or "three-way" (A, B or tie; compared on
    multiclass log-loss). `jobs`: worker processes, one strategy each."""
    if outcome not in OUTCOMES:
        raise OptionError(f"unknown outcome: {outcome!r}", hint="binary or three-way")
    outs = [Path(out)] if isinstance(out, str | Path) else [Path(o) for o in out]
    builts = [read_built(o, limit=limit) for o in outs]
    data = builts[0].battles if len(builts) == 1 else Battles.concat([b.battles for b in builts])
    n = len(data)
    three_way = outcome == "three-way"
    metric, better = OUTCOMES[outcome]
    test = np.array([in_test_split(u[0], seed=seed) for u in data.users], dtype=bool)
    decisive = np.array([w in ratings.DECISIVE for w in data.winner], dtype=bool)
    if three_way:
        y = np.array([{"model_b": 0, "model_a": 1}.get(w, 2) for w in data.winner])
        used = np.ones(n, dtype=bool)
    else:
        y = np.array([1 if w == "model_a" else 0 for w in data.winner])
        used = decisive
    tr, te = np.flatnonzero(~test & used), np.flatnonzero(test & used)
    if len(tr) < 20 or len(te) < 20 or len(set(y[tr])) < 2:
        raise SourceError(
            f"{outs[0]}: too few decisive votes to train and test on ({len(tr)} / {len(te)})",
            hint="bench needs a few hundred battles with human votes",
        )
    task = _Task(
        side_a=[Side(u, a) for u, a in zip(data.users, data.answers_a, strict=True)],
        side_b=[Side(u, b) for u, b in zip(data.users, data.answers_b, strict=True)],
        y=y,
        tr=tr,
        te=te,
        decisive=decisive,
        three_way=three_way,
        seed=seed,
    )
    steps = len(strategies) + 1
    if progress:
        progress(0, steps)
    predictions = _reference_predictions(data, task)
    evaluated: dict[str, dict[str, Any]] = {}
    if progress:
        progress(1, steps)
    for done, (strategy, result) in enumerate(
        zip(strategies, process_map(partial(_evaluate, task), list(strategies), jobs), strict=True),
        start=2,
    ):
        evaluated[strategy.name] = result
        predictions[strategy.name] = result["prediction"]
        if progress:
            progress(done, steps)

    # Paired bootstrap: the same resampled test votes for every predictor.
    yt = y[te]
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, len(te), len(te)) for _ in range(rounds)]
    score = three_way_metrics if three_way else metrics
    draws = {
        name: {k: np.array([d[k] for d in ds]) for k in ds[0]}
        for name, p in predictions.items()
        for ds in [[score(yt[b], p[b]) for b in boots]]
    }
    turns = np.array(data.turns)[te]
    reference = "reference: length only"
    rows = []
    points = {name: score(yt, p) for name, p in predictions.items()}
    for name, p in predictions.items():
        point = points[name]
        row: dict[str, Any] = {"strategy": name, **point}
        for key, values in draws[name].items():
            row[f"{key}_ci95"] = interval95(values)
        costs = evaluated.get(name)
        if costs is not None:
            row |= {k: v for k, v in costs.items() if k != "prediction"}
        row[f"{metric}_minus_length_only_ci95"] = interval95(
            draws[name][metric] - draws[reference][metric]
        )
        is_reference = name.startswith("reference")
        if not is_reference:
            lo, hi = row[f"{metric}_minus_length_only_ci95"]
            row["uses_content"] = bool(lo > 0) if better > 0 else bool(hi < 0)
        if "full" in predictions and not is_reference:
            diff = draws[name][metric] - draws["full"][metric]
            lo, hi = interval95(diff)
            row[f"{metric}_minus_full"] = point[metric] - points["full"][metric]
            row[f"{metric}_minus_full_ci95"] = [lo, hi]
            row["non_inferior_to_full"] = bool(lo > -margin) if better > 0 else bool(hi < margin)
            if name != "full":
                se = float(np.nanstd(diff))
                row["detectable_difference_vs_full"] = Z_POWER * se
        row["by_turns"] = {}
        for label, mask in (("single-turn", turns == 1), ("multi-turn", turns > 1)):
            k = np.flatnonzero(mask)
            if len(k) >= 20 and len(set(yt[k])) > 1:
                row["by_turns"][label] = {"votes": len(k), metric: score(yt[k], p[k])[metric]}
        rows.append(row)
    return {
        "builds": [
            {"path": str(o), "build": b.build_id, "battles": len(b.battles)}
            for o, b in zip(outs, builts, strict=True)
        ],
        "build": builts[0].build_id,
        "seed": seed,
        "bootstrap_rounds": rounds,
        "battles": n,
        "outcome": outcome,
        "compared_on": metric,
        "margin": margin,
        "split": {
            "rule": f"sha256(seed, first user message) < {TEST_SHARE}: test; no prompt is in "
            "both splits, across every build pooled",
            "train_votes": len(tr),
            "test_votes": len(te),
            "train_decisive": int((~test & decisive).sum()),
            "test_decisive": int((test & decisive).sum()),
            "test_ties": int((test & ~decisive).sum()),
            "train_ties": int((~test & ~decisive).sum()),
            "ties": "predicted as a third class" if three_way else "left out",
        },
        "power": _power(rows, metric, len(te)),
        "predictor": "logistic regression on (what A sent) - (what B sent): TF-IDF of the text "
        "and log(1 + tokens), or the vector"
        + ("; and its absolute value (multinomial: A, B, tie)" if three_way else "; ties left out"),
        "verdicts": {
            "non_inferior_to_full": f"the 95% interval of {metric}(strategy) - {metric}(full) "
            + (f"lies above -{margin}" if better > 0 else f"lies below +{margin}"),
            "uses_content": f"the 95% interval of {metric}(strategy) - {metric}(length-only "
            "reference) " + ("lies above 0" if better > 0 else "lies below 0"),
        },
        "cost_by_turn_full_state": _full_state_by_turn(data),
        "results": rows,
    }


def _power(rows: Sequence[dict[str, Any]], metric: str, votes: int) -> dict[str, Any]:
    """What the test split can detect: the smallest difference from `full` found 80% of the
    time at the 5% level (2.80 paired-bootstrap standard errors; the median over strategies),
    and how many test votes other differences would need (the standard error shrinks as
    1 / sqrt(votes))."""
    found = [
        r["detectable_difference_vs_full"] for r in rows if "detectable_difference_vs_full" in r
    ]
    if not found:
        return {"test_votes": votes}
    mde = float(np.median(found))
    return {
        "test_votes": votes,
        "detectable_difference": mde,
        "rule": f"{Z_POWER:.2f} x the paired bootstrap standard error of {metric}(strategy) - "
        f"{metric}(full), median over the strategies: 80% power at the 5% level",
        "votes_needed": {
            f"{d:g}": math.ceil(votes * (mde / d) ** 2) for d in (0.005, 0.01, 0.02, 0.05)
        },
    }


def render_html(bench: dict[str, Any]) -> str:
    """The cost vs quality plot, the cost by turn plot (inline SVG) and the table, as one
    offline page."""
    metric = bench["compared_on"]
    fig, ax = figure(8, 4.5)
    for r in (r for r in bench["results"] if "bytes_per_side" in r):
        ax.errorbar(
            max(r["bytes_per_side"], 1),
            r[metric],
            yerr=error_bars([r[metric]], [r[f"{metric}_ci95"]]),
            fmt="o",
            capsize=3,
            label=r["strategy"],
        )
    for r in bench["results"]:
        if r["strategy"].startswith("reference"):
            ax.axhline(r[metric], linestyle="--", linewidth=1, color="grey")
            ax.annotate(r["strategy"], (ax.get_xlim()[0], r[metric]), fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("bytes sent per side (mean)")
    ax.set_ylabel(f"{metric} on held-out votes (95% CI)")
    ax.legend(fontsize=7, ncol=2)
    cost_plot = plot("Cost against quality", fig)

    fig, ax = figure(8, 4.5)
    full_state = bench["cost_by_turn_full_state"]
    ax.plot(
        [c["turn"] for c in full_state],
        [max(c["bytes"], 1) for c in full_state],
        "k--",
        label="full-state resend (history each turn)",
    )
    for r in (r for r in bench["results"] if "cost_by_turn" in r):
        ax.plot(
            [c["turn"] for c in r["cost_by_turn"]],
            [max(c["bytes"], 1) for c in r["cost_by_turn"]],
            "o-",
            label=r["strategy"],
        )
    ax.set_yscale("log")
    ax.set_xlabel("turn")
    ax.set_ylabel("bytes sent by this turn, per side (mean)")
    ax.legend(fontsize=7, ncol=2)
    turns = len(full_state)
    turn_plot = (
        plot("Cost by turn: what a side has sent by each turn", fig)
        if turns > 1
        else '<p class="note">Cost by turn: not drawn, because every battle here has one turn.</p>'
    )
    columns = [
        "strategy",
        "bytes_per_side",
        "tokens_per_side",
        "accuracy",
        "log_loss",
        *(["auc"] if metric == "auc" else []),
        f"{metric}_ci95",
        f"{metric}_minus_full_ci95",
        "non_inferior_to_full",
        f"{metric}_minus_length_only_ci95",
        "uses_content",
    ]
    power = bench["power"]
    statement = power_statement(bench)
    body = (
        f"<p>{html.escape(bench['predictor'])}. Verdicts: non-inferior to full when "
        f"{html.escape(bench['verdicts']['non_inferior_to_full'])}; uses content when "
        f"{html.escape(bench['verdicts']['uses_content'])}.</p>"
        f"<p>{html.escape(statement)}</p>"
        + cost_plot
        + turn_plot
        + html_table(bench["results"], columns)
        + "<h2>Quality by number of turns</h2>"
        + html_table(
            [
                {"strategy": r["strategy"], "turns": t, **v}
                for r in bench["results"]
                for t, v in r["by_turns"].items()
            ],
            ["strategy", "turns", "votes", metric],
        )
        + "<h2>Power</h2>"
        + html_table(
            [
                {"difference": d, "test votes needed": v}
                for d, v in power.get("votes_needed", {}).items()
            ],
            ["difference", "test votes needed"],
        )
    )
    return html_page("arenatok bench", body, build=bench["build"])


def power_statement(bench: dict[str, Any]) -> str:
    """What the test split can detect, in a sentence."""
    power, metric = bench["power"], bench["compared_on"]
    if "detectable_difference" not in power:
        return f"{power['test_votes']:,} test votes (run full and another strategy for power)."
    need = power["votes_needed"]
    return (
        f"With {power['test_votes']:,} test votes the smallest {metric} difference from full "
        f"this test detects (80% power, 5% level) is {power['detectable_difference']:.3f}; "
        f"a difference of 0.01 would need {need['0.01']:,} test votes, 0.02 would need "
        f"{need['0.02']:,}."
    )


def write_bench(
    out: str | Path | Sequence[str | Path],
    strategies: Sequence[Strategy | Recurrent],
    *,
    write_to: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run the benchmark (`run_bench` and its options) and write bench.json and bench.html
    into `write_to` (made if missing, before the run; default: the first built directory)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MissingExtraError("arenatok bench", "bench", "scikit-learn") from None
    if write_to is not None:
        try:
            Path(write_to).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise output_error(Path(write_to), e, hint="choose another --out directory") from None
    bench = run_bench(out, strategies, **options)
    target = Path(write_to if write_to is not None else bench["builds"][0]["path"])
    write_bytes(target / BENCH_JSON, dumps_pretty(bench).encode("utf-8"))
    write_bytes(target / BENCH_HTML, render_html(bench).encode("utf-8"))
    return bench
