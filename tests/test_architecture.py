"""ARCHITECTURE.md stays true: every module it names exists, and every module is named."""

from __future__ import annotations

import re

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "arenatok"
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


PACKAGES = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def test_every_named_module_and_function_exists() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
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
