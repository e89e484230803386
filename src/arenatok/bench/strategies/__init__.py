"""The built-in compression strategies, one module a family (`text`, `lowrank`, `recurrent`,
`embed`, `extract`), each filling the contract of `base.Family` as its `FAMILY`: its names,
how `--strategy` writes them, its rows of the docs' table, its defaults and how one is made,
beside its own computation (`send_many`, from what the strategies share: `shared.Shared`).
This package finds every module's `FAMILY` itself: the built-in names (`BUILT_IN`), the
defaults (`DEFAULT_STRATEGIES`), the command line's help (`HELP`) and the docs' table
(`table`) are made from them, and `parse_strategies` reads `--strategy` with them.

Your own strategy answers the per-side protocol of `arenatok.bench.protocol`, whose names
(`Side`, `Sent`, ...) are importable from here too. Importing this package loads neither
numpy nor scikit-learn (the command line reads the help from it).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from arenatok.bench.protocol import BITS, SEPARATOR, Recurrent, Sent, Side, Strategy, load, messages
from arenatok.bench.strategies.base import BuiltIn, Family, Name
from arenatok.errors import OptionError

if TYPE_CHECKING:
    from arenatok.bench.shared import Batch, Shared


def _found() -> tuple[Family, ...]:
    """Every module's FAMILY, in their order."""
    found = [
        importlib.import_module(f"{__name__}.{module.name}").FAMILY
        for module in pkgutil.iter_modules(__path__)
        if module.name != "base"
    ]
    return tuple(sorted(found, key=lambda family: family.order))


FAMILIES = _found()
NAMES: dict[str, tuple[Family, Name]] = {n.name: (f, n) for f in FAMILIES for n in f.names}
"""Every built-in strategy's name: its family, how --strategy writes it."""
BUILT_IN = tuple(NAMES)
VECTORS = tuple(n for n, (family, _) in NAMES.items() if family.vectors)
"""The strategies that send vectors, and so take @BITS."""
DEFAULT_STRATEGIES = tuple(spec for family in FAMILIES for spec in family.defaults)
"""What `arenatok bench` runs when no --strategy is given."""

HELP = (
    ", ".join(n.spec + (f" ({n.note})" if n.note else "") for f in FAMILIES for n in f.names)
    + "; several numbers give one row each (truncate_head:32,128); a vector strategy takes "
    "@BITS (recurrent:16@4); A+B sends both; or module:Class (your own); repeatable. Default: "
    + " ".join(DEFAULT_STRATEGIES)
)
"""The help of `arenatok bench --strategy`."""

_GENERAL_ROWS = (
    (
        f"a vector strategy ({', '.join(f'`{n}`' for n in VECTORS)}) `@BITS` "
        f"({', '.join(str(b) for b in BITS if b < 16)}): `lowrank:64@4`, `recurrent:16@1`, "
        "`embed:64@2`",
        "the same numbers, each quantised: 2^BITS levels spread evenly over [-s, s], s per "
        "dimension the largest \\|value\\| on the training split (messages, or the states of the "
        "training sides), decoded at the level's midpoint; 1 bit is the sign (decoded as ±s/2). "
        "The predictor sees what the receiver decodes. A recurrent sender keeps its exact state "
        "and sends it quantised each turn",
        "ceil(R × BITS / 8) bytes a message (a turn, for the recurrent ones)",
    ),
    (
        "`A+B`",
        "what A sends and what B sends (built-in strategies): `recurrent:16@4+extract:32`",
        "both",
    ),
)


def table() -> str:
    """The docs' table of the strategies (Markdown, docs/bench/method.md): every family's
    rows in order, then @BITS and A+B."""
    rows = [row for family in FAMILIES for row in family.rows] + list(_GENERAL_ROWS)
    lines = ["| strategy | what a side sends | cost |", "|---|---|---|"]
    return "\n".join(lines + [f"| {' | '.join(row)} |" for row in rows]) + "\n"


