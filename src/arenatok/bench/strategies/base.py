"""What a family of built-in strategies declares (`Family`: its names, how `--strategy`
writes each, its rows of the docs' table, how one is made), the contract every module of this
package fills as its `FAMILY`; and what a built-in strategy has (`BuiltIn`). A module of this
package loads neither numpy nor scikit-learn when imported: the command line reads the names
and the help from them; each imports those where it computes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from arenatok.bench.protocol import Strategy
from arenatok.errors import OptionError

if TYPE_CHECKING:
    from arenatok.bench.shared import Batch, Shared


class BuiltIn(Protocol):
    """A built-in strategy: its name, and what every side of every battle sends, at once, made
    from the representations the strategies share (`send_many`)."""

    name: str

    def send_many(self, shared: Shared) -> Batch: ...


@dataclass(frozen=True)
class Name:
    """A built-in strategy's name, and how `--strategy` writes it."""

    name: str
    number: str = ""
    """What the number after the colon is (`K` tokens, `R` numbers); empty: it takes none."""
    optional: bool = False
    """The number may be left out (`embed` and `embed:64`)."""
    note: str = ""
    """Said after it in the help (`the embed extra`)."""

    @property
    def spec(self) -> str:
        """How `--strategy` writes it: `full`, `truncate_head:K`, `embed[:R]`."""
        if not self.number:
            return self.name
        return f"{self.name}[:{self.number}]" if self.optional else f"{self.name}:{self.number}"


Make = Callable[[str, int | None, int], BuiltIn | Strategy]
"""(name, the number after the colon or None, bits a number) to the strategy."""


@dataclass(frozen=True)
class Family:
    """A family of built-in strategies: the contract every module of this package fills (as
    `FAMILY`)."""

    names: tuple[Name, ...]
    rows: tuple[tuple[str, str, str], ...]
    """Its rows of the docs' table of strategies: (strategy, what a side sends, cost)."""
    make: Make
    order: int
    """Where it comes in the help, the built-in list, the defaults and the docs' table."""
    defaults: tuple[str, ...] = ()
    """What `arenatok bench` runs of it when no --strategy is given."""
    vectors: bool = False
    """Its strategies send vectors, and so take @BITS."""
    per_side: bool = False
    """Its strategies run through the per-side protocol (no `send_many`): they do not combine
    with +."""


def positive(n: int, message: str, example: str) -> None:
    """An OptionError (`message`, and `example` as the hint) unless n is 1 or more."""
    if n < 1:
        raise OptionError(message, hint=f"for example {example}")
