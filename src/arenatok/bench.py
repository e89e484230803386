"""`arenatok bench`: how much of the human preference signal survives when each side sends
less (compressed messages, low-rank vectors instead of text), against what it saves.

A strategy maps one side's messages of a battle (the shared user messages and that side's
answers) to what is communicated, and says what that costs in tokens and bytes. A preference
predictor, trained on one split, sees only what the two sides communicated and predicts the
human winner on the other split. Scikit-learn does the learning (the `bench` extra).
"""

from __future__ import annotations

import hashlib
import html
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from arenatok import ratings
from arenatok.errors import ArenatokError, SourceError
from arenatok.load import read_built
from arenatok.tokens import get_encoding
from arenatok.write import dumps_pretty, write_bytes

BENCH_JSON = "bench.json"
BENCH_HTML = "bench.html"
TEST_SHARE = 0.2


@dataclass(frozen=True)
class Side:
    """One side of a battle: the user messages and this side's answers, turn by turn."""

    users: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass
class Sent:
    """What one side communicated: text, or a vector; and what it cost."""

    text: str | None = None
    vector: np.ndarray | None = None
    tokens: int = 0
    bytes: int = 0


@runtime_checkable
class Strategy(Protocol):
    """Plug your own in with `--strategy my_module:MyStrategy` (a class made without
    arguments). `fit` sees the training split's sides (and may ignore them)."""

    name: str

    def fit(self, sides: Sequence[Side]) -> None: ...

    def send(self, side: Side) -> Sent: ...


def _tokens(text: str) -> list[int]:
    return get_encoding("cl100k_base").encode_ordinary(text)


def _text_sent(parts: Sequence[str]) -> Sent:
    text = "\n\n".join(parts)
    return Sent(
        text=text, tokens=sum(len(_tokens(p)) for p in parts), bytes=len(text.encode("utf-8"))
    )


class Full:
    """Everything: every user message and answer (the baseline)."""

    name = "full"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        return _text_sent([m for pair in zip(side.users, side.answers, strict=True) for m in pair])


class LastTurn:
    """Only the last turn: its user message and answer."""

    name = "last_turn"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        return _text_sent([side.users[-1], side.answers[-1]])


class Truncate:
    """The first (head) or last (tail) K tokens (cl100k_base) of each message."""

    def __init__(self, k: int, *, tail: bool = False) -> None:
        if k < 1:
            raise ArenatokError(f"truncation needs a positive number of tokens, got {k}")
        self.k, self.tail = k, tail
        self.name = f"truncate_{'tail' if tail else 'head'}:{k}"

    def fit(self, sides: Sequence[Side]) -> None:
        pass

    def send(self, side: Side) -> Sent:
        enc = get_encoding("cl100k_base")
        kept_tokens = 0
        parts = []
        for message in (m for pair in zip(side.users, side.answers, strict=True) for m in pair):
            ids = enc.encode_ordinary(message)
            kept = ids[-self.k :] if self.tail else ids[: self.k]
            kept_tokens += len(kept)
            parts.append(enc.decode(kept))
        text = "\n\n".join(parts)
        return Sent(text=text, tokens=kept_tokens, bytes=len(text.encode("utf-8")))


class LowRank:
    """Each message as a rank-R vector: TF-IDF fitted on the training split, then truncated
    SVD; a side sends one vector per message, summed. Cost: R numbers per message, counted as
    float16 bytes."""

    def __init__(self, rank: int, *, seed: int = 0) -> None:
        if rank < 1:
            raise ArenatokError(f"lowrank needs a positive rank, got {rank}")
        self.rank, self.seed = rank, seed
        self.name = f"lowrank:{rank}"

    def fit(self, sides: Sequence[Side]) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [m for s in sides for m in (*s.users, *s.answers)]
        self.vectorizer = TfidfVectorizer(min_df=2, max_features=30000, sublinear_tf=True)
        x = self.vectorizer.fit_transform(texts)
        rank = min(self.rank, x.shape[1] - 1, x.shape[0] - 1)
        self.svd = TruncatedSVD(n_components=max(1, rank), random_state=self.seed).fit(x)

    def send(self, side: Side) -> Sent:
        messages = [m for pair in zip(side.users, side.answers, strict=True) for m in pair]
        vectors = self.svd.transform(self.vectorizer.transform(messages))
        return Sent(vector=vectors.sum(axis=0), bytes=2 * self.rank * len(messages))


BUILT_IN = ("full", "last_turn", "truncate_head", "truncate_tail", "lowrank")


