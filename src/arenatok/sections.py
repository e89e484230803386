"""The analyses' results as typed sections: dataclasses whose fields, in order, are the keys of
their JSON file (report.json, bench.json), so that code reads attributes and the file keeps its
bytes. A field may be left out of the file while unset (`OMIT`), be kept out of it altogether
(`INTERNAL`: timings), or take its key from its section (`Section.key`: the bench's rows name
their metric, `auc` or `log_loss`); a section may keep an unset field as null
(`Section.keeps`: a rating that is not estimable)."""

from __future__ import annotations

import dataclasses
from typing import Any

OMIT = {"omit_none": True}
"""A field's metadata: it is left out of the JSON file while it is None
(`field(default=None, metadata=OMIT)`)."""

INTERNAL = {"json": False}
"""A field's metadata: it is not part of the JSON file (a timing for the terminal)."""


class Section:
    """A dataclass that is a part of a JSON file (see the module's docstring)."""

    def key(self, name: str) -> str:
        """The JSON key of field `name` (itself, unless a section renames it)."""
        return name

    def keeps(self, name: str) -> bool:
        """Whether field `name`, left out while unset (`OMIT`), is written as null instead."""
        return False

    def to_json(self) -> dict[str, object]:
        """The section as the JSON object it stands for, its fields in order."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata.get("json") is False:
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none") and not self.keeps(f.name):
                continue
            out[self.key(f.name)] = as_json(value)
        return out


def as_json(value: Any) -> Any:
    """`value` with every Section in it turned into its JSON object."""
    if isinstance(value, Section):
        return value.to_json()
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value
