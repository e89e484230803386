"""`arenatok report`: the numbers of a built dataset (`build_report`) and its files
(`write_report`: report.json and report.html).

The names below are imported on first use, after the `report` extra is checked
(`errors.need_extra`): the command line imports `arenatok.report.results`, which needs
neither scipy nor matplotlib, for every command.
"""

from __future__ import annotations

from typing import Any

from arenatok.errors import need_extra

_PUBLIC = {"build_report": "numbers", "write_report": "report_page"}

NEEDS = {"scipy": "scipy", "matplotlib": "matplotlib"}
"""The libraries of the `report` extra ({module: library})."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'arenatok.report' has no attribute {name!r}")
    import importlib

    need_extra("arenatok report", "report", NEEDS)
    return getattr(importlib.import_module(f"arenatok.report.{_PUBLIC[name]}"), name)
