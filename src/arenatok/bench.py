"""`arenatok bench`: how much of the human preference signal survives when each side sends
less (see `strategies`), against what it saves.

A preference predictor, trained on one split, sees only what the two sides communicated and
predicts the human winner on the other split. Scikit-learn does the learning (the `bench`
extra).
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from arenatok import ratings
from arenatok.built import read_built
from arenatok.errors import MissingExtraError, SourceError
from arenatok.page import figure, html_page, html_table, plot
from arenatok.strategies import Sent, Side, Strategy, checked_send
from arenatok.write import dumps_pretty, write_bytes

BENCH_JSON = "bench.json"
BENCH_HTML = "bench.html"
TEST_SHARE = 0.2

Progress = Callable[[int, int], None]
"""Called with (steps done, steps in all): a step is a strategy or a reference."""


def in_test_split(first_prompt: str, *, seed: int, share: float = TEST_SHARE) -> bool:
    """A battle is in the test split by a seeded hash of its first user message: battles that
    share a prompt are always on the same side of the split."""
    digest = hashlib.sha256(f"{seed}\0{first_prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# ---- predictors and metrics -------------------------------------------------------------------


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    ranks_sorted = np.arange(1, len(order) + 1, dtype=float)
    # average ranks over ties
    _, start, counts = np.unique(values, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        if c > 1:
            ranks_sorted[s : s + c] = ranks_sorted[s : s + c].mean()
    ranks[order] = ranks_sorted
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Accuracy, log-loss and AUC of predicted P(A wins) against the votes (1 = A)."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "accuracy": float(np.mean((p > 0.5) == (y == 1))),
        "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "auc": auc(y, p),
    }


def _features(sent: Sequence[Sent], vectorizer: Any) -> Any:
    """Per side: the text's TF-IDF (or the vector), and log(1 + tokens) when text was sent."""
    from scipy import sparse

    if sent[0].vector is not None:
        vectors: list[np.ndarray] = [s.vector for s in sent if s.vector is not None]
        return sparse.csr_matrix(np.vstack(vectors))
    x = vectorizer.transform([s.text or "" for s in sent])
    length = sparse.csr_matrix(np.log1p([[s.tokens] for s in sent]))
    return sparse.hstack([x, length]).tocsr()


def _pair_model(train_a: list[Sent], train_b: list[Sent], y: np.ndarray, seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = None
    if train_a[0].vector is None:
        vectorizer = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
        vectorizer.fit([s.text or "" for s in train_a + train_b])
    x = _features(train_a, vectorizer) - _features(train_b, vectorizer)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, y)

    def predict(a: list[Sent], b: list[Sent]) -> np.ndarray:
        out: np.ndarray = model.predict_proba(_features(a, vectorizer) - _features(b, vectorizer))[
            :, 1
        ]
        return out

    return predict


