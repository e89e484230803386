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

MIN_ROUNDS = 100
"""The fewest bootstrap rounds of a 95% percentile interval. Its ends are the 2.5th and 97.5th
percentiles of the resamples: under 41 the lower end lies between the smallest two (at 1 round
both ends are that one resample: an interval of width 0). At 100, 2.5 resamples lie beyond each
end, which then moves by about a quarter of a standard error from seed to seed (12% of the
interval's half-width; at 1,000 rounds 4%)."""


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


def check_count(value: object, option: str, *, example: str) -> None:
    """An OptionError unless `value` is a positive whole number."""
    if not is_whole(value) or value < 1:
        what = f"{option} must be a positive whole number"
        raise OptionError(f"{what}, got {value!r}", hint=f"for example {example}")


def check_rounds(rounds: object) -> None:
    """An OptionError unless `rounds` (bootstrap rounds, of the report and the bench alike) is
    0 (no intervals) or a whole number of at least MIN_ROUNDS."""
    if not is_whole(rounds) or not (rounds == 0 or rounds >= MIN_ROUNDS):
        raise OptionError(
            f"--rounds must be 0 (no intervals) or a whole number, {MIN_ROUNDS} or more, got "
            f"{rounds!r}",
            hint="a 95% interval's ends are the 2.5th and 97.5th percentiles of the resamples, "
            f"which fewer than {MIN_ROUNDS} place too roughly; for example --rounds 1000",
        )


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
