"""ARCHITECTURE.md stays true: every module it names exists, and every module is named. The
imports keep their layers (the contracts in pyproject.toml, checked by import-linter); no module
grows past MAX_LINES, no function past MAX_FUNCTION_LINES; the tests mirror the package, and
each module of MIN_TESTED_LINES or more has its test file, named after it."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "arenatok"
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


MAX_LINES = 400
MAX_FUNCTION_LINES = 100
MAX_TEST_LINES = 500
MIN_TESTED_LINES = 80
"""A module of this many lines or more has its test file: tests/<its folder>/test_<it>.py."""
MAX_UNTESTED = 8

UNTESTED: dict[str, str] = {}
"""Modules of MIN_TESTED_LINES or more that may go without their test file, each with why (at
most MAX_UNTESTED). None today."""

REWORKED: dict[str, str] = {
    "bench/bench_page.py": "bench/ is being remade as units (bench/strategies/): tests follow",
    "bench/predict.py": "bench/ is being remade as units (bench/strategies/): tests follow",
    "bench/represent.py": "bench/ is being remade as units (bench/strategies/): tests follow",
    "bench/results.py": "bench/ is being remade as units (bench/strategies/): tests follow",
    "dataset/built.py": "dataset/ is being remade around the Hub's configs: tests follow",
    "dataset/check.py": "dataset/ is being remade around the Hub's configs: tests follow",
    "dataset/ids.py": "dataset/ is being remade around the Hub's configs: tests follow",
}
"""Modules without their test file while the work that rewrites their package is under way
(issue 46): an entry goes when its module gets its test file or is gone, and this list, once
empty, goes too."""


RECORD_FIELDS = ("context", "api_metadata", "token_usage")
"""Paths of a record's fields (`api_metadata.source`), not of the code."""
FILE_SUFFIXES = ("json", "jsonl", "html", "md", "parquet", "toml", "lock", "py", "txt")


def resolves(ref: str) -> bool:
    """Whether a dotted name of the map (`engine.run_local`, `report.numbers.build_report`,
    `bench.run`) is a module of the package, or a name that such a module defines."""
    parts = ref.removeprefix("arenatok.").split(".")
    for k in range(len(parts), 0, -1):
        path = PACKAGE.joinpath(*parts[:k])
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if source.is_file():
            rest = parts[k:]
            if not rest:
                return True
            text = source.read_text(encoding="utf-8")
            defined = [re.search(rf"^\s*(def|class) {n}\b|^{n}\b", text, re.M) for n in rest]
            return len(rest) <= 2 and all(defined)  # a name, or a class and its method
    return False


def test_every_named_module_and_function_exists() -> None:
    spans = re.findall(r"`([^`]+)`", TEXT)
    refs = [
        ref
        for span in spans
        for ref in re.findall(r"(?<![\w.])([a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)", span)
        if ref.rsplit(".", 1)[1] not in FILE_SUFFIXES and ref.split(".")[0] not in RECORD_FIELDS
    ]
    assert len(refs) > 20
    assert [ref for ref in refs if not resolves(ref)] == []
    assert not resolves("report_page.write_report")  # the check itself: a module gone
    assert not resolves("report.numbers.no_such_name")


def named(module: str, text: str = TEXT) -> bool:
    """Whether the map names a module as itself (`check` or `check.something`), not as part
    of a longer name (`check_arrow` does not name `check`)."""
    return re.search(rf"`{re.escape(module)}(`|\.\w)", text) is not None


def test_every_module_is_named() -> None:
    modules = [
        ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "__init__.py"
    ]
    assert len(modules) > 60
    assert [m for m in modules if not named(m)] == []
    # The check itself: a module named only inside a longer name is not named.
    assert not named("check", "`check_arrow` reads Arrow batches")
    assert named("check", "`check.parse_rows` and `check_arrow`")


def test_at_most_eight_modules_at_the_root() -> None:
    root = [p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(root) <= 8, root
    pages = [p for p in PACKAGE.rglob("*page*.py")]
    assert len({p.name for p in pages}) == len(pages)  # one name per page module


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's verdict on the package under `src` (the contracts of pyproject.toml)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is not installed: pip install -e '.[test]'"
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [lint, "--no-cache", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_imports_keep_their_layers() -> None:
    run = lint_imports(ROOT / "src")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_contract_catches_an_import_against_the_layers(tmp_path: Path) -> None:
    """A build stage that imports an analysis, even only for type checking, breaks it."""
    shutil.copytree(PACKAGE, tmp_path / "arenatok", ignore=shutil.ignore_patterns("__pycache__"))
    steps = tmp_path / "arenatok" / "pipeline" / "steps.py"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(
        text.replace(
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
            "if TYPE_CHECKING:\n    from arenatok.report import numbers  # noqa: F401\n",
            1,
        ),
        encoding="utf-8",
    )
    run = lint_imports(tmp_path)
    assert run.returncode == 1
    assert "arenatok.pipeline.steps -> arenatok.report.numbers" in run.stdout


def test_no_module_grows_past_the_limit() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_function_grows_past_the_limit() -> None:
    long = [
        f"{p.relative_to(PACKAGE)}:{node.name}"
        for p in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_the_tests_mirror_the_package() -> None:
    tests = ROOT / "tests"
    packages = {
        str(p.parent.relative_to(PACKAGE))
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE
    }
    assert {p for p in packages if not (tests / p).is_dir()} == set()
    sizes = {
        str(p.relative_to(tests)): len(p.read_text(encoding="utf-8").splitlines())
        for p in tests.rglob("test_*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_TEST_LINES} == {}


def mirror_of(module: Path) -> Path:
    """Where the tests of `module` (a file of the package) are: tests/<its folder>/test_<it>.py."""
    relative = module.relative_to(PACKAGE)
    return ROOT / "tests" / relative.parent / f"test_{relative.name}"


def test_every_module_with_logic_has_its_test_file() -> None:
    """A module of MIN_TESTED_LINES or more is tested in the file named after it; the
    end-to-end suites (tests/e2e/) are apart. The exceptions are listed, each with why."""
    missing = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py"
        and len(p.read_text(encoding="utf-8").splitlines()) >= MIN_TESTED_LINES
        and not mirror_of(p).is_file()
    }
    assert missing - set(UNTESTED) - set(REWORKED) == set()
    assert set(UNTESTED) - missing == set()  # an exception that has its test file now is no more
    assert len(UNTESTED) <= MAX_UNTESTED
    assert set(UNTESTED).isdisjoint(REWORKED)
    # The check itself: a root module's tests are at the root, a package's in its folder.
    assert mirror_of(PACKAGE / "errors.py") == ROOT / "tests" / "test_errors.py"
    assert mirror_of(PACKAGE / "pipeline" / "sources" / "filetypes" / "json.py") == (
        ROOT / "tests" / "pipeline" / "sources" / "filetypes" / "test_json.py"
    )
