"""`run_bench`: the stages of a bench run (`files.write_bench` writes what it finds).

Stages: read the builds in shards (worker processes), the split, the references, each
strategy's features (in this process, from the shared representations) and its predictor's fit
(on a background thread, while the next strategy is prepared), then the paired bootstrap and
the verdicts.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from typing_extensions import TypedDict

from arenatok.bench import classifier, costs, predict, verdicts
from arenatok.bench.corpus import TEST_SHARE, Corpus, plan_shards, read_shard
from arenatok.bench.results import Bench, BuildEntry, ResultRow, Split
from arenatok.bench.shared import Batch, Shared
from arenatok.bench.strategies import AnyStrategy
from arenatok.bench.strategies.text import Full
from arenatok.dataset.built import build_id, check_stream, read_metadata
from arenatok.errors import (
    OptionError,
    SourceError,
)
from arenatok.options import Outcome, check_choice, check_margin, check_rounds, check_seed
from arenatok.pipeline.metadata import Metadata
from arenatok.runtime.workers import Background, Pool, trim_memory

Progress = Callable[..., None]
"""Called with (steps done, steps in all, stage): a step is a shard read, a predictor fitted
or a block of bootstrap rounds."""


def _without_copies(corpus: Corpus, battles: list[int]) -> tuple[Corpus, list[int]]:
    """The pooled battles without the copies, in a later build, of a battle of an earlier
    one (the same normalized key: the build's same-battle rule); and how many each
    build lost. Copies within one build are the build's to flag and stay."""
    build = np.repeat(np.arange(len(battles)), battles)
    _, first, inverse = np.unique(corpus.key, return_index=True, return_inverse=True)
    copy = build > build[first][inverse]
    if not copy.any():
        return corpus, [0] * len(battles)
    return corpus.take(~copy), np.bincount(build[copy], minlength=len(battles)).tolist()


def _votes(corpus: Corpus, outcome: str) -> tuple[np.ndarray, np.ndarray]:
    """The labels (binary: 1 if A won; three-way: 0 B, 1 A, 2 tie) and which battles count."""
    vote = corpus.vote.astype(np.int64)
    if outcome == "three-way":
        return vote, np.ones(len(vote), dtype=bool)
    return (vote == 1).astype(np.int64), vote < 2


class BenchOptions(TypedDict, total=False):
    """The options of `run_bench`, which `write_bench` passes on."""

    seed: int
    rounds: int
    limit: int | None
    outcome: Outcome
    margin: float
    jobs: int
    progress: Progress | None


def run_bench(
    out: str | Path | Sequence[str | Path],
    strategies: Sequence[AnyStrategy],
    *,
    seed: int = 0,
    rounds: int = 1000,
    limit: int | None = None,
    outcome: Outcome = "binary",
    margin: float = 0.02,
    jobs: int = 1,
    progress: Progress | None = None,
) -> Bench:
    """Every strategy's cost and the quality its messages retain, with paired bootstrap
    intervals, two verdicts (non-inferior to `full` within `margin`; uses content: better than
    the length-only reference), what the test split can detect, and the answer (the cheapest
    strategy that keeps the signal; the cost-quality frontier). `full` always runs (it is the
    reference of the first verdict), asked for or not; a strategy's row depends only on the
    data, the split, the seed and the strategy, never on which others run. `out`: one built
    directory or several, pooled (split by the same prompt hash across all of them).
    `outcome`: "binary" (A or B, ties left out; compared on AUC) or "three-way" (A, B or tie;
    compared on multiclass log-loss). `rounds`: bootstrap rounds, 0 (the scores without
    intervals, verdicts or power) or at least 100 (`options.check_rounds`, as the command line).
    `jobs`: worker processes (the numbers do not depend on it)."""
    check_choice(outcome, Outcome, "outcome")
    check_seed(seed)
    check_margin(margin)
    check_rounds(rounds)
    names = [getattr(s, "name", None) for s in strategies]
    twice = sorted({str(n) for n in names if names.count(n) > 1})
    if twice:
        raise OptionError(
            f"strategy {', '.join(twice)} given more than once (results are keyed by name)",
            hint="give each strategy once; a strategy of your own needs a name of its own",
        )
    outs = [Path(out)] if isinstance(out, str | Path) else [Path(o) for o in out]
    if "full" not in names:  # the reference of every verdict: it always runs
        strategies = [Full(), *strategies]
    return _run(outs, strategies, jobs, seed, rounds, limit, outcome, margin, progress)


@dataclass
class _Run:
    """A run's settings, and the progress bar's count of its steps: a shard read, a
    predictor fitted, a block of bootstrap rounds."""

    outs: list[Path]
    strategies: Sequence[AnyStrategy]
    jobs: int
    seed: int
    rounds: int
    limit: int | None
    outcome: str
    margin: float
    progress: Progress | None
    steps: int = 0
    done: int = 0

    @property
    def three_way(self) -> bool:
        return self.outcome == "three-way"

    def tick(self, stage: str) -> None:
        if self.progress:
            self.done += 1
            self.progress(self.done, self.steps, stage)

    def too_few(self, train: int, test: int) -> SourceError:
        return SourceError(
            f"{self.outs[0]}: too few {'votes' if self.three_way else 'decisive votes'} to "
            f"train and test on ({train} / {test})",
            hint="bench needs a few hundred battles with human votes",
        )


@dataclass
class _Votes:
    """The labels (binary: 1 if A won; three-way: 0 B, 1 A, 2 tie), the training and test
    battles that count, and which battles are decisive and in the test split."""

    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    in_test: np.ndarray
    decisive: np.ndarray


def _metas(outs: list[Path]) -> list[Metadata]:
    """Each build's checked metadata; a build given twice is refused."""
    metas = [read_metadata(o) for o in outs]
    seen: dict[str, Path] = {}
    for o, m in zip(outs, metas, strict=True):
        first = seen.setdefault(build_id(m), o)
        if first is not o:
            raise OptionError(
                f"{o} is the same build as {first} (data_out.jsonl sha256 {build_id(m)[:12]}…): "
                "pooled, its battles would count twice",
                hint="give each build once",
            )
    return metas


def _read(run: _Run, metas: list[Metadata]) -> tuple[Corpus, list[int], list[int]]:
    """The builds read in shards by the workers (each record checked; each build's files
    against its metadata on threads meanwhile): the corpus, each build's battles, and how many
    each lost as copies of an earlier build's."""
    files_checked = [Background(check_stream, o, m) for o, m in zip(run.outs, metas, strict=True)]
    # The same-battle keys are made only when builds are pooled: nothing else needs them.
    keys = len(run.outs) > 1
    shards = [plan_shards(o, limit=run.limit, seed=run.seed, keys=keys) for o in run.outs]
    blocks = -(-run.rounds // verdicts.BLOCK)
    run.steps = sum(map(len, shards)) + 2 * len(run.strategies) + 3 + blocks + 1
    if run.progress:
        run.progress(0, run.steps, "reading")
    parts = []
    with Pool(run.jobs) as pool:  # the workers read and tokenise; the rest runs here
        for part in pool.map(read_shard, [s for build in shards for s in build]):
            parts.append(part)
            run.tick("reading")
    for checked in files_checked:
        checked.result()
    cuts = [0, *itertools.accumulate(len(build) for build in shards)]
    battles = [sum(len(p) for p in parts[a:b]) for a, b in itertools.pairwise(cuts)]
    if not parts:
        raise run.too_few(0, 0)
    corpus = Corpus.concat(parts)
    del parts
    left_out = [0] * len(run.outs)
    if len(run.outs) > 1:
        corpus, left_out = _without_copies(corpus, battles)
    trim_memory()
    return corpus, battles, left_out


def _split(run: _Run, corpus: Corpus) -> _Votes:
    """The votes that train and test the predictors; too few, or all one way, refused."""
    y, used = _votes(corpus, run.outcome)
    in_test = corpus.test
    train, test = np.flatnonzero(~in_test & used), np.flatnonzero(in_test & used)
    if len(train) < verdicts.MIN_VOTES or len(test) < verdicts.MIN_VOTES:
        raise run.too_few(len(train), len(test))
    learn = "a predictor cannot learn which side wins from one kind of vote"
    one_kind = [(train, "training", learn)]
    if not run.three_way:  # log-loss scores votes of one outcome; an AUC needs both
        one_kind.append((test, "test", "an AUC needs both"))
    for part, split, why in one_kind:
        if len(set(y[part])) < 2:
            votes = "vote" if run.three_way else "decisive vote"
            won = {0: "model_b", 1: "model_a", 2: "tie"}[int(corpus.vote[part[0]])]
            raise SourceError(
                f"{run.outs[0]}: every {votes} of the {split} split has one outcome ({won}): "
                + why,
                hint="bench builds whose votes go both ways (both models win some battles)",
            )
    return _Votes(y, train, test, in_test, corpus.vote < 2)


def _predict(
    run: _Run, corpus: Corpus, votes: _Votes, shared: Shared
) -> tuple[dict[str, np.ndarray], dict[str, Batch]]:
    """Every predictor's predictions of the test votes (the references', then each
    strategy's), and what each strategy sent. A strategy's features are made here while the
    previous one's predictor is fitted on a background thread (one at a time: each holds its
    features)."""
    classes = 3 if run.three_way else 2
    predictions: dict[str, np.ndarray] = {}
    pending: deque[tuple[str, Any, Background[Any]]] = deque()
    tr, te = votes.train, votes.test

    def collect() -> None:
        name, x_test, fitting = pending.popleft()
        predictions[name] = classifier.predict(fitting.result(), x_test, classes)
        run.tick("fitting predictors")

    def fit(name: str, x_train: Any, x_test: Any) -> None:
        while pending:
            collect()
        fitting = Background(classifier.fit, x_train, votes.y[tr], run.seed)
        pending.append((name, x_test, fitting))

    for name, x in predict.references(corpus, run.three_way).items():
        fit(name, x[tr], x[te])
    sent: dict[str, Batch] = {}
    sides = None
    for strategy in run.strategies:
        if hasattr(strategy, "send_many"):
            batch = strategy.send_many(shared)
        else:
            if sides is None:
                a, b = predict.texts(corpus)
                sides = a + b
            batch = predict.per_side(strategy, shared, sides)
        x_train, x_test = predict.features(batch, shared, run.three_way, (tr, te))
        batch.bags = batch.vectors = batch.parts = None  # what it sent is in the features now
        sent[strategy.name] = batch
        trim_memory()
        run.tick(f"strategy {strategy.name}")
        fit(strategy.name, x_train, x_test)
        del x_train, x_test
    while pending:
        collect()
    order = [*predict.REFERENCES, *(s.name for s in run.strategies)]
    return {name: predictions[name] for name in order}, sent


def _rows(
    run: _Run,
    corpus: Corpus,
    votes: _Votes,
    predictions: dict[str, np.ndarray],
    sent: dict[str, Batch],
    turns_per_side: np.ndarray,
) -> list[ResultRow]:
    """Every predictor's row: the paired bootstrap over the test votes, the verdicts, what
    each strategy sent, the quality by number of turns."""
    metric, better = verdicts.OUTCOMES[run.outcome]
    yt = votes.y[votes.test]
    draws = verdicts.bootstrap(
        yt, predictions, run.three_way, run.rounds, run.seed, lambda: run.tick("bootstrap")
    )
    points = {name: verdicts.point(yt, p, run.three_way) for name, p in predictions.items()}
    rows = verdicts.verdict_rows(points, draws, metric, better, run.margin)
    turns = corpus.turns[votes.test]
    for row in rows:
        batch = sent.get(row.strategy)
        if batch is not None:
            row.tokens_per_side = float(batch.tokens.mean())
            row.bytes_per_side = float(batch.bytes.mean())
            row.cost_by_turn = costs.by_turn(
                batch.by_turn_tokens, batch.by_turn_bytes, turns_per_side
            )
        p = predictions[row.strategy]
        for label, mask in (("single-turn", turns == 1), ("multi-turn", turns > 1)):
            k = np.flatnonzero(mask)
            if len(k) >= verdicts.MIN_VOTES and len(set(yt[k])) > 1:
                score = verdicts.point(yt[k], p[k], run.three_way)[metric]
                row.by_turns[label] = {"votes": len(k), metric: score}
    run.tick("verdicts")
    return rows


def _run(
    outs: list[Path],
    strategies: Sequence[AnyStrategy],
    jobs: int,
    seed: int,
    rounds: int,
    limit: int | None,
    outcome: str,
    margin: float,
    progress: Progress | None,
) -> Bench:
    run = _Run(outs, strategies, jobs, seed, rounds, limit, outcome, margin, progress)
    metas = _metas(outs)
    corpus, battles, left_out = _read(run, metas)
    votes = _split(run, corpus)
    learn = np.flatnonzero(~votes.in_test & votes.decisive)
    shared = Shared(corpus, votes.train, learn, (corpus.vote[learn] == 1).astype(float), seed)
    predictions, sent = _predict(run, corpus, votes, shared)
    rows = _rows(run, corpus, votes, predictions, sent, shared.turns_per_side)
    metric, better = verdicts.OUTCOMES[outcome]
    return Bench(
        builds=[
            BuildEntry(
                path=str(o),
                build=build_id(m),
                battles=b,
                left_out_as_copies_of_an_earlier_build=lost,
            )
            for o, m, b, lost in zip(outs, metas, battles, left_out, strict=True)
        ],
        build=build_id(metas[0]),
        seed=seed,
        bootstrap_rounds=rounds,
        battles=len(corpus),
        outcome=outcome,
        compared_on=metric,
        margin=margin,
        split=_split_section(run, votes),
        power=verdicts.power(rows, metric, len(votes.test), rounds),
        answer=verdicts.answer(rows, metric, better, rounds),
        predictor="logistic regression on (what A sent) - (what B sent): TF-IDF of the "
        "cl100k_base tokens of the text and log(1 + tokens), or the vector"
        + (
            "; and its absolute value (multinomial: A, B, tie)"
            if run.three_way
            else "; ties left out"
        ),
        verdicts={
            "non_inferior_to_full": f"the 95% interval of {metric}(strategy) - {metric}(full) "
            + (f"lies above -{margin}" if better > 0 else f"lies below +{margin}"),
            "uses_content": f"the 95% interval of {metric}(strategy) - {metric}(length-only "
            "reference) " + ("lies above 0" if better > 0 else "lies below 0"),
        },
        cost_by_turn_full_state=costs.full_state_by_turn(shared),
        results=rows,
    )


def _split_section(run: _Run, votes: _Votes) -> Split:
    in_test, decisive = votes.in_test, votes.decisive
    return Split(
        rule=f"sha256(seed, first user message) < {TEST_SHARE}: test; no prompt is in both "
        "splits, across every build pooled",
        train_votes=len(votes.train),
        test_votes=len(votes.test),
        train_decisive=int((~in_test & decisive).sum()),
        test_decisive=int((in_test & decisive).sum()),
        test_ties=int((in_test & ~decisive).sum()),
        train_ties=int((~in_test & ~decisive).sum()),
        ties="predicted as a third class" if run.three_way else "left out",
    )
