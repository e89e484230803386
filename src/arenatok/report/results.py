"""What `arenatok report` finds, as typed sections: `Report` and its parts, whose fields are
the keys of report.json in its order (`sections.Section`). The terminal, the page and the plots
read their attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

from typing_extensions import NotRequired, TypedDict

from arenatok.pipeline.metadata import Agreement, Source, VotesDiffer
from arenatok.sections import INTERNAL, OMIT, Section

FITS = ("bradley_terry", "length_controlled", "style_controlled")
"""The rating fits of a leaderboard's rows, in their order."""


class Coefficient(TypedDict):
    """A controlled fit's coefficient of one feature (log-odds of A winning per standard
    deviation of the feature's difference) with its 95% interval; a null one says why."""

    estimate: float | None
    ci95: NotRequired[list[float] | None]
    not_estimable: NotRequired[str]


Coefficients = dict[str, dict[str, Coefficient]]
"""By controlled fit (`length_controlled`, `style_controlled`), by feature: its coefficient."""


class Quantiles(TypedDict, total=False):
    """A distribution of one number: its count, mean, min, 5/25/50/75/95th percentiles (linear
    interpolation) and max; empty when there are no values."""

    n: int
    mean: float
    min: float
    p5: float
    p25: float
    median: float
    p75: float
    p95: float
    max: float


Histogram = dict[str, int]
"""Values per bin of `usage.HISTOGRAM_EDGES`, keyed "[lo, hi)" (the last ">= lo")."""


class Histograms(TypedDict):
    prompt_tokens_per_message: Histogram
    response_tokens_per_message: Histogram
    response_tokens_by_model: dict[str, Histogram]


@dataclass(kw_only=True)
class ModelRow(Section):
    """One model of a leaderboard: its ratings, each with its 95% interval and rank with
    uncertainty (where intervals were made). A rating, interval or rank that does not exist
    is null, and `not_estimable` says why (keyed by field; the null interval and rank of a
    null rating follow from it; a null interval's rank is null too)."""

    model: str
    battles: int
    online_elo: float
    bradley_terry: float | None
    bradley_terry_ci95: list[float] | None = field(default=None, metadata=OMIT)
    bradley_terry_rank: int | None = field(default=None, metadata=OMIT)
    length_controlled: float | None
    length_controlled_ci95: list[float] | None = field(default=None, metadata=OMIT)
    length_controlled_rank: int | None = field(default=None, metadata=OMIT)
    style_controlled: float | None
    style_controlled_ci95: list[float] | None = field(default=None, metadata=OMIT)
    style_controlled_rank: int | None = field(default=None, metadata=OMIT)
    not_estimable: dict[str, str] | None = field(default=None, metadata=OMIT)

    def keeps(self, name: str) -> bool:
        """Whether a null field is written as null: an interval, or a rank, that is not
        estimable."""
        why = self.not_estimable or {}
        return name in why or (name.endswith("_rank") and f"{name[:-5]}_ci95" in why)

    def rating(self, fit: str) -> float | None:
        """The rating of one of FITS (None: it has none)."""
        value: float | None = getattr(self, fit)
        return value

    def interval(self, fit: str) -> list[float] | None:
        """The 95% interval of one of FITS, if made and estimable."""
        value: list[float] | None = getattr(self, f"{fit}_ci95")
        return value

    def rank(self, fit: str) -> int | None:
        value: int | None = getattr(self, f"{fit}_rank")
        return value

    def not_rated(self) -> bool:
        """Whether the model has no rating (separation: `report.separation`)."""
        return self.bradley_terry is None

    def flat_intervals(self) -> bool:
        """Whether an interval of its ratings is not estimable."""
        return any(self.why_not(f"{fit}_ci95") for fit in FITS)

    def why_not(self, name: str) -> str | None:
        """What the tables show for a null rating or interval (`name`: one of FITS, or its
        `_ci95`): the words before the colon of its reason ("unbounded above", "not
        estimable"); None where it exists or was not made."""
        why = (self.not_estimable or {}).get(name)
        return None if why is None else why.split(":")[0]


@dataclass(kw_only=True)
class Board(Section):
    """A leaderboard: its battles (and how many the fits left out: those of models without a
    rating), the controlled fits' coefficients, its models best first, the groups of models
    that never met (where there are several), and the rated sets, each on its own scale
    (where two are in one group: `report.separation`)."""

    battles: int
    battles_left_out: int | None = field(default=None, metadata=OMIT)
    coefficients: Coefficients
    models: list[ModelRow]
    separate_groups: list[list[str]] | None = field(default=None, metadata=OMIT)
    rated_sets: list[list[str]] | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class PairRow(Section):
    """A pair of models that met: the first's observed score against the predicted one (null
    where a model of the pair has no rating)."""

    model: str
    opponent: str
    battles: int
    observed_score: float
    predicted_score: float | None
    difference: float | None
    z: float | None


