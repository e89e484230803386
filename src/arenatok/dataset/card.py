"""`arenatok card` and `arenatok push`: a Hugging Face dataset card (typed metadata plus a
template) and the records as Parquet under data/, then publishing both to the Hub."""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from arenatok.dataset.built import build_id, read_metadata
from arenatok.dataset.check import Problems, Stream, check_files, check_record
from arenatok.dataset.sources import (
    UNKNOWN,
    card_license,
    card_sources,
    check_license,
    joined,
    terms,
)
from arenatok.errors import OutputError, SourceError
from arenatok.pipeline.metadata import Metadata
from arenatok.pipeline.write import JSONL
from arenatok.runtime.atomic import output_error
from arenatok.runtime.derived import (
    CARD,
    PARQUET,
    PARQUET_BUILD_KEY,
    card_is_ours,
    write_derived,
)
from arenatok.runtime.files import open_owned
from arenatok.text import markdown, markdown_code, visible

__all__ = ["CARD", "PARQUET", "records_schema", "records_tables", "write_card"]

LANGUAGES = {
    "English": "en",
    "Chinese": "zh",
    "Russian": "ru",
    "Spanish": "es",
    "German": "de",
    "French": "fr",
    "Japanese": "ja",
    "Portuguese": "pt",
    "Korean": "ko",
    "Italian": "it",
    "Polish": "pl",
    "Vietnamese": "vi",
    "Arabic": "ar",
    "Persian": "fa",
    "Turkish": "tr",
    "Indonesian": "id",
    "Dutch": "nl",
    "Ukrainian": "uk",
    "Hebrew": "he",
    "Swedish": "sv",
    "Czech": "cs",
    "Greek": "el",
    "Hungarian": "hu",
    "Danish": "da",
    "Finnish": "fi",
    "Norwegian": "no",
    "Romanian": "ro",
    "Thai": "th",
    "Hindi": "hi",
    "Bengali": "bn",
}
"""Language names used by the arena releases, to the ISO 639-1 codes a card wants."""

NULL_TYPES = {
    "timestamp": "float64",
    "timestamp_offset": "float64",
    "anony": "bool",
    "judged_turn": "int64",
    "openai_moderation_flagged": "bool",
    "toxic_chat_flagged": "bool",
}
"""Fields that may be null in every record of a dataset, and the type they have when not."""


def _marker(build: str) -> dict[str, str]:
    """What the card's YAML says of arenatok: that it made the card, and from which build (the
    sha256 of data_out.jsonl)."""
    from arenatok._version import __version__

    return {
        "made_with": "arenatok",
        "version": __version__,
        "build": build,
    }


CHUNK_BYTES = 32 * 2**20
"""Bytes of whole data_out.jsonl lines that the card reads at a time (more when one record is
larger): what bounds its memory."""


def _chunks(out: Path, checked: Metadata | None = None) -> Iterator[bytes]:
    """data_out.jsonl in blocks of whole lines of about CHUNK_BYTES; with `checked` (the
    build's checked metadata), every line checked as the reader of a build checks it, and the
    file against the metadata at the end (a BuildError at the first problem)."""
    path = out / JSONL
    problems = Problems(out, first=True)
    stream = Stream()
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
                if size >= CHUNK_BYTES:
                    yield b"".join(block)
                    block, size = [], 0
            if block:
                yield b"".join(block)
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
    import io

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


def records_schema(out: Path, checked: Metadata | None = None) -> Any:
    """The Arrow schema of data_out.jsonl (nested structs): the types of every block unified,
    all-null columns typed (`NULL_TYPES`). Reads the file as a stream; with `checked` (the
    build's checked metadata), checks it on the way (see `_chunks`)."""
    import pyarrow as pa

    schemas = [_read_chunk(out, chunk).schema for chunk in _chunks(out, checked)]
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

    return pa.schema([pa.field(f.name, typed(f.name, f.type)) for f in unified])


def records_tables(out: Path, schema: Any) -> Iterator[Any]:
    """data_out.jsonl as Arrow tables of `schema`, a block at a time."""
    for chunk in _chunks(out):
        yield _read_chunk(out, chunk, schema)


@dataclass
class _Written:
    """What the card says of its Parquet file."""

    schema: Any = None
    rows: int = 0
    nbytes: int = 0
    size: int = 0
    languages: set[str] = field(default_factory=set)


def _write_parquet(out: Path, meta: Metadata, into: IO[bytes], written: _Written) -> None:
    """The records as one zstd Parquet file (schema metadata: the build), a block at a time;
    every record checked on the first pass."""
    import pyarrow.parquet as pq

    build = build_id(meta)
    schema = written.schema = records_schema(out, meta)
    schema = schema.with_metadata({PARQUET_BUILD_KEY: build})
    start = into.tell()
    with pq.ParquetWriter(into, schema, compression="zstd") as writer:
        for table in records_tables(out, schema):
            writer.write_table(table)
            written.rows += table.num_rows
            written.nbytes += table.nbytes
            written.languages |= _languages(table)
    written.size = into.tell() - start


