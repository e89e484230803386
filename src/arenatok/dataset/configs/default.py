"""The `default` config: the specification's record itself (input, context, output, dataset),
one row a battle; its schema is read from the data (`dataset.shards.records_schema`)."""

from __future__ import annotations

from collections.abc import Iterator

from arenatok.dataset.configs.base import Config
from arenatok.pipeline.records import Record


def rows(battle: int, record: Record) -> Iterator[Record]:
    """The battle's record, as data_out.jsonl holds it."""
    yield record


CONFIG = Config(
    "default",
    "one row a battle: the record of the specification (input, context with the conversation, "
    "token usage per turn and in all, style, metadata and flags, output, dataset)",
    None,
    rows,
)
