"""What `arenatok bench` finds, as typed sections: `Bench` and its parts, whose fields are the
keys of bench.json in its order (`sections.Section`). A row's scores are named after the metric
the bench compares on (`auc` or `log_loss`): the fields `score`, `minus_full`, ... take that
name in the file. The terminal and the page read their attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

from arenatok.sections import INTERNAL, OMIT, Section

SCORES = ("accuracy", "log_loss", "auc")
"""The scores of a predictor, in the file's order (three-way has no AUC)."""


class _Metric(Section):
    """A section whose fields named after the metric (`score`, `minus_*`) take its name."""

    metric: str

    def key(self, name: str) -> str:
        if name == "score":
            return self.metric
        if name.startswith("minus_"):
            return f"{self.metric}_{name}"
        return name


@dataclass(kw_only=True)
class ResultRow(_Metric):
    """A predictor's row: its scores with 95% intervals, the comparisons with the length-only
    reference and with full (verdicts, the difference detectable), what it sent (a strategy;
    not a reference) and its quality by number of turns. An interval, a verdict or a
    difference detectable that cannot be told (`verdicts.interval95`, `verdicts.spread`) is
    left out."""

    metric: str = field(metadata=INTERNAL)
    strategy: str
    accuracy: float
    log_loss: float
    auc: float | None = field(default=None, metadata=OMIT)
    accuracy_ci95: list[float] | None = field(default=None, metadata=OMIT)
    log_loss_ci95: list[float] | None = field(default=None, metadata=OMIT)
    auc_ci95: list[float] | None = field(default=None, metadata=OMIT)
    minus_length_only_ci95: list[float] | None = field(default=None, metadata=OMIT)
    uses_content: bool | None = field(default=None, metadata=OMIT)
    minus_full: float | None = field(default=None, metadata=OMIT)
    minus_full_ci95: list[float] | None = field(default=None, metadata=OMIT)
    non_inferior_to_full: bool | None = field(default=None, metadata=OMIT)
    detectable_difference_vs_full: float | None = field(default=None, metadata=OMIT)
    tokens_per_side: float | None = field(default=None, metadata=OMIT)
    bytes_per_side: float | None = field(default=None, metadata=OMIT)
    cost_by_turn: list[dict[str, float]] | None = field(default=None, metadata=OMIT)
    by_turns: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The score on the metric compared on."""
        value: float = getattr(self, self.metric)
        return value

    @property
    def score_ci95(self) -> list[float] | None:
        """The 95% interval of the score (None without bootstrap intervals)."""
        value: list[float] | None = getattr(self, f"{self.metric}_ci95")
        return value

    @property
    def is_reference(self) -> bool:
        """A reference that sees no content, not a strategy."""
        return self.strategy.startswith("reference")


@dataclass(kw_only=True)
class Pick(_Metric):
    """A strategy the answer names: what it costs and scores."""

    metric: str = field(metadata=INTERNAL)
    strategy: str
    bytes_per_side: float
    score: float
    share_of_full_bytes: float | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class Answer(Section):
    """The cheapest strategies with each verdict and the frontier; without any verdict, why
    (`cannot_tell`)."""

    cheapest_non_inferior_to_full: Pick | None
    cheapest_using_content: Pick | None
    frontier: list[Pick]
    rule: str
    cannot_tell: str | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class Power(Section):
    """What the test split can detect (nothing to say without strategies beside full), or why
    it cannot tell (`cannot_tell`)."""

    test_votes: int
    detectable_difference: float | None = field(default=None, metadata=OMIT)
    rule: str | None = field(default=None, metadata=OMIT)
    votes_needed: dict[str, int] | None = field(default=None, metadata=OMIT)
    cannot_tell: str | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class BuildEntry(Section):
    path: str
    build: str
    battles: int
    left_out_as_copies_of_an_earlier_build: int


@dataclass(kw_only=True)
class Split(Section):
    rule: str
    train_votes: int
    test_votes: int
    train_decisive: int
    test_decisive: int
    test_ties: int
    train_ties: int
    ties: str


@dataclass(kw_only=True)
class Bench(Section):
    """Every number of the bench (bench.json)."""

    builds: list[BuildEntry]
    build: str
    seed: int
    bootstrap_rounds: int
    battles: int
    outcome: str
    compared_on: str
    margin: float
    split: Split
    power: Power
    answer: Answer
    predictor: str
    verdicts: dict[str, str]
    cost_by_turn_full_state: list[dict[str, float]]
    results: list[ResultRow]
