"""`bench.strategies`: each module one `Family`, found by the package; the built-in names, the
defaults, the command line's help and the docs' table made from them; `--strategy` read with
them (sweeps, @BITS, hybrids, and the errors)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from arenatok.bench import strategies
from arenatok.bench.strategies import (
    BUILT_IN,
    DEFAULT_STRATEGIES,
    FAMILIES,
    HELP,
    VECTORS,
    parse_strategies,
    table,
)
from arenatok.bench.strategies.base import Family, Name
from arenatok.errors import OptionError
from tests.helpers import ROOT


def test_every_module_is_one_family() -> None:
    modules = [m.name for m in pkgutil.iter_modules(strategies.__path__) if m.name != "base"]
    found = [importlib.import_module(f"arenatok.bench.strategies.{m}").FAMILY for m in modules]
    assert all(isinstance(f, Family) for f in found)
    assert sorted(id(f) for f in found) == sorted(id(f) for f in FAMILIES)
    assert tuple(n.name for f in FAMILIES for n in f.names) == BUILT_IN
    assert BUILT_IN[:2] == ("full", "last_turn")  # the families in their order
    assert tuple(n.name for f in FAMILIES if f.vectors for n in f.names) == VECTORS
    assert {"lowrank", "recurrent", "embed"} <= set(VECTORS)
    assert not {"full", "extract"} & set(VECTORS)


def test_the_help_and_the_defaults_come_from_the_families() -> None:
    for family in FAMILIES:
        for name in family.names:
            assert name.spec in HELP
    assert HELP.endswith("Default: " + " ".join(DEFAULT_STRATEGIES))
    names = [s.name for s in parse_strategies(list(DEFAULT_STRATEGIES))]
    assert names[:2] == ["full", "last_turn"]
    assert "truncate_head:32" in names
    assert "truncate_head:128" in names  # a sweep, one row each
    assert [Name("full").spec, Name("extract", "K").spec] == ["full", "extract:K"]
    assert Name("embed", "R", optional=True).spec == "embed[:R]"


def test_the_docs_are_the_registrys() -> None:
    """docs/bench/method.md holds `table()` as it is (a new strategy's row is its family's);
    the command's page lists the defaults."""
    method = (ROOT / "docs" / "bench" / "method.md").read_text(encoding="utf-8")
    made = table()
    assert made in method
    assert made.count("\n") == 2 + sum(len(f.rows) for f in FAMILIES) + 2
    page = (ROOT / "docs" / "commands" / "bench.md").read_text(encoding="utf-8")
    assert f"Default: `{' '.join(DEFAULT_STRATEGIES)}`" in page


def test_parse_strategies_sweeps_and_errors() -> None:
    names = [s.name for s in parse_strategies(["full", "truncate_head:32,64", "lowrank:8"])]
    assert names == ["full", "truncate_head:32", "truncate_head:64", "lowrank:8"]
    for bad, says in (
        ("gzip", r"unknown strategy: 'gzip'"),
        ("truncate_tail", r"say how much, e\.g\. truncate_tail:64"),
        ("truncate_tail:x", r"truncate_tail takes whole numbers"),
        ("truncate_tail:0", r"truncation needs a positive number of tokens, got 0"),
        ("full:3", r"full takes no number"),
    ):
        with pytest.raises(OptionError, match=says):
            parse_strategies([bad])


def test_parse_bits_extract_and_hybrids() -> None:
    names = [s.name for s in parse_strategies(["lowrank:16,64@4", "recurrent:16@1", "extract:32"])]
    assert names == ["lowrank:16@4", "lowrank:64@4", "recurrent:16@1", "extract:32"]
    [hybrid] = parse_strategies(["recurrent:16@4+extract:32"])
    assert hybrid.name == "recurrent:16@4+extract:32"
    for bad, says in (
        ("full@4", "only vector strategies take @BITS"),
        ("truncate_head:32@4", "only vector strategies take @BITS"),
        ("lowrank:16@3", "@BITS is 1, 2, 4, 8 or 16"),
        ("extract:16,32+full", "each part of a hybrid is one strategy"),
    ):
        with pytest.raises(OptionError, match=says):
            parse_strategies([bad])


@pytest.mark.parametrize(
    ("spec", "meant"),
    [("lowrnk:16", "lowrank:16"), ("trunc_head:32", "truncate_head:32"), ("ful", "full")],
)
def test_a_typo_of_a_built_in_name_suggests_it(spec: str, meant: str) -> None:
    """A typo of a built-in strategy is not taken for your own module (whose import would
    fail with a PYTHONPATH hint): the hint names the strategy meant."""
    with pytest.raises(OptionError, match="unknown strategy") as caught:
        parse_strategies([spec])
    assert caught.value.hint is not None
    assert caught.value.hint.startswith(f"did you mean {meant}? built in: full, ")
    with pytest.raises(OptionError, match="cannot load strategy json_x:Foo"):
        parse_strategies(["json_x:Foo"])  # not close to a built-in name: your own, tried
