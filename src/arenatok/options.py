"""Every option's vocabulary, defined once (a `Literal` that the command line's choices, the
type checker and the runtime checks all read), and every check of an option's value: each
raises an OptionError that names the option as the command line spells it."""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

from arenatok.errors import OptionError

BadRowPolicy = Literal["error", "reject"]
DuplicatePolicy = Literal["flag", "drop", "error"]
Engine = Literal["local", "ray"]
Counter = Literal["tiktoken", "fast"]
ChatOverhead = Literal["openai"]
Outcome = Literal["binary", "three-way"]
Intervals = Literal["sandwich", "bootstrap"]

SEED_MAX = 2**32 - 1
"""The largest seed (what NumPy's and scikit-learn's generators take)."""


def choices(vocabulary: object) -> tuple[str, ...]:
    """The words of a vocabulary (`choices(Engine)`: ("local", "ray")), in its order."""
    return tuple(get_args(vocabulary))


def is_whole(n: object) -> TypeGuard[int]:
    """Whether `n` is a whole number (an int, not a bool)."""
    return isinstance(n, int) and not isinstance(n, bool)


def check_choice(value: object, vocabulary: object, what: str) -> None:
    """An OptionError unless `value` is one of the vocabulary's words (`what`: what they
    name, for the message)."""
    words = choices(vocabulary)
    if value not in words:
        raise OptionError(f"unknown {what}: {value!r}", hint=f"known: {', '.join(words)}")


def check_count(value: object, option: str, *, least: int = 1, example: str) -> None:
    """An OptionError unless `value` is a whole number of at least `least`."""
    if not is_whole(value) or value < least:
        what = "a positive whole number" if least == 1 else f"a whole number, {least} or more"
        raise OptionError(f"{option} must be {what}, got {value!r}", hint=f"for example {example}")


def check_seed(seed: object) -> None:
    """An OptionError unless `seed` is a whole number from 0 to SEED_MAX."""
    if not is_whole(seed) or not 0 <= seed <= SEED_MAX:
        raise OptionError(
            f"--seed must be a whole number from 0 to {SEED_MAX:,}, got {seed!r}",
            hint="for example --seed 0",
        )


def check_margin(margin: object) -> None:
    """An OptionError unless `margin` is a number above 0 and at most 1 (NaN fails both)."""
    if not isinstance(margin, int | float) or isinstance(margin, bool) or not 0 < margin <= 1:
        raise OptionError(
            f"--margin must be a number above 0 and at most 1, got {margin!r}",
            hint="for example --margin 0.02 (two AUC points)",
        )
