"""The exceptions arenatok raises. Only the CLI turns them into messages and exit codes.

Each class is one failure class with one exit code (the README's table is `EXIT_CODES`):
1 Hub, tokenizer or engine, 2 bad input (file, row or option), 3 output cannot be written,
4 an optional extra is missing; 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations


class ArenatokError(Exception):
    """Base class: something the user can fix; `hint` says how."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SourceError(ArenatokError):
    """The input file cannot be read as battles (missing, unreadable, malformed, wrong columns)."""

    exit_code = 2


class OptionError(ArenatokError):
    """An option or argument has a value that cannot be used."""

    exit_code = 2


class BadRowError(SourceError):
    """One battle fails a check; names the file, row (from 1), its id and the reason."""

    def __init__(
        self, *, file: str, row: int, question_id: str | None, reason: str, id_column: str
    ) -> None:
        named = f" ({id_column} {question_id!r})" if question_id is not None else ""
        super().__init__(
            f"{file}: row {row}{named}: {reason}",
            hint="fix the row, or pass --on-bad-row reject to write it to rejects.jsonl",
        )
        self.file = file
        self.row = row
        self.question_id = question_id
        self.reason = reason


class EmptyBuildError(SourceError):
    """No row of the source could be used: writing an empty dataset needs --allow-empty."""


class DuplicateError(SourceError):
    """A battle was seen before, and --duplicates error was asked for."""


class HubError(ArenatokError):
    """The Hub dataset cannot be fetched or written (offline, gated, not found, refused)."""


class HashMismatchError(ArenatokError):
    """A downloaded or bundled file does not have the pinned sha256."""


class EngineError(ArenatokError):
    """The engine that runs the per-battle work failed: a worker process died, or a Ray node
    or actor was lost."""


class TokenizerError(ArenatokError):
    """A tokenizer cannot be loaded, or two counters disagree on a text."""


class EncodingNotFoundError(OptionError):
    """The tokenizer name is not in the registry."""


class OutputError(ArenatokError):
    """The output directory cannot be written (permission, disk full, another build's lock)."""

    exit_code = 3


class MissingExtraError(ArenatokError):
    """A feature needs an optional dependency that is not installed."""

    exit_code = 4

    def __init__(self, what: str, extra: str, library: str) -> None:
        super().__init__(
            f"{what} needs {library}, which is not installed",
            hint=f"pip install 'arenatok[{extra}]'",
        )
        self.extra = extra


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "Hub, tokenizer or engine problem (a worker or a Ray node lost); `validate`: problems found",
    2: "bad input: file, row or option",
    3: "the output cannot be written (permission, disk full, another build writes there)",
    4: "an optional extra is not installed",
    130: "interrupted (Ctrl-C, SIGINT): no output was changed",
    143: "terminated (SIGTERM): no output was changed",
}
"""Every exit code of the `arenatok` command; the README's table says the same."""


SEED_MAX = 2**32 - 1
"""The largest seed (what NumPy's and scikit-learn's generators take)."""


def check_seed(seed: object) -> None:
    """An OptionError unless `seed` is a whole number from 0 to SEED_MAX."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
        raise OptionError(
            f"--seed must be a whole number from 0 to {SEED_MAX:,}, got {seed!r}",
            hint="for example --seed 0",
        )


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its class name if it has none), cut."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:limit]
