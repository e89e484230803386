"""ARCHITECTURE.md stays true: every module it names exists, and every module is named. The
imports keep their layers (the contract in pyproject.toml, checked by import-linter), and no
module grows past MAX_LINES."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "arenatok"
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


PACKAGES = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
MAX_LINES = 400


def test_every_named_module_and_function_exists() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} | PACKAGES
    refs = re.findall(r"`([a-z_]+)\.([A-Za-z_]+)(?![.\w])", TEXT)  # not file.name.json
    refs = [(m, a) for m, a in refs if a not in ("json", "jsonl", "html", "md", "parquet")]
    assert len(refs) > 20
    for module, attr in refs:
        if module in PACKAGES and (PACKAGE / module / f"{attr}.py").is_file():
            continue  # a module of a package: `bench.run`
        assert module in modules, f"ARCHITECTURE.md names a module {module} that does not exist"
        source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
        assert re.search(rf"^\s*(def|class) {attr}\b|^{attr}\b", source, re.M), (
            f"ARCHITECTURE.md names {module}.{attr}, which {module}.py does not define"
        )


def named(module: str, text: str = TEXT) -> bool:
    """Whether the map names a module as itself (`check` or `check.something`), not as part
    of a longer name (`check_arrow` does not name `check`)."""
    return re.search(rf"`{re.escape(module)}(`|\.\w)", text) is not None


def test_every_module_is_named() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "_forkserver"}
    missing = [m for m in sorted(modules) if not named(m)]
    for package in PACKAGES:
        inner = {p.stem for p in (PACKAGE / package).glob("*.py")} - {"__init__"}
        missing += [f"{package}.{m}" for m in sorted(inner) if not named(f"{package}.{m}")]
    assert missing == []
    # The check itself: a module named only inside a longer name is not named.
    assert not named("check", "`check_arrow` reads Arrow batches")
    assert named("check", "`check.parse_rows` and `check_arrow`")


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
    steps = tmp_path / "arenatok" / "steps.py"
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
    assert "arenatok.steps -> arenatok.report.numbers" in run.stdout


def test_no_module_grows_past_the_limit() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
