"""`arenatok card`: a Hugging Face dataset card (typed metadata plus a template) with every
config of the records as Parquet under data/ (`dataset.shards`) and a Croissant file
(`dataset.croissant`), written together."""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arenatok.dataset.built import build_id, read_metadata
from arenatok.dataset.configs import CONFIGS, DEFAULT
from arenatok.dataset.configs.base import Config, features_yaml
from arenatok.dataset.croissant import About, Marker, document, dumps
from arenatok.dataset.shards import (
    BOUNDS,
    Bounds,
    Opens,
    Written,
    read_shards,
    records_schema,
    write_shards,
)
from arenatok.dataset.sources import (
    UNKNOWN,
    CardSource,
    card_license,
    card_sources,
    check_license,
    citation,
    joined,
    terms,
)
from arenatok.errors import OutputError
from arenatok.pipeline.metadata import Metadata
from arenatok.runtime.atomic import Group, Listed, NewDirs, output_error
from arenatok.runtime.derived import (
    CARD,
    CROISSANT,
    PARQUET,
    by_card,
    card_is_ours,
    write_derived,
)
from arenatok.text import markdown, markdown_code, visible

__all__ = [
    "CARD",
    "CROISSANT",
    "PARQUET",
    "Bounds",
    "features_yaml",
    "records_schema",
    "write_card",
]

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


def _marker(build: str) -> Marker:
    """What the card's YAML and its Croissant file say of arenatok: that it made them, and
    from which build (the sha256 of data_out.jsonl)."""
    from arenatok._version import __version__

    return {"made_with": "arenatok", "version": __version__, "build": build}


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


def write_card(
    out: str | Path, *, force: bool = False, license: str | None = None, bounds: Bounds = BOUNDS
) -> Path:
    """Write the card into `out`, a directory written by `arenatok build` (read through the
    checks of `dataset.check`): every config's Parquet files under data/ (`configs.CONFIGS`,
    shards and row groups within `bounds`), croissant.json and README.md (the dataset card),
    all or none; the files of an earlier card that it does not write again go. A README.md
    that arenatok did not write is replaced only with `force`. The card declares `license` (a
    Hub license id) for the dataset, else every source's own (`dataset.sources`). Returns the
    card's path."""
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
    shards = read_shards(out, meta, bounds)
    hint = "make the directory writable, or copy the build elsewhere"
    made: list[NewDirs] = []
    written: dict[str, Written] = {}

    def parquet(opens: Opens) -> None:
        written.update(write_shards(out, meta, shards, opens, bounds))

    def croissant(table: Mapping[str, Listed]) -> bytes:
        about = _about(meta, written, license)
        sha256s = {name: entry["sha256"] for name, entry in table.items()}
        return dumps(document(about, written, sha256s, _marker(build)))

    try:
        for config in CONFIGS:
            made.append(_folder(out, config.folder, hint))
        write_derived(
            out,
            {},
            build=build,
            read_from=out,
            hint=hint,
            replace=(CARD,) if force else (),
            groups=[Group(shards.names(), parquet)],
            later={
                CROISSANT: croissant,
                CARD: lambda _: _card_text(meta, build, written, license).encode(),
            },
            family=by_card,
        )
    except OSError as e:
        raise output_error(out / "data", e, hint=hint) from e
    finally:
        for folder in reversed(made):
            folder.undo()  # a card that failed leaves no empty folder
    return out / CARD


def _folder(out: Path, folder: str, hint: str) -> NewDirs:
    """`out/folder` made, where missing; an OutputError where it, or data/, is a link."""
    for path in {out / "data", out / folder}:
        if path.is_symlink():
            raise OutputError(
                f"{path}: is a symbolic link; arenatok does not write through links",
                hint=f"remove the link, or {hint}",
            )
    return NewDirs(out / folder)


TAGS = ["token-usage", "chatbot-arena", "human-preference", "arenatok"]
"""The card's tags, and the Croissant file's keywords."""


def _about(meta: Metadata, written: Mapping[str, Written], named: str | None) -> About:
    """What the Croissant file says of the dataset."""
    sources = card_sources(meta)
    return {
        "name": _pretty_name(meta),
        "description": _description(written),
        "license": card_license(sources, named),
        "cite_as": citation(sources),
        "based_on": _releases(sources),
        "keywords": TAGS,
        "created": meta.get("created"),
    }


def _pretty_name(meta: Metadata) -> str:
    return f"Token usage of {visible(str(meta.get('dataset')))}"


def _releases(sources: list[CardSource]) -> list[str]:
    return list(dict.fromkeys(s.dataset for s in sources if s.dataset))


def _description(written: Mapping[str, Written]) -> str:
    """One paragraph: what the dataset is, and its configs."""
    rows = written[DEFAULT.name].rows
    configs = "; ".join(f"{c.name}: {c.summary}" for c in CONFIGS)
    return (
        f"Token usage of {rows} Chatbot Arena battles: per-turn token counts of the shared "
        "user prompt and of both models' answers, per-battle totals, communication-efficiency "
        f"ratios, full-state input sizes, and the human vote. Configs: {configs}."
    )


def _card_text(
    meta: Metadata, build: str, written: Mapping[str, Written], named: str | None
) -> str:
    """The dataset card: YAML metadata, then the template filled in; `named`: the license
    named for it (`--license`)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    sources = card_sources(meta)
    releases = _releases(sources)
    found = written[DEFAULT.name].languages
    languages = sorted(
        {
            LANGUAGES.get(lang, lang)
            for lang in found
            if lang in LANGUAGES or (len(lang) == 2 and lang.isalpha())
        }
    )
    rows = written[DEFAULT.name].rows
    data = DatasetCardData(
        license=card_license(sources, named),
        language=languages or None,
        task_categories=["text-classification"],
        size_categories=[_size_category(rows)],
        pretty_name=_pretty_name(meta),
        source_datasets=releases or None,
        tags=TAGS,
        configs=[
            {
                "config_name": c.name,
                "data_files": [{"split": "train", "path": f"{c.folder}/train-*"}],
            }
            for c in CONFIGS
        ],
        dataset_info=[_info(c, written[c.name]) for c in CONFIGS],
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
        rows=rows,
        configs=[(c.name, written[c.name].rows, _Markdown(c.summary)) for c in CONFIGS],  # ours
        definitions=meta.get("definitions", {}),
        flags=meta.get("quality_flag_definitions", {}),
    )
    return str(DatasetCard(body))


def _info(config: Config[Any], written: Written) -> dict[str, Any]:
    """A config's `dataset_info` in the card's YAML: its features, its split, its sizes."""
    return {
        "config_name": config.name,
        "features": features_yaml(written.schema, config.labels()),
        "splits": [{"name": "train", "num_bytes": written.nbytes, "num_examples": written.rows}],
        "download_size": written.size,
        "dataset_size": written.nbytes,
    }


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
