"""The card's Parquet files, every config's (`configs.CONFIGS`), made from data_out.jsonl read
twice, a block of whole lines at a time, so that memory stays bounded at any size of build.
The first pass checks every record, reads the default config's schema from the data and cuts
the battles into shards (`read_shards`); the second makes every config's rows from each block
(the default's with Arrow's JSON reader, the others' from the typed records) and writes them
in row groups of bounded size (`write_shards`)."""

from __future__ import annotations

import bisect
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from arenatok.dataset.check import Problems, Stream, check_files, check_record
from arenatok.dataset.configs import CONFIGS, DEFAULT
from arenatok.errors import SourceError, StaleBuildError
from arenatok.pipeline.metadata import Metadata
from arenatok.pipeline.records import loads
from arenatok.pipeline.write import JSONL
from arenatok.runtime.derived import PARQUET_BUILD_KEY
from arenatok.runtime.files import open_owned

CHUNK_BYTES = 32 * 2**20
"""Bytes of whole data_out.jsonl lines that the card reads at a time (more when one record is
larger): what bounds its memory."""

NULL_TYPES = {
    "timestamp": "float64",
    "timestamp_offset": "float64",
    "anony": "bool",
    "judged_turn": "int64",
    "openai_moderation_flagged": "bool",
    "toxic_chat_flagged": "bool",
}
"""Fields that may be null in every record of a dataset, and the type they have when not."""


@dataclass(frozen=True)
class Bounds:
    """How large the card's Parquet files and their row groups may grow."""

    row_group_bytes: int = 100 * 10**6
    """Uncompressed bytes of a row group (Parquet's `total_byte_size`), at most: row groups
    are cut at half of it in Arrow's bytes, which Parquet's encoding of them does not exceed
    (a single row larger than that is a row group of its own)."""
    shard_bytes: int = 2**30
    """Bytes of data_out.jsonl lines that one shard holds, at most (a single longer record is
    a shard of its own); its Parquet file, compressed, is smaller at any realistic bound."""


BOUNDS = Bounds()


@dataclass(frozen=True)
class Shards:
    """The first pass's findings: the default config's Arrow schema, and where each shard
    ends (the number of records up to its last, for every shard in order)."""

    schema: Any
    ends: tuple[int, ...]

    def names(self) -> tuple[str, ...]:
        """Every config's Parquet files, config after config."""
        return tuple(c.shard(k, len(self.ends)) for c in CONFIGS for k in range(len(self.ends)))


@dataclass
class Written:
    """What the card says of one config's Parquet files."""

    schema: Any
    files: list[str] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    """Bytes of its rows in Arrow's memory (the card's `num_bytes`)."""
    size: int = 0
    """Bytes of its files."""
    languages: set[str] = field(default_factory=set)
    """The languages of its battles (`api_metadata.language`; the default config's only)."""


def _blocks(
    out: Path, checked: Metadata | None = None, ends: Sequence[int] = ()
) -> Iterator[list[bytes]]:
    """data_out.jsonl in blocks of whole lines of about CHUNK_BYTES, none across one of `ends`
    (line counts); with `checked` (the build's checked metadata), every line checked as the
    reader of a build checks it, and the file against the metadata at the end (a BuildError at
    the first problem)."""
    path = out / JSONL
    problems = Problems(out, first=True)
    stream = Stream()
    cuts, done = set(ends), 0
    try:
        with open_owned(path) as f:
            block: list[bytes] = []
            size = 0
            for line in f:
                if checked is not None:
                    where = f"{JSONL} line {stream.lines + 1}"
                    stream.feed(line, check_record(line, where, problems))
                block.append(line)
                size += len(line)
                if size >= CHUNK_BYTES or done + len(block) in cuts:
                    done += len(block)
                    yield block
                    block, size = [], 0
            if block:
                yield block
        if checked is not None:
            stream.finish(out, checked, problems)
            check_files(out, checked, problems, hashed={JSONL})
    except OSError as e:
        raise SourceError(
            f"{path}: cannot be read ({e.strerror or e})",
            hint=f"check it with: arenatok validate {out}",
        ) from e


def _read_chunk(out: Path, chunk: bytes, schema: Any = None) -> Any:
    """One block of records as an Arrow table (with `schema`, else the types it infers)."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        return pj.read_json(
            io.BytesIO(chunk),
            read_options=pj.ReadOptions(block_size=len(chunk) + 1),
            parse_options=pj.ParseOptions(explicit_schema=schema),
        )
    except pa.ArrowException as e:
        raise SourceError(
            f"{out / JSONL}: cannot be read ({str(e).splitlines()[0][:200]})",
            hint=f"check it with: arenatok validate {out}",
        ) from e


def read_shards(out: Path, checked: Metadata | None = None, bounds: Bounds = BOUNDS) -> Shards:
    """The first pass over data_out.jsonl (with `checked`, the build's checked metadata, every
    record checked on the way): the default config's schema (the types of every block
    unified, all-null columns typed by `NULL_TYPES`) and the shards, each of at most
    `Bounds.shard_bytes` of lines."""
    import pyarrow as pa

    schemas, ends, size, lines = [], [], 0, 0
    for block in _blocks(out, checked):
        schemas.append(_read_chunk(out, b"".join(block)).schema)
        for line in block:
            if size and size + len(line) > bounds.shard_bytes:
                ends.append(lines)
                size = 0
            size += len(line)
            lines += 1
    if not schemas:
        raise SourceError(f"{out / JSONL}: no records", hint="build a dataset with records first")
    unified = pa.unify_schemas(schemas, promote_options="permissive")

    def typed(name: str, t: Any) -> Any:
        if pa.types.is_null(t):
            return pa.type_for_alias(NULL_TYPES.get(name, "string"))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, typed(f.name, f.type)) for f in t])
        if pa.types.is_list(t):
            return pa.list_(typed(name, t.value_type))
        return t

    schema = pa.schema([pa.field(f.name, typed(f.name, f.type)) for f in unified])
    return Shards(schema, (*ends, lines))


def records_schema(out: Path, checked: Metadata | None = None) -> Any:
    """The Arrow schema of data_out.jsonl (nested structs): the default config's."""
    return read_shards(out, checked).schema


