"""artifact_metadata.json, typed where the build makes it (`pipeline.driver`) and read back by
every command through the same types (`dataset.check.read_metadata`): `Metadata` and its
sections. Types are strict when read (a count is a whole number, not a string or a float); a
missing section is a problem (`metadata_problem`). Sections of provenance (a source, the
tokenizer, the counter) may carry more fields than arenatok reads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from typing_extensions import NotRequired, TypedDict

from arenatok.runtime.atomic import Listed

Count = Annotated[StrictInt, Field(ge=0)]
Sha256 = Annotated[StrictStr, Field(pattern="^[0-9a-f]{64}$")]
Number = StrictInt | StrictFloat


class Counts(TypedDict):
    rows_read: Count
    rows_written: Count
    rows_rejected: Count
    rows_dropped: Count


COUNTS: tuple[Literal["rows_read", "rows_written", "rows_rejected", "rows_dropped"], ...] = (
    "rows_read",
    "rows_written",
    "rows_rejected",
    "rows_dropped",
)
"""The keys of `Counts`, in its order."""


class Compressed(TypedDict):
    """A compressed source file's own codec, sha256 and size (the source's are its data's)."""

    codec: StrictStr
    sha256: Sha256
    bytes: Count


class Provenance(TypedDict):
    """Where a source's file comes from: a local file (its path and file type) or the Hub
    (repo, revision, file); the sha256 and size of its data."""

    kind: Literal["local_file", "huggingface_hub"]
    path: NotRequired[StrictStr | None]
    file_type: NotRequired[StrictStr | None]
    repo_id: NotRequired[StrictStr | None]
    revision: NotRequired[StrictStr | None]
    filename: NotRequired[StrictStr | None]
    sha256: Sha256
    bytes: Count
    compressed: NotRequired[Compressed]


class Source(Provenance):
    """A source: where its file comes from and the layout it is read in."""

    layout: StrictStr
    layout_of: StrictStr | None


class IndexedSource(Source):
    index: Count
    counts: Counts


class Selection(TypedDict):
    limit: Count | Literal["all"]
    rule: StrictStr
    row_numbers: StrictStr


class Options(TypedDict):
    counters: list[StrictStr]
    on_bad_row: Literal["error", "reject"]
    duplicates: Literal["flag", "drop", "error"]
    allow_null_turns: StrictBool
    chat_overhead: Literal["openai"] | None


class CrossCheck(TypedDict):
    rule: StrictStr
    texts: Count
    differences: Count


class CountedBy(TypedDict):
    """Which counter counted the tokens, and for one other than tiktoken the proof that its
    counts are tiktoken's."""

    name: StrictStr
    counts: StrictStr
    cross_check: NotRequired[CrossCheck]


class Tokenizer(TypedDict):
    """A tokenizer and where its files come from: a tiktoken encoding (its BPE file) or a
    tokenizer.json (`tokenizers`)."""

    name: StrictStr
    library: StrictStr
    tiktoken_version: NotRequired[StrictStr]
    bpe_url: NotRequired[StrictStr]
    bpe_sha256: NotRequired[StrictStr]
    bpe_source: NotRequired[StrictStr]
    tokenizers_version: NotRequired[StrictStr]
    file: NotRequired[StrictStr]
    file_sha256: NotRequired[StrictStr]
    counting: StrictStr
    counter: NotRequired[StrictStr]


class Share(TypedDict):
    count: Count
    share: Number | None


class Pairs(TypedDict):
    ordered: Count
    unordered: Count


class Figures(TypedDict):
    turns: Number | None
    total_tokens: Number | None
    total_input_tokens: Number | None
    total_output_tokens_a: Number | None
    total_output_tokens_b: Number | None


class SourcePair(TypedDict):
    first_in: Count
    later_in: Count
    later_copies: Count


class VoteOf(TypedDict):
    """One copy of a battle: where it is and whom its vote names (a model, or `tie`)."""

    source: Count
    row: Count
    winner: StrictStr


class VotesDiffer(TypedDict):
    """Two copies of one battle whose votes differ, and the key that matched them."""

    first: VoteOf
    later: VoteOf
    key: StrictStr


class Copies(TypedDict):
    """What the index of duplicates found (`dedup.Index.summary`)."""

    definitions: dict[StrictStr, StrictStr]
    later_copies: dict[StrictStr, Count]
    by_key: dict[StrictStr, Count]
    by_source_pair: list[SourcePair]
    votes_differ: Count
    votes_differ_list: list[VotesDiffer]


class Duplicates(Copies):
    """The duplicates policy of the build, and what it found."""

    policy: Literal["flag", "drop", "error"]


class Agreement(TypedDict):
    ours: StrictStr
    compared: Count
    equal: Count
    agreement_rate: Number
    mean_abs_difference: Number


class Summary(TypedDict):
    """The figures of a build's records (`stats.Stats.summary`): for the whole build, and
    the counts for each source."""

    counts: Counts
    winner_distribution: dict[StrictStr, Share]
    model_pairs: Pairs
    means: Figures
    totals: Figures
    quality_flags: dict[StrictStr, Count]
    image_parts_not_counted: NotRequired[Count]
    source_token_agreement: NotRequired[dict[StrictStr, Agreement]]
    source_style_agreement: NotRequired[dict[StrictStr, Agreement]]


class ExtraTokenizers(TypedDict, total=False):
    """The tokenizers after the first (`extra_token_usage`), where a build has several."""

    extra_tokenizers: list[Tokenizer]


class Created(TypedDict, total=False):
    """When the build was made, where SOURCE_DATE_EPOCH says (else no time is written)."""

    created: StrictStr


class Draft(Summary, ExtraTokenizers, Created):
    """artifact_metadata.json as the driver makes it, before the writer adds its files."""

    description: StrictStr
    dataset: StrictStr
    arenatok_version: StrictStr
    source: Source
    sources: Annotated[list[IndexedSource], Field(min_length=1)]
    selection: Selection
    options: Options
    counter: CountedBy
    tokenizer: Tokenizer
    duplicates: Duplicates
    definitions: dict[StrictStr, StrictStr]
    quality_flag_definitions: dict[StrictStr, StrictStr]


class Metadata(Draft):
    """artifact_metadata.json: how full_data_out.json was copied, and every file of the build
    with its size and sha256."""

    full_data_out_copy: StrictStr
    files: dict[StrictStr, Listed]


_OPEN = (Provenance, Source, IndexedSource, CountedBy, Tokenizer)
"""Sections of provenance: fields that another version of arenatok may add are kept."""
for _t in (
    Counts,
    Compressed,
    Selection,
    Options,
    CrossCheck,
    CountedBy,
    Share,
    Pairs,
    Figures,
    SourcePair,
    Copies,
    Duplicates,
    Agreement,
    Summary,
    ExtraTokenizers,
    Created,
    Draft,
    Metadata,
    *_OPEN,
):
    setattr(  # noqa: B010 (read by pydantic)
        _t, "__pydantic_config__", ConfigDict(extra="allow" if _t in _OPEN else "forbid")
    )

_ADAPTER: Any = None


def parse_metadata(raw: bytes) -> Metadata | str:
    """The bytes of an artifact_metadata.json as its `Metadata` (in the file's order of keys,
    which the report copies), or what is wrong with them (the first problem) when they do not
    have the shape arenatok writes."""
    global _ADAPTER
    from pydantic import TypeAdapter, ValidationError

    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(Metadata)
    try:
        _ADAPTER.validate_json(raw, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "the file"
        return f"{where}: {first['msg']}" if first["loc"] else first["msg"]
    meta: Metadata = orjson.loads(raw)
    return meta
