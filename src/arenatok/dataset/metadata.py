"""The shape of artifact_metadata.json, as `arenatok build` writes it: what `validate` and the
checked reader (`dataset.built`) require before anything reads a value of it. Types are strict
(a count is a whole number, not a string or a float); a missing section is a problem."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Count = Annotated[StrictInt, Field(ge=0)]
Sha256 = Annotated[StrictStr, Field(pattern="^[0-9a-f]{64}$")]
Number = StrictInt | StrictFloat


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Open(BaseModel):
    """A section that may carry more fields than arenatok reads (provenance of a kind)."""

    model_config = ConfigDict(extra="allow", strict=True)


class Counts(_Shape):
    rows_read: Count
    rows_written: Count
    rows_rejected: Count
    rows_dropped: Count


class Source(_Open):
    kind: Literal["local_file", "huggingface_hub"]
    sha256: Sha256
    bytes: Count
    layout: StrictStr
    layout_of: StrictStr | None
    path: StrictStr | None = None
    file_type: StrictStr | None = None
    repo_id: StrictStr | None = None
    revision: StrictStr | None = None
    filename: StrictStr | None = None


class IndexedSource(Source):
    index: Count
    counts: Counts


class Selection(_Shape):
    limit: Count | Literal["all"]
    rule: StrictStr
    row_numbers: StrictStr


class Options(_Shape):
    counters: list[StrictStr]
    on_bad_row: Literal["error", "reject"]
    duplicates: Literal["flag", "drop", "error"]
    allow_null_turns: StrictBool
    chat_overhead: Literal["openai"] | None


class Tokenizer(_Open):
    name: StrictStr
    library: StrictStr
    counting: StrictStr


class Share(_Shape):
    count: Count
    share: Number | None


class Pairs(_Shape):
    ordered: Count
    unordered: Count


class Figures(_Shape):
    turns: Number | None
    total_tokens: Number | None
    total_input_tokens: Number | None
    total_output_tokens_a: Number | None
    total_output_tokens_b: Number | None


class SourcePair(_Shape):
    first_in: Count
    later_in: Count
    later_copies: Count


class Duplicates(_Shape):
    policy: Literal["flag", "drop", "error"]
    definitions: dict[StrictStr, StrictStr]
    later_copies: dict[StrictStr, Count]
    by_key: dict[StrictStr, Count]
    by_source_pair: list[SourcePair]
    votes_differ: Count
    votes_differ_list: list[dict[StrictStr, Any]]


class Listed(_Shape):
    """A file of the build: its size and sha256."""

    bytes: Count
    sha256: Sha256


class Agreement(_Shape):
    ours: StrictStr
    compared: Count
    equal: Count
    agreement_rate: Number
    mean_abs_difference: Number


class Metadata(_Shape):
    """artifact_metadata.json."""

    description: StrictStr
    dataset: StrictStr
    arenatok_version: StrictStr
    source: Source
    sources: Annotated[list[IndexedSource], Field(min_length=1)]
    selection: Selection
    options: Options
    counter: _Open
    tokenizer: Tokenizer
    extra_tokenizers: list[Tokenizer] | None = None
    counts: Counts
    winner_distribution: dict[StrictStr, Share]
    model_pairs: Pairs
    means: Figures
    totals: Figures
    quality_flags: dict[StrictStr, Count]
    image_parts_not_counted: Count | None = None
    source_token_agreement: dict[StrictStr, Agreement] | None = None
    source_style_agreement: dict[StrictStr, Agreement] | None = None
    duplicates: Duplicates
    definitions: dict[StrictStr, StrictStr]
    quality_flag_definitions: dict[StrictStr, StrictStr]
    created: StrictStr | None = None
    full_data_out_copy: StrictStr
    files: dict[StrictStr, Listed]


def metadata_problem(raw: bytes) -> str | None:
    """What is wrong with the bytes of an artifact_metadata.json (the first problem), or None
    when it has the shape arenatok writes."""
    from pydantic import ValidationError

    try:
        Metadata.model_validate_json(raw, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "the file"
        return f"{where}: {first['msg']}" if first["loc"] else first["msg"]
    return None