@dataclass(kw_only=True)
class Filters(Section):
    """What the filters left of the battles."""

    anony_only: bool
    min_battles: int
    excluded_models: list[str]
    models_below_min_battles: list[str]
    battles_before: int
    battles_after: int


@dataclass(kw_only=True)
class Ratings(Section):
    """The ratings section: the method in words, the leaderboard, the pairs, the filters."""

    method: dict[str, str]
    length_coefficient: float | None
    length_coefficient_definition: str
    battles: int
    battles_left_out: int | None = field(default=None, metadata=OMIT)
    coefficients: Coefficients
    models: list[ModelRow]
    separate_groups: list[list[str]] | None = field(default=None, metadata=OMIT)
    rated_sets: list[list[str]] | None = field(default=None, metadata=OMIT)
    pairwise: list[PairRow]
    filters: Filters | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class SliceRow(Section):
    """One slice: its battles, and its leaderboard unless it has too few."""

    slice: str
    battles: int
    battles_left_out: int | None = field(default=None, metadata=OMIT)
    too_few_battles: bool | None = field(default=None, metadata=OMIT)
    coefficients: Coefficients | None = field(default=None, metadata=OMIT)
    models: list[ModelRow] | None = field(default=None, metadata=OMIT)
    separate_groups: list[list[str]] | None = field(default=None, metadata=OMIT)
    rated_sets: list[list[str]] | None = field(default=None, metadata=OMIT)


@dataclass(kw_only=True)
class Slices(Section):
    by: str
    min_battles_per_slice: int
    slices: list[SliceRow]


@dataclass(kw_only=True)
class PairCount(Section):
    model_a: str
    model_b: str
    battles: int


@dataclass(kw_only=True)
class ModelPairs(Section):
    ordered: int
    unordered: int


@dataclass(kw_only=True)
class Counts(Section):
    """Battles, models, pairs, votes, turns, languages and flag rates of every battle."""

    battles: int
    models: int
    model_pairs: ModelPairs
    pair_counts: list[PairCount]
    winner_distribution: dict[str, dict[str, float]]
    per_model: dict[str, dict[str, int]]
    turns_per_battle: dict[str, int]
    languages_top20: dict[str, int]
    flagged: dict[str, float]


@dataclass(kw_only=True)
class TurnCost(Section):
    """Battles of one number of turns: mean input, plain and with the history resent."""

    battles: int
    mean_plain_input: float
    mean_full_state_input: float
    full_state_over_plain: float | None


@dataclass(kw_only=True)
class Tokens(Section):
    """Token distributions (each a dict of quantiles: n, mean, p5 ... max)."""

    prompt_tokens_per_message: Quantiles
    response_tokens_per_message: Quantiles
    response_tokens_by_model: dict[str, Quantiles]
    histograms: Histograms
    total_tokens_per_battle: Quantiles
    coordination_overhead: Quantiles
    full_state_vs_plain_input_by_turns: dict[str, TurnCost]

    def distributions(self) -> dict[str, Quantiles]:
        """The distributions of one number per message or battle, by name."""
        every = {
            "prompt_tokens_per_message": self.prompt_tokens_per_message,
            "response_tokens_per_message": self.response_tokens_per_message,
            "total_tokens_per_battle": self.total_tokens_per_battle,
            "coordination_overhead": self.coordination_overhead,
        }
        return {name: q for name, q in every.items() if q}  # none of no values


@dataclass(kw_only=True)
class BiasRow(Section):
    """One bin of |tokens_a - tokens_b|: how often the longer answer won a decisive vote."""

    token_difference: str
    battles: int
    decisive: int
    ties: int
    longer_won_rate: float | None


@dataclass(kw_only=True)
class SpecRow(Section):
    """A figure of the specification report beside ours, and why they differ."""

    figure: str
    report: str
    ours: str
    why: str


@dataclass(kw_only=True)
class SourceRow(Section):
    source: int
    name: str
    layout: str | None
    battles: int | None
    later_copies_within: int
    later_copies_of_other_sources: int


@dataclass(kw_only=True)
class Sources(Section):
    """Per source its battles and copies, their overlap, the copies whose votes differ."""

    sources: list[SourceRow]
    overlap_matrix: list[list[int]]
    overlap_matrix_rule: str
    later_copies: dict[str, int] | None
    votes_differ: int
    votes_differ_list: list[VotesDiffer]


@dataclass(kw_only=True)
class Report(Section):
    """Every number of the report (report.json)."""

    arenatok_version: str
    build: str
    dataset: str
    source: Source
    tokenizer: str
    counts: Counts
    tokens: Tokens
    ratings: Ratings
    slices: Slices | None = field(default=None, metadata=OMIT)
    length_bias: list[BiasRow]
    source_token_agreement: dict[str, Agreement] | None
    source_style_agreement: dict[str, Agreement] | None
    specification_report: list[SpecRow]
    sources: Sources
    caveats: list[str] = field(default_factory=list)
    ratings_seconds: float = field(default=0.0, metadata=INTERNAL, compare=False)
    """How long the ratings took (for the terminal; not in report.json)."""
