"""croissant.json, the card's Croissant file (MLCommons' JSON-LD format for ML datasets, 1.1,
which the Hub and the NeurIPS datasets track read): the dataset's name, description, licenses
and citation; the distribution (each Parquet file with its sha256, and one file set per
config); a record set per config, its fields and types read from the Parquet schema. It names
the build it was made from under `arenatok`, as the card's YAML does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import TypedDict

from arenatok.dataset.configs import CONFIGS
from arenatok.dataset.configs.base import Labels
from arenatok.dataset.shards import Written

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "arenatok": {"@id": "https://pypi.org/project/arenatok/", "@type": "@json"},
}
"""The JSON-LD context of a Croissant 1.1 file, and `arenatok` (what made the file, and from
which build) as an opaque JSON value."""

DATA_TYPES = {
    "string": "sc:Text",
    "large_string": "sc:Text",
    "int64": "sc:Integer",
    "int32": "sc:Integer",
    "double": "sc:Float",
    "float": "sc:Float",
    "bool": "sc:Boolean",
}
"""Arrow's scalar types as Croissant's data types."""

PARQUET = "application/x-parquet"

LICENSE_URLS = {
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-nc-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "mit": "https://opensource.org/licenses/MIT",
}
"""The address of each license a card may declare for its sources; another license (`other`,
or one named with `--license`) is given by its Hub id."""


class Marker(TypedDict):
    """What a derived file says of arenatok: that it made the file, from which build."""

    made_with: str
    version: str
    build: str


class About(TypedDict):
    """What the Croissant file says of the dataset beside its files and record sets."""

    name: str
    description: str
    license: str | list[str]
    """The card's: one Hub license id, or a list of them."""
    cite_as: str
    """BibTeX."""
    based_on: list[str]
    """The releases it was made from, as Hub dataset ids."""
    keywords: list[str]
    created: str | None
    """When its build was made (ISO 8601), where SOURCE_DATE_EPOCH said."""


def _license(about: About) -> list[str]:
    ids = about["license"] if isinstance(about["license"], list) else [about["license"]]
    return [LICENSE_URLS.get(i, i) for i in ids]


def document(
    about: About, written: Mapping[str, Written], sha256s: Mapping[str, str], marker: Marker
) -> dict[str, Any]:
    """The Croissant file as JSON: `written`, every config's Parquet files, `sha256s` their
    hashes by name."""
    distribution: list[dict[str, Any]] = []
    record_sets = []
    for config in CONFIGS:
        files = written[config.name]
        for name in files.files:
            distribution.append(
                {
                    "@type": "cr:FileObject",
                    "@id": name,
                    "name": name,
                    "contentUrl": name,
                    "encodingFormat": PARQUET,
                    "sha256": sha256s[name],
                }
            )
        file_set = f"{config.name}-parquet"
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": file_set,
                "name": file_set,
                "description": f"The Parquet files of the {config.name} config.",
                "encodingFormat": PARQUET,
                "includes": f"{config.folder}/train-*.parquet",
            }
        )
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": config.name,
                "name": config.name,
                "description": config.summary[:1].upper() + config.summary[1:] + ".",
                "field": fields(config.name, file_set, files.schema, config.labels()),
            }
        )
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": about["name"],
        "description": about["description"],
        "license": _license(about),
        "citeAs": about["cite_as"],
        "version": marker["version"],
        "keywords": about["keywords"],
        "isBasedOn": [f"https://huggingface.co/datasets/{r}" for r in about["based_on"]],
    }
    if about["created"]:
        doc["datePublished"] = about["created"]
    doc |= {"distribution": distribution, "recordSet": record_sets, "arenatok": marker}
    return doc


def dumps(doc: Mapping[str, Any]) -> bytes:
    """A Croissant file's bytes: indented JSON, keys in their order."""
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _quoted(name: str) -> str:
    """A field's name as a JSONPath step (quoted: names hold dots, spaces)."""
    return f'"{name}"' if "'" in name else f"'{name}'"


def _step(steps: Sequence[str], name: str) -> tuple[str, ...]:
    """`steps` into a struct's member `name`: the last step extended (a step of its own after
    a list)."""
    if not steps:
        return (_quoted(name),)
    last = f"{steps[-1]}.{_quoted(name)}" if steps[-1] else _quoted(name)
    return (*steps[:-1], last)


def fields(record_set: str, file_set: str, schema: Any, labels: Labels) -> list[dict[str, Any]]:
    """The fields of a record set for an Arrow schema: a column is a field; a struct a field
    of sub-fields, a list an array (`isArray`); each leaf reads its column, then the steps
    into it (`jsonPath`, one per list crossed)."""
    return [
        _field(f"{record_set}/{f.name}", f.name, f.type, file_set, f.name, (), labels.get(f.name))
        for f in schema
    ]


def _field(
    field_id: str,
    name: str,
    t: Any,
    file_set: str,
    column: str,
    steps: Sequence[str],
    label: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One field (see `fields`); `steps`: the JSONPath steps from its column to it, the last
    one still to be extended by a struct's member."""
    import pyarrow as pa

    field: dict[str, Any] = {"@type": "cr:Field", "@id": field_id, "name": name}
    if label:
        listed = ", ".join(f"{i} {v}" for i, v in enumerate(label))
        field["description"] = f"A class label: {listed}."
    if pa.types.is_list(t):
        field |= {"isArray": True, "arrayShape": "-1"}
        t = t.value_type
        steps = (*steps, "")  # the next member starts a step of its own
    if pa.types.is_struct(t):
        field["subField"] = [
            _field(f"{field_id}/{f.name}", f.name, f.type, file_set, column, _step(steps, f.name))
            for f in t
        ]
        return field
    source: dict[str, Any] = {"fileSet": {"@id": file_set}, "extract": {"column": column}}
    path = [s for s in steps if s]
    if path:
        source["transform"] = [{"jsonPath": s} for s in path]
    return field | {"dataType": DATA_TYPES[str(t)], "source": source}
