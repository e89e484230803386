"""The environment variables that a library arenatok imports reads when first imported, checked
before that import: a value it would stop at with a traceback (numpy's f2py, loaded with SciPy,
reads SOURCE_DATE_EPOCH as a whole number; huggingface_hub its timeouts and HF_ENDPOINT;
matplotlib MPLBACKEND; scikit-learn, joblib and tqdm their numbers) is one line where the
command uses the variable (`check`: an OptionError, exit 2), and is taken out of the command's
environment where it does not (`settle`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from arenatok.errors import OptionError


def whole_seconds(value: str, *, digits: int = 12) -> bool:
    """Whether `value` is whole seconds: ASCII digits, at most `digits` of them."""
    return value.isascii() and value.isdigit() and len(value) <= digits


def http_url(value: str) -> bool:
    """Whether `value` is an http or https URL with a host (and a port, if any, a number)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _reads_as(kind: Callable[[str], object]) -> Callable[[str], bool]:
    """Whether a value reads as `kind` (int, float), as the library that reads it converts."""

    def reads(value: str) -> bool:
        try:
            kind(value)
        except ValueError:
            return False
        return True

    return reads


@dataclass(frozen=True)
class Variable:
    """An environment variable read at a library's import: what a value must be (for the
    message), an example, the check, and the commands that use it (none: arenatok never reads
    it; a library would, and a value it cannot read is taken out)."""

    must: str
    example: str
    valid: Callable[[str], bool]
    used_by: frozenset[str] = frozenset()


_HUB = frozenset({"build", "push"})  # build: from the Hub only (no --source)
_SECONDS = Variable("whole seconds", "10", lambda v: whole_seconds(v, digits=9), _HUB)
_TQDM_INT = ("NCOLS", "NROWS", "POSITION", "INITIAL", "UNIT_DIVISOR")
_TQDM_FLOAT = ("TOTAL", "MININTERVAL", "MAXINTERVAL", "MINITERS", "SMOOTHING", "DELAY")

VARIABLES: dict[str, Variable] = {
    "SOURCE_DATE_EPOCH": Variable(
        "whole seconds since 1970", "$(date +%s)", whole_seconds, frozenset({"build"})
    ),
    "HF_ENDPOINT": Variable("an http or https URL", "https://huggingface.co", http_url, _HUB),
    "HF_HUB_ETAG_TIMEOUT": _SECONDS,
    "HF_HUB_DOWNLOAD_TIMEOUT": _SECONDS,
    # arenatok draws its figures without pyplot: the backend is never used, and matplotlib
    # refuses at import a name it does not know.
    "MPLBACKEND": Variable("unset", "", lambda v: False),
    "SKLEARN_WORKING_MEMORY": Variable("a whole number", "1024", _reads_as(int)),
    "JOBLIB_MULTIPROCESSING": Variable("a whole number", "1", _reads_as(int)),
    "LOKY_MAX_DEPTH": Variable("a whole number", "10", _reads_as(int)),
    # tqdm's settings of the Hub's download bars, read at tqdm's import.
    **{f"TQDM_{n}": Variable("a whole number", "1", _reads_as(int)) for n in _TQDM_INT},
    **{f"TQDM_{n}": Variable("a number", "1", _reads_as(float)) for n in _TQDM_FLOAT},
}
"""Every variable checked, by name."""

HUB = ("HF_ENDPOINT", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT")
"""What huggingface_hub reads at its import and would stop at, for `check` before it."""


def check(*names: str) -> None:
    """An OptionError (exit 2) for the first of these variables whose value its check refuses
    (set but empty too: to the library that reads it, empty is not unset)."""
    for name in names:
        value = os.environ.get(name)
        variable = VARIABLES[name]
        if value is not None and not variable.valid(value):
            raise OptionError(
                f"{name} must be {variable.must}, got {value[:40]!r}",
                hint=f"for example {name}={variable.example}, or unset it",
            )


def settle(command: str | None) -> None:
    """For the `arenatok` command, which owns its process (its workers inherit the change):
    take out every variable set empty (empty is unset), and every one that `command` does not
    use whose value would stop the library that reads it."""
    for name, variable in VARIABLES.items():
        value = os.environ.get(name)
        if value == "" or (
            value is not None and command not in variable.used_by and not variable.valid(value)
        ):
            del os.environ[name]