def _pieces(table: Any, limit: int) -> list[Any]:
    """`table` cut in halves, and those in halves, until each has at most `limit` bytes in
    Arrow's memory (or one row)."""
    if table.num_rows <= 1 or table.nbytes <= limit:
        return [table]
    half = table.num_rows // 2
    return [*_pieces(table.slice(0, half), limit), *_pieces(table.slice(half), limit)]


Opens = Callable[[str], AbstractContextManager[IO[bytes]]]
"""Opens a file of the card by its name, for writing (`runtime.atomic.Opens`)."""


def write_shards(
    out: Path, meta: Metadata, shards: Shards, opens: Opens, bounds: Bounds = BOUNDS
) -> dict[str, Written]:
    """The second pass: every config's shards written (zstd; schema metadata: the build),
    each opened with `opens`; by config name, what was written. A StaleBuildError when
    data_out.jsonl is no longer the file that the first pass checked."""
    build = meta["files"][JSONL]["sha256"]
    schemas = {c.name: c.schema() if c.row else shards.schema for c in CONFIGS}
    written = {name: Written(schema) for name, schema in schemas.items()}
    sha = hashlib.sha256()
    line, shard = 0, -1
    writers: dict[str, tuple[IO[bytes], Any]] = {}
    with ExitStack() as stack:
        files = ExitStack()
        try:
            for block in _blocks(out, ends=shards.ends):
                if bisect.bisect_right(shards.ends, line) != shard:
                    _finish(writers, written)
                    files.close()
                    files = stack.enter_context(ExitStack())
                    shard += 1
                    for c in CONFIGS:
                        name = c.shard(shard, len(shards.ends))
                        f = files.enter_context(opens(name))
                        writers[c.name] = _writer(f, schemas[c.name], build)
                        written[c.name].files.append(name)
                data = b"".join(block)
                sha.update(data)
                try:
                    languages = written[DEFAULT.name].languages
                    tables = _tables(out, data, block, line, shards.schema, languages)
                except (KeyError, TypeError, ValueError) as e:  # checked in the first pass
                    raise _changed(out) from e
                for name, table in tables.items():
                    pieces = _pieces(table, bounds.row_group_bytes // 2) if table.num_rows else []
                    for piece in pieces:
                        writers[name][1].write_table(piece)
                    written[name].rows += table.num_rows
                    written[name].nbytes += table.nbytes
                line += len(block)
            _finish(writers, written)
        except BaseException:
            _abandon(writers)
            raise
    if sha.hexdigest() != build:
        raise _changed(out)
    written[DEFAULT.name].languages.discard("")
    return written


def _changed(out: Path) -> StaleBuildError:
    return StaleBuildError(
        f"{out / JSONL}: changed while the card read it; nothing was written",
        hint=f"check it with: arenatok validate {out}, then run the command again",
    )


def _writer(f: IO[bytes], schema: Any, build: str) -> tuple[IO[bytes], Any]:
    """A Parquet writer into `f` (zstd), whose schema names the build."""
    import pyarrow.parquet as pq

    schema = schema.with_metadata({PARQUET_BUILD_KEY: build})
    return f, pq.ParquetWriter(f, schema, compression="zstd")


def _tables(
    out: Path, data: bytes, block: list[bytes], first: int, schema: Any, languages: set[str]
) -> dict[str, Any]:
    """One block's rows of every config, as Arrow tables (`first`: its first record's place):
    the default config's read by Arrow's JSON reader (`schema`), the others' made from the
    typed records; their languages added to `languages`."""
    records = [loads(x) for x in block]
    languages.update(x["context"]["api_metadata"]["language"] or "" for x in records)
    return {
        c.name: _read_chunk(out, data, schema)
        if c is DEFAULT
        else c.table([r for i, x in enumerate(records, first) for r in c.rows(i, x)])
        for c in CONFIGS
    }


def _abandon(writers: dict[str, tuple[IO[bytes], Any]]) -> None:
    """The open shards' writers closed after a failure, whatever their files' state (those
    files are discarded): none is left to write its footer when it is collected."""
    for _, writer in writers.values():
        with suppress(Exception):
            writer.close()
        writer.is_open = False
    writers.clear()


def _finish(writers: dict[str, tuple[IO[bytes], Any]], written: dict[str, Written]) -> None:
    """The open shards' footers written and their sizes counted (the files are closed by
    whoever opened them)."""
    for name, (f, writer) in writers.items():
        writer.close()
        written[name].size += f.tell()
    writers.clear()