def run_bench(
    out: str | Path,
    strategies: Sequence[Strategy],
    *,
    seed: int = 0,
    rounds: int = 1000,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every strategy's cost and the quality its messages retain, with bootstrap intervals."""
    from sklearn.linear_model import LogisticRegression

    built = read_built(out, limit=limit)
    data = built.battles
    n = len(data)
    steps = len(strategies) + 2
    side_a = [Side(u, a) for u, a in zip(data.users, data.answers_a, strict=True)]
    side_b = [Side(u, b) for u, b in zip(data.users, data.answers_b, strict=True)]
    test = np.array([in_test_split(u[0], seed=seed) for u in data.users], dtype=bool)
    decisive = np.array([w in ratings.DECISIVE for w in data.winner], dtype=bool)
    y = np.array([1 if w == "model_a" else 0 for w in data.winner])
    tr, te = np.flatnonzero(~test & decisive), np.flatnonzero(test & decisive)
    if len(tr) < 20 or len(te) < 20 or len(set(y[tr])) < 2:
        raise SourceError(
            f"{out}: too few decisive votes to train and test on ({len(tr)} / {len(te)})",
            hint="bench needs a few hundred battles with human votes",
        )
    predictions: dict[str, np.ndarray] = {}
    costs: dict[str, dict[str, float]] = {}

    # Reference predictors that see no content.
    if progress:
        progress(0, steps)
    ta, tb = np.asarray(data.output_a, float), np.asarray(data.output_b, float)
    length_x = ((ta - tb) / np.maximum(ta + tb, 1)).reshape(-1, 1)
    length_model = LogisticRegression(random_state=seed).fit(length_x[tr], y[tr])
    predictions["reference: length only"] = length_model.predict_proba(length_x[te])[:, 1]
    cells = ratings.Cells.of(
        [data.model_a[i] for i in tr], [data.model_b[i] for i in tr], [float(y[i]) for i in tr]
    )
    theta = dict(zip(cells.models, ratings.bt_strengths(cells).tolist(), strict=True))
    predictions["reference: model identity (Bradley-Terry)"] = np.array(
        [
            1 / (1 + math.exp(theta.get(data.model_b[i], 0.0) - theta.get(data.model_a[i], 0.0)))
            for i in te
        ]
    )

    if progress:
        progress(2, steps)
    for done, strategy in enumerate(strategies, start=3):
        strategy.fit([side_a[i] for i in tr] + [side_b[i] for i in tr])
        sent_a = [checked_send(strategy, side_a[i]) for i in range(n)]
        sent_b = [checked_send(strategy, side_b[i]) for i in range(n)]
        predict = _pair_model([sent_a[i] for i in tr], [sent_b[i] for i in tr], y[tr], seed)
        predictions[strategy.name] = predict([sent_a[i] for i in te], [sent_b[i] for i in te])
        costs[strategy.name] = {
            "tokens_per_side": float(np.mean([s.tokens for s in sent_a + sent_b])),
            "bytes_per_side": float(np.mean([s.bytes for s in sent_a + sent_b])),
        }
        if strategy.name == "full":
            costs["full"]["full_state_tokens_per_side"] = float(
                np.mean(data.full_state_a + data.full_state_b)
                + np.mean(data.output_a + data.output_b)
            )
        if progress:
            progress(done, steps)

    rng = np.random.default_rng(seed)
    yt = y[te]
    boots = [rng.integers(0, len(te), len(te)) for _ in range(rounds)]
    rows = []
    reference = predictions["reference: length only"]
    full = predictions.get("full")
    for name, p in predictions.items():
        point = metrics(yt, p)
        draws = [metrics(yt[b], p[b]) for b in boots]
        row: dict[str, Any] = {"strategy": name, **point, **costs.get(name, {})}
        for key in point:
            values = [d[key] for d in draws]
            row[f"{key}_ci95"] = [
                float(np.nanpercentile(values, 2.5)),
                float(np.nanpercentile(values, 97.5)),
            ]
        gain = [metrics(yt[b], p[b])["auc"] - metrics(yt[b], reference[b])["auc"] for b in boots]
        row["auc_minus_length_only_ci95"] = [
            float(np.nanpercentile(gain, 2.5)),
            float(np.nanpercentile(gain, 97.5)),
        ]
        is_reference = name.startswith("reference")
        row["preserves_quality"] = (
            None if is_reference else bool(row["auc_minus_length_only_ci95"][0] > 0)
        )
        if full is not None and not is_reference:
            full_auc = metrics(yt, full)["auc"]
            row["auc_retention_vs_full"] = (
                (point["auc"] - 0.5) / (full_auc - 0.5) if full_auc != 0.5 else None
            )
        rows.append(row)
    return {
        "build": built.build_id,
        "seed": seed,
        "bootstrap_rounds": rounds,
        "battles": n,
        "split": {
            "rule": f"sha256(seed, first user message) < {TEST_SHARE}: test; no prompt is in "
            "both splits",
            "train_decisive": len(tr),
            "test_decisive": len(te),
            "test_ties": int((test & ~decisive).sum()),
            "train_ties": int((~test & ~decisive).sum()),
        },
        "predictor": "logistic regression on (what A sent) - (what B sent): TF-IDF of the text "
        "and log(1 + tokens), or the vector; ties left out (reported apart)",
        "preserves_quality_rule": "the AUC minus the length-only reference's has a 95% "
        "bootstrap interval above zero",
        "results": rows,
    }


def render_html(bench: dict[str, Any]) -> str:
    """The cost vs quality plot (inline SVG) and the table, as one offline page."""
    fig, ax = figure(8, 4.5)
    for r in (r for r in bench["results"] if "bytes_per_side" in r):
        lo, hi = r["auc_ci95"]
        ax.errorbar(
            max(r["bytes_per_side"], 1),
            r["auc"],
            yerr=[[r["auc"] - lo], [hi - r["auc"]]],
            fmt="o",
            capsize=3,
            label=r["strategy"],
        )
    for r in bench["results"]:
        if r["strategy"].startswith("reference"):
            ax.axhline(r["auc"], linestyle="--", linewidth=1, color="grey")
            ax.annotate(r["strategy"], (ax.get_xlim()[0], r["auc"]), fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("bytes sent per side (mean)")
    ax.set_ylabel("AUC on held-out votes (95% CI)")
    ax.legend(fontsize=7, ncol=2)
    columns = [
        "strategy",
        "bytes_per_side",
        "tokens_per_side",
        "accuracy",
        "log_loss",
        "auc",
        "auc_ci95",
        "auc_retention_vs_full",
        "preserves_quality",
    ]
    body = (
        f"<p>{html.escape(bench['predictor'])}. A strategy preserves quality when "
        f"{html.escape(bench['preserves_quality_rule'])}.</p>"
        + plot("Cost against quality", fig)
        + html_table(bench["results"], columns)
    )
    return html_page("arenatok bench", body, build=bench["build"])


def write_bench(
    out: str | Path,
    strategies: Sequence[Strategy],
    *,
    seed: int = 0,
    rounds: int = 1000,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write bench.json and bench.html into `out`."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MissingExtraError("arenatok bench", "bench", "scikit-learn") from None
    bench = run_bench(out, strategies, seed=seed, rounds=rounds, limit=limit, progress=progress)
    write_bytes(Path(out) / BENCH_JSON, dumps_pretty(bench).encode("utf-8"))
    write_bytes(Path(out) / BENCH_HTML, render_html(bench).encode("utf-8"))
    return bench
