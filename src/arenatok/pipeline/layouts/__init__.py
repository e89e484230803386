"""The layouts of the known releases: how each names its columns and votes, one module each
(`arena`, `arena_100k`, `arena_140k`, `kaggle_55k`, `mt_bench`), each filling the contract of
`base.Layout` as its `LAYOUT` with the shared row checks (`checks`). A file's layout is
recognised from its columns (`detect`) or named with `--layout` (`get`). Every layout ends in
the same `Battle`, so everything after reading works unchanged: its vote labels are mapped at
its edge onto the one vocabulary of votes (`battle.Vote`; `Layout.labels`).

A new release is one new module here: this package finds every module's `LAYOUT` itself."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from arenatok.errors import SourceError
from arenatok.pipeline.layouts.base import Layout

SHARED = ("base", "checks")
"""The modules that every layout uses (the contract, the row checks): not layouts themselves."""


def _found() -> dict[str, Layout]:
    """Every module's LAYOUT, in detection order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name not in SHARED:
            found.append(importlib.import_module(f"{__name__}.{module.name}").LAYOUT)
    return {layout.name: layout for layout in sorted(found, key=lambda x: x.order)}


LAYOUTS: dict[str, Layout] = _found()
"""Known layouts by name, most specific first: detection takes the first that fits."""

DEFAULT = "arena"


def detect(columns: Sequence[str], path: object) -> Layout:
    """The layout whose required columns are all there and one of whose marker columns is
    (else the default layout, if its required columns are there)."""
    present = set(columns)
    for layout in LAYOUTS.values():
        if set(layout.required) <= present and (
            not layout.markers or present & set(layout.markers)
        ):
            return layout
    if set(LAYOUTS[DEFAULT].required) <= present:
        return LAYOUTS[DEFAULT]
    raise SourceError(
        f"{path}: no known layout has these columns: {', '.join(columns) or '(none)'}",
        hint=f"known layouts: {', '.join(LAYOUTS)}; the docs' Layouts page gives each one's "
        "columns: rename yours to one's (or name it with --layout)",
    )


def get(name: str) -> Layout:
    """The layout called `name`; a miss lists the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError as e:
        raise SourceError(
            f"unknown layout: {name!r}", hint=f"known layouts: {', '.join(LAYOUTS)}"
        ) from e


__all__ = ["DEFAULT", "LAYOUTS", "Layout", "detect", "get"]