def features_yaml(schema: Any) -> list[dict[str, Any]]:
    """The `dataset_info.features` of a card for an Arrow schema (the `datasets` YAML form)."""
    import pyarrow as pa

    names = {
        "string": "string",
        "large_string": "large_string",
        "int64": "int64",
        "int32": "int32",
        "double": "float64",
        "float": "float32",
        "bool": "bool",
    }

    def feature(name: str, t: Any) -> dict[str, Any]:
        if pa.types.is_struct(t):
            return {"name": name, "struct": [feature(f.name, f.type) for f in t]}
        if pa.types.is_list(t):
            inner = t.value_type
            if pa.types.is_struct(inner):
                return {"name": name, "list": [feature(f.name, f.type) for f in inner]}
            return {"name": name, "list": names[str(inner)]}
        return {"name": name, "dtype": names[str(t)]}

    return [feature(f.name, f.type) for f in schema]


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "10M<n<100M"


def write_card(out: str | Path, *, force: bool = False, license: str | None = None) -> Path:
    """Write data/train-00000-of-00001.parquet and README.md (the dataset card) into `out`, a
    directory written by `arenatok build` (read through the checks of `dataset.check`), both or
    neither; a README.md that arenatok did not write is replaced only with `force`. The card
    declares `license` (a Hub license id) for the dataset, else every source's own
    (`dataset.sources`). Returns the card's path."""
    out = Path(out)
    if license is not None:
        check_license(license)
    meta = read_metadata(out)
    build = build_id(meta)
    if not force and not card_is_ours(out / CARD):
        raise OutputError(
            f"{out / CARD}: is not a card that arenatok wrote; arenatok leaves it alone",
            hint="move it away, or pass --force to replace it",
        )
    hint = "make the directory writable, or copy the build elsewhere"
    data = out / "data"
    made = not data.exists() and not data.is_symlink()
    try:
        if made:
            data.mkdir()
        written = _Written()
        write_derived(
            out,
            {
                PARQUET: lambda f: _write_parquet(out, meta, f, written),
                CARD: lambda f: f.write(_card_text(meta, build, written, license).encode()),
            },
            build=build,
            read_from=out,
            hint=hint,
            replace=(CARD,) if force else (),
        )
    except OSError as e:
        raise output_error(data, e, hint=hint) from e
    finally:
        if made and data.is_dir() and not any(data.iterdir()):
            data.rmdir()  # a card that failed leaves no empty data/
    return out / CARD


def _card_text(meta: Metadata, build: str, written: _Written, named: str | None) -> str:
    """The dataset card: YAML metadata, then the template filled in; `named`: the license
    named for it (`--license`)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    sources = card_sources(meta)
    releases = list(dict.fromkeys(s.dataset for s in sources if s.dataset))
    languages = sorted(
        {
            LANGUAGES.get(lang, lang)
            for lang in written.languages
            if lang in LANGUAGES or (isinstance(lang, str) and len(lang) == 2 and lang.isalpha())
        }
    )
    data = DatasetCardData(
        license=card_license(sources, named),
        language=languages or None,
        task_categories=["text-classification"],
        size_categories=[_size_category(written.rows)],
        pretty_name=f"Token usage of {visible(str(meta.get('dataset')))}",
        source_datasets=releases or None,
        tags=["token-usage", "chatbot-arena", "human-preference", "arenatok"],
        configs=[
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
        ],
        dataset_info={
            "features": features_yaml(written.schema),
            "splits": [
                {"name": "train", "num_bytes": written.nbytes, "num_examples": written.rows}
            ],
            "download_size": written.size,
            "dataset_size": written.nbytes,
        },
        arenatok=_marker(build),
    )
    template = (importlib.resources.files("arenatok") / "card_template.md").read_text("utf-8")
    body = _markdown_template(template).render(
        data.to_dict(),  # type: ignore[no-untyped-call]
        card_data=_Markdown(data.to_yaml()),
        meta=meta,
        releases=_Markdown(joined([markdown_code(r) for r in releases or [meta["dataset"]]])),
        sources=[dataclasses.replace(s, name=_Markdown(s.name)) for s in sources],  # ours
        terms=[dataclasses.replace(t, note=_Markdown(t.note)) for t in terms(sources)],
        named=named,
        unknown=any(s.license == UNKNOWN for s in sources),
        rows=written.rows,
        definitions=meta.get("definitions", {}),
        flags=meta.get("quality_flag_definitions", {}),
    )
    return str(DatasetCard(body))


class _Markdown(str):
    """Text that is Markdown already (the card's YAML, code spans): not escaped again."""


def _markdown_template(template: str) -> Any:
    """The card's Jinja template, where every value it prints is data, shown as itself
    (`text.markdown`), unless it is `_Markdown` already; `| code` shows a value as a code span
    (`text.markdown_code`; in a table cell unless `code(table=False)`)."""
    import jinja2

    env = jinja2.Environment(
        finalize=lambda v: v if isinstance(v, _Markdown) else markdown("" if v is None else v)
    )
    env.filters["code"] = lambda v, table=True: _Markdown(markdown_code(v, table=table))
    return env.from_string(template)


def _languages(table: Any) -> set[str]:
    import pyarrow.compute as pc

    column = pc.struct_field(pc.struct_field(table.column("context"), "api_metadata"), "language")
    return {x for x in pc.unique(column).to_pylist() if x}
