"""Install profiles: the base install (no extra) runs build, validate, card and push; a command
or option without its extra stops with exit 4 and the extra to install. An extra is taken away
from a subprocess of the real command by a sitecustomize on PYTHONPATH whose import finders find
none of its modules; which modules, is read from pyproject.toml's optional dependencies, so
that a new one cannot slip past. (The same in a fresh virtual environment: .ci/base-install.)"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.fakehub import serve
from tests.helpers import ROOT, TINY, battle, write_jsonl, write_parquet

tomllib = pytest.importorskip("tomllib", reason="Python 3.11 reads pyproject.toml")

NOT_INSTALLED = {"mutmut": {"mutmut"}}
"""The import names of the extras' distributions that the test command does not install (the
`mutation` extra): they cannot be imported here anyway."""

DEVELOPMENT = {"test", "docs", "mutation"}
"""The extras for developing arenatok: no command needs them."""

HIDE = """
import os
import sys

HIDDEN = frozenset(os.environ["ARENATOK_TEST_HIDDEN"].split(","))


class Hidden:
    # Wraps a finder: a hidden package is found by none, as if it were not installed.
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        find = getattr(self.finder, "find_spec", None)
        if name.partition(".")[0] in HIDDEN or find is None:
            return None
        return find(name, path, target)

    def __getattr__(self, name):
        return getattr(self.finder, name)


sys.meta_path[:] = [Hidden(f) for f in sys.meta_path]
"""


def _project() -> dict[str, list[str]]:
    """{"": the base dependencies, extra: its dependencies} from pyproject.toml, as names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {k: [canonicalize_name(Requirement(r).name) for r in v] for k, v in groups.items()}


def modules_of(extras: set[str]) -> set[str]:
    """The top-level modules of these extras' distributions, less those of the base install.
    A distribution whose modules cannot be told fails the test (add it to NOT_INSTALLED)."""
    provides: dict[str, set[str]] = defaultdict(set, NOT_INSTALLED)
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            provides[canonicalize_name(dist)].add(module)
    groups = _project()
    wanted = {d for extra in extras for d in groups[extra]} - set(groups[""])
    unknown = sorted(d for d in wanted if not provides[d])
    assert not unknown, f"the modules of {unknown} are unknown: name them in NOT_INSTALLED"
    base = {m for d in groups[""] for m in provides[d]}
    return {m for d in wanted for m in provides[d]} - base