class Hybrid:
    """`A+B`: a side sends what A sends and what B sends, and pays for both; the predictor
    sees both."""

    def __init__(self, parts: Sequence[Any]) -> None:
        for p in parts:
            if not hasattr(p, "send_many"):
                combine = [n for f in FAMILIES if not f.per_side for n in (x.name for x in f.names)]
                raise OptionError(
                    f"{p.name}: only built-in strategies combine with +",
                    hint=f"combine {', '.join(combine)}",
                )
        self.parts = list(parts)
        self.name = "+".join(p.name for p in parts)

    def send_many(self, shared: Shared) -> Batch:
        from arenatok.bench.shared import Batch

        return Batch.combined([p.send_many(shared) for p in self.parts])


AnyStrategy = Strategy | Recurrent | BuiltIn


def _bits(spec: str, name: str, params: str) -> tuple[str, int]:
    """`params` without its @BITS, and the bits (16 without)."""
    params, at, bits = params.partition("@")
    if not at:
        return params, 16
    if name not in VECTORS:
        raise OptionError(
            f"{spec}: only vector strategies take @BITS", hint=f"{', '.join(VECTORS)}"
        )
    if bits not in {str(b) for b in BITS}:
        raise OptionError(f"{spec}: @BITS is 1, 2, 4, 8 or 16", hint=f"for example {name}:16@4")
    return params, int(bits)


def _built_in(spec: str, name: str, params: str) -> list[BuiltIn | Strategy]:
    """The built-in strategy `name`, once for each number of `params` (with its @BITS)."""
    family, entry = NAMES[name]
    params, bits = _bits(spec, name, params)
    if not entry.number or (entry.optional and not params):
        if params:
            raise OptionError(f"{spec}: {name} takes no number", hint=f"--strategy {name}")
        return [family.make(name, None, bits)]
    try:
        values = [int(v) for v in params.split(",") if v.strip()]
    except ValueError as e:
        raise OptionError(
            f"{spec}: {name} takes whole numbers, e.g. {name}:64",
            hint=f"for example --strategy {name}:64",
        ) from e
    if not values:
        raise OptionError(f"{spec}: say how much, e.g. {name}:64", hint=f"--strategy {name}:64")
    return [family.make(name, v, bits) for v in values]


def parse_strategies(specs: Sequence[str]) -> list[AnyStrategy]:
    """`--strategy` specs to strategies: a built-in name (`BUILT_IN`; `HELP` says how each is
    written: `truncate_head:32,64` is two, a vector strategy takes @BITS: `recurrent:16@4`),
    `A+B` (both sent), or `module:Class` for your own."""
    out: list[AnyStrategy] = []
    for spec in specs:
        if "+" in spec:
            parts = [parse_strategies([p]) for p in spec.split("+")]
            if any(len(p) != 1 for p in parts):
                raise OptionError(
                    f"{spec}: each part of a hybrid is one strategy (no sweeps)",
                    hint="for example recurrent:16@4+extract:32",
                )
            out.append(Hybrid([p[0] for p in parts]))
            continue
        name, _, params = spec.partition(":")
        if "@" in name:  # full@4
            name, _, width = name.partition("@")
            params = f"{params}@{width}"
        if name in NAMES:
            out.extend(_built_in(spec, name, params))
        elif params and not _typo(name):
            out.append(load(name, params))
        else:
            close = _typo(name)
            meant = f"did you mean {spec.replace(name, close[0], 1)}? " if close else ""
            raise OptionError(
                f"unknown strategy: {spec!r}",
                hint=f"{meant}built in: {', '.join(BUILT_IN)}; or module:Class for your own",
            )
    return out


def _typo(name: str) -> list[str]:
    """The built-in name that `name` is a likely typo of (none when a module of that name can
    be imported: then it is your own strategy's)."""
    import difflib
    import importlib.util

    close = difflib.get_close_matches(name, list(NAMES), n=1, cutoff=0.8)
    try:
        ours = close and importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        ours = False
    return [] if ours else close


__all__ = [
    "BUILT_IN",
    "DEFAULT_STRATEGIES",
    "FAMILIES",
    "HELP",
    "SEPARATOR",
    "VECTORS",
    "AnyStrategy",
    "Hybrid",
    "Recurrent",
    "Sent",
    "Side",
    "Strategy",
    "messages",
    "parse_strategies",
    "table",
]
