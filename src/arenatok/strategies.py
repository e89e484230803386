"""The strategy protocol and the built-in strategies, where they were first documented:
`from arenatok.strategies import Sent` keeps working. They live in `arenatok.bench`."""

from arenatok.bench.embed import Embed
from arenatok.bench.protocol import Recurrent, Sent, Side, Strategy, checked_send, run_side
from arenatok.bench.strategies import (
    BUILT_IN,
    DEFAULT_STRATEGIES,
    Full,
    LastTurn,
    LowRank,
    RecurrentLowRank,
    Truncate,
    parse_strategies,
)

__all__ = [
    "BUILT_IN",
    "DEFAULT_STRATEGIES",
    "Embed",
    "Full",
    "LastTurn",
    "LowRank",
    "Recurrent",
    "RecurrentLowRank",
    "Sent",
    "Side",
    "Strategy",
    "Truncate",
    "checked_send",
    "parse_strategies",
    "run_side",
]