def parse_strategies(specs: Sequence[str], *, seed: int = 0) -> list[Strategy]:
    """`full`, `last_turn`, `truncate_head:32,64`, `truncate_tail:K`, `lowrank:R[,R...]`, or
    `module:Class` for your own."""
    out: list[Strategy] = []
    for spec in specs:
        name, _, params = spec.partition(":")
        if name in ("full", "last_turn"):
            out.append(Full() if name == "full" else LastTurn())
        elif name in BUILT_IN:
            try:
                values = [int(v) for v in params.split(",") if v.strip()]
            except ValueError:
                raise ArenatokError(f"{spec}: {name} takes whole numbers, e.g. {name}:64") from None
            if not values:
                raise ArenatokError(f"{spec}: say how much, e.g. {name}:64")
            for v in values:
                if name == "lowrank":
                    out.append(LowRank(v, seed=seed))
                else:
                    out.append(Truncate(v, tail=name == "truncate_tail"))
        elif params:
            out.append(_user_strategy(name, params))
        else:
            raise ArenatokError(
                f"unknown strategy: {spec!r}",
                hint=f"built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out


def _user_strategy(module: str, attr: str) -> Strategy:
    try:
        cls = getattr(importlib.import_module(module), attr)
        strategy = cls()
    except (ImportError, AttributeError, TypeError) as e:
        raise ArenatokError(
            f"cannot load strategy {module}:{attr} ({type(e).__name__}: {e})",
            hint="the module must be importable (on PYTHONPATH) and the class made without "
            "arguments",
        ) from None
    if not isinstance(strategy, Strategy):
        raise ArenatokError(f"{module}:{attr} is not a strategy: it needs name, fit and send")
    return strategy


# ---- data and split ---------------------------------------------------------------------------


@dataclass
class Battles:
    """The battles of a built dataset that a predictor can learn from."""

    a: list[Side] = field(default_factory=list)
    b: list[Side] = field(default_factory=list)
    model_a: list[str] = field(default_factory=list)
    model_b: list[str] = field(default_factory=list)
    winner: list[str] = field(default_factory=list)
    first_prompt: list[str] = field(default_factory=list)
    tokens_a: list[int] = field(default_factory=list)
    tokens_b: list[int] = field(default_factory=list)
    full_state_a: list[int] = field(default_factory=list)
    full_state_b: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, out: Path, limit: int | None = None) -> Battles:
        data = cls()
        read_built(out, data._add, limit=limit)
        return data

    def _add(self, r: dict[str, Any]) -> None:
        c = r["context"]
        conv = c["conversation"]
        users = tuple(t["user"] for t in conv)
        u = c["token_usage"]
        self.a.append(Side(users, tuple(t["response_a"] for t in conv)))
        self.b.append(Side(users, tuple(t["response_b"] for t in conv)))
        self.model_a.append(c["model_a"])
        self.model_b.append(c["model_b"])
        self.winner.append(c["winner"])
        self.first_prompt.append(users[0])
        self.tokens_a.append(u["total_output_tokens_a"])
        self.tokens_b.append(u["total_output_tokens_b"])
        self.full_state_a.append(u["full_state"]["full_state_input_tokens_a"])
        self.full_state_b.append(u["full_state"]["full_state_input_tokens_b"])


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
) -> dict[str, Any]:
    """Every strategy's cost and the quality its messages retain, with bootstrap intervals."""
    from sklearn.linear_model import LogisticRegression

    data = Battles.read(Path(out), limit)
    n = len(data.winner)
    test = np.array([in_test_split(p, seed=seed) for p in data.first_prompt])
    decisive = np.array([w in ratings.DECISIVE for w in data.winner])
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
    ta, tb = np.asarray(data.tokens_a, float), np.asarray(data.tokens_b, float)
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

    for strategy in strategies:
        strategy.fit([data.a[i] for i in tr] + [data.b[i] for i in tr])
        sent_a = [strategy.send(data.a[i]) for i in range(n)]
        sent_b = [strategy.send(data.b[i]) for i in range(n)]
        predict = _pair_model([sent_a[i] for i in tr], [sent_b[i] for i in tr], y[tr], seed)
        predictions[strategy.name] = predict([sent_a[i] for i in te], [sent_b[i] for i in te])
        costs[strategy.name] = {
            "tokens_per_side": float(np.mean([s.tokens for s in sent_a + sent_b])),
            "bytes_per_side": float(np.mean([s.bytes for s in sent_a + sent_b])),
        }
        if strategy.name == "full":
            costs["full"]["full_state_tokens_per_side"] = float(
                np.mean(data.full_state_a + data.full_state_b)
                + np.mean(data.tokens_a + data.tokens_b)
            )

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
    from arenatok.report import html_page, html_table, pyplot, svg_of

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
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
        f'<figure class="plot">{svg_of(fig)}</figure>' + html_table(bench["results"], columns)
    )
    return html_page("arenatok bench", body)


def write_bench(
    out: str | Path,
    strategies: Sequence[Strategy],
    *,
    seed: int = 0,
    rounds: int = 1000,
    limit: int | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write bench.json and bench.html into `out`."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ArenatokError(
            "arenatok bench needs scikit-learn, which is not installed",
            hint="pip install 'arenatok[bench]'",
        ) from None
    bench = run_bench(out, strategies, seed=seed, rounds=rounds, limit=limit)
    write_bytes(Path(out) / BENCH_JSON, dumps_pretty(bench).encode("utf-8"))
    write_bytes(Path(out) / BENCH_HTML, render_html(bench).encode("utf-8"))
    return bench
