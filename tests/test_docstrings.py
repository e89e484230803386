"""Every module, class, function or attribute that a docstring names in backticks exists:
a dotted name (`layouts.checks.new_battle`, `Layout.labels`, `np.percentile`) resolves from the
module whose docstring names it, and a file named `x.py` is one of the package's. Paths inside
a record or a file (`api_metadata.source`, `record.schema.json`) are not code and are left out."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import itertools
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "arenatok"
DOTTED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")
FILE = re.compile(r"`((?:\w+/)*\w+\.py)`")

NOT_CODE = (
    "context",
    "api_metadata",
    "token_usage",
    "style",
    "dataset_info",
    "dedup_tag",
    "category_tag",
    "method",
    "add_markdown_info",
    "x",
)
"""First parts of dotted names that are paths in a record, report.json or the card, an example
file (`x.parquet`), or another project's file: not names of code."""
ALIASES = {"np": "numpy", "pa": "pyarrow", "pq": "pyarrow.parquet", "pd": "pandas"}
"""The names the package imports libraries as."""
SUFFIXES = ("json", "jsonl", "gz", "parquet", "csv", "html", "md", "lock", "toml", "txt", "py")

MODULES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py")
)


def docstrings(tree: ast.Module) -> Iterator[str]:
    """The docstrings of a module, its classes and functions, and the strings under its
    assignments (attribute docstrings)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield text
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for a, b in itertools.pairwise(body):
                if (
                    isinstance(a, ast.Assign | ast.AnnAssign)
                    and isinstance(b, ast.Expr)
                    and isinstance(b.value, ast.Constant)
                    and isinstance(b.value.value, str)
                ):
                    yield b.value.value


def has(obj: object, parts: list[str]) -> bool:
    """Whether `obj.parts[0].parts[1]...` exists: an attribute, a field a class annotates, or
    an attribute its methods set (`self.name = ...`)."""
    for i, name in enumerate(parts):
        if hasattr(obj, name):
            obj = getattr(obj, name)
            continue
        if isinstance(obj, type) and i == len(parts) - 1:
            if any(name in getattr(k, "__annotations__", {}) for k in obj.__mro__):
                return True
            try:
                return re.search(rf"\bself\.{name}\b", inspect.getsource(obj)) is not None
            except (OSError, TypeError):
                return False
        return False
    return True


def resolves(ref: str, module: ModuleType) -> bool:
    """Whether `ref`, named in `module`'s docstrings, is a name of code that exists: from the
    module's own names (its imports too), from a module of the package whose dotted name ends
    with its first parts (`checks.new_battle`, `pipeline.battle.Vote`), or from a library."""
    parts = ref.split(".")
    if parts[0] in NOT_CODE or parts[-1] in SUFFIXES:
        return True
    if parts[0] in vars(module) and has(module, parts):
        return True
    for k in range(len(parts), 0, -1):
        tail = ".".join(parts[:k])
        found = [m for m in MODULES if m == tail or m.endswith("." + tail)]
        if any(has(importlib.import_module(m), parts[k:]) for m in found):
            return True
    if hasattr(builtins, parts[0]):
        return has(getattr(builtins, parts[0]), parts[1:])
    parts[0] = ALIASES.get(parts[0], parts[0])
    for k in range(len(parts), 0, -1):  # another library's (`np.percentile`, `html.escape`)
        try:
            with warnings.catch_warnings():  # another library's import-time deprecations
                warnings.simplefilter("ignore")
                library = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        return has(library, parts[k:])
    return False


def unresolved() -> list[str]:
    """Every backticked name in a docstring of the package that names nothing, as
    `module: name`."""
    out = []
    files = {p.name for p in PACKAGE.rglob("*.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = importlib.import_module(name.removesuffix(".__init__"))
        for text in docstrings(ast.parse(path.read_text(encoding="utf-8"))):
            out += [f"{name}: {r}" for r in DOTTED.findall(text) if not resolves(r, module)]
            out += [
                f"{name}: {f}"
                for f in FILE.findall(text)
                if Path(f).name not in files and Path(f).stem not in NOT_CODE
            ]
    return sorted(set(out))


def test_every_name_a_docstring_gives_in_backticks_exists() -> None:
    assert unresolved() == []


def test_the_check_catches_a_name_that_is_gone() -> None:
    from arenatok.pipeline import steps

    assert resolves("layouts.checks.new_battle", steps)
    assert resolves("battle.Vote", steps)
    assert resolves("Layout.labels", importlib.import_module("arenatok.pipeline.layouts.base"))
    assert resolves("np.percentile", steps)
    assert not resolves("sources.checks.battle_from_row", steps)  # moved to layouts
    assert not resolves("report.numbers.no_such_name", steps)
    assert not resolves("write.remove_derived", steps)
    assert not resolves("np.no_such_function", steps)