def without(extras: set[str], tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess in which these extras are not installed."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HIDE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    hidden = ",".join(sorted(modules_of(extras)))
    return {**os.environ, "PYTHONPATH": path, "ARENATOK_TEST_HIDDEN": hidden}


def arenatok(env: dict[str, str], *args: object) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the real command."""
    done = subprocess.run(
        [sys.executable, "-m", "arenatok.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def every_extra() -> set[str]:
    return set(_project()) - {""}


def test_the_extras_modules_are_read_from_pyproject() -> None:
    hidden = modules_of(every_extra())
    assert {"matplotlib", "scipy", "sklearn", "ray", "tokenizers", "bpe_openai"} <= hidden
    assert {"wordllama", "mkdocs", "pytest", "mutmut"} <= hidden
    assert not {"numpy", "pyarrow", "huggingface_hub", "tiktoken"} & hidden  # the base's


def test_the_hidden_modules_cannot_be_imported(tmp_path: Path) -> None:
    code = "import importlib.util, sys; print(importlib.util.find_spec(sys.argv[1]))"
    env = without({"bench"}, tmp_path)
    for module, found in (("sklearn", "None"), ("numpy", "ModuleSpec")):
        done = subprocess.run(
            [sys.executable, "-c", code, module], capture_output=True, text=True, env=env
        )
        assert done.stdout.startswith(found), done.stderr


def test_the_base_install_builds_validates_makes_the_card_and_pushes(tmp_path: Path) -> None:
    env = without(every_extra(), tmp_path)
    rows = [battle(f"q{i}", winner=("model_a", "model_b", "tie")[i % 3]) for i in range(30)]
    src, out = write_jsonl(tmp_path / "b.jsonl", rows), tmp_path / "out"
    code, stdout, err = arenatok(env, "build", "--source", src, "--out", out)
    assert (code, err) == (0, ""), err
    assert stdout.startswith("rows read 30 = written 30 + rejected 0\n")
    ok = f"{out}: ok (every file matches artifact_metadata.json; every record holds)\n"
    assert arenatok(env, "validate", out) == (0, ok, "")
    code, _, err = arenatok(env, "card", out)
    assert (code, err) == (0, "")
    with serve({}) as hub:
        pushing = {**env, "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_fake_token"}
        code, stdout, err = arenatok(pushing, "push", out, "--repo-id", "you/arena")
        assert (code, err) == (0, ""), err
        [commit] = hub.commits
        assert stdout == f"pushed to {hub.url}/datasets/you/arena\n"
    shard = "train-00000-of-00001.parquet"
    configs = [f"data/{shard}", *(f"data/{c}/{shard}" for c in ("flat", "turns", "preference"))]
    names = ["README.md", "croissant.json", *configs]
    assert commit == {name: (out / name).read_bytes() for name in names}


FEATURES = {
    "report": (("report", "{out}"), "arenatok report needs scipy"),
    "bench": (("bench", "{out}"), "arenatok bench needs scikit-learn"),
    "embed": (("bench", "{out}", "--strategy", "embed"), "the embed strategies need wordllama"),
    "fast": (
        ("build", "--source", "{src}", "--counter", "fast"),
        "--counter fast needs bpe-openai",
    ),
    "ray": (("build", "--source", "{parquet}", "--engine", "ray"), "--engine ray needs Ray Data"),
    "tokenizers": (
        ("build", "--source", "{src}", "--tokenizer", "{src}"),
        "--tokenizer needs the tokenizers library",
    ),
}
"""What each extra is for: a command line that needs it, and what it says without it."""


def test_every_extra_is_a_feature_or_for_development() -> None:
    assert every_extra() == set(FEATURES) | DEVELOPMENT


@pytest.mark.parametrize("extra", sorted(FEATURES))
def test_without_its_extra_a_command_names_it(extra: str, tmp_path: Path) -> None:
    from arenatok.pipeline.driver import build

    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    files = {"src": src, "parquet": write_parquet(tmp_path / "b.parquet", TINY)}
    build(src, out=tmp_path / "o")
    args, what = FEATURES[extra]
    line = [a.format(out=tmp_path / "o", **files) for a in args]
    if line[0] == "build":
        line += ["--out", str(tmp_path / "new")]
    code, _, err = arenatok(without({extra}, tmp_path), *line)
    assert (code, err) == (
        4,
        f"Error: {what}, which is not installed\nHint: pip install 'arenatok[{extra}]'\n",
    )
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("extra", ["report", "bench"])
def test_the_base_install_names_the_extra_of_report_and_bench(extra: str, tmp_path: Path) -> None:
    from arenatok.pipeline.driver import build

    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "o")
    code, _, err = arenatok(without(every_extra(), tmp_path), extra, tmp_path / "o")
    assert (code, err.splitlines()[1]) == (4, f"Hint: pip install 'arenatok[{extra}]'")
    assert len(err.splitlines()) == 2
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if "report" in p.name) == []


def test_import_and_help_load_no_extra() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import arenatok\n"
        "from arenatok.cli import cli\n"
        "for args in (['--help'], *([c, '--help'] for c in cli.commands)):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "print(sorted(set(sys.argv[1:]) & set(sys.modules)))\n"
    )
    hidden = sorted(modules_of(every_extra()))
    done = subprocess.run(
        [sys.executable, "-c", code, *hidden], capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"
