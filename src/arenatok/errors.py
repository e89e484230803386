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


class BuildError(SourceError):
    """A built directory fails its checks (what `arenatok validate` lists): a command that
    reads it refuses it."""


class StaleBuildError(ArenatokError):
    """The build an analysis read was replaced while it ran: nothing was written."""

    exit_code = 3


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

    def __init__(self, what: str, extra: str, library: str, *, need: str = "needs") -> None:
        super().__init__(
            f"{what} {need} {library}, which is not installed",
            hint=f"pip install 'arenatok[{extra}]'",
        )
        self.extra = extra


class ResourceError(ArenatokError):
    """The machine ran out of what the command needs: memory, or open files."""


def resource_error(e: BaseException) -> ResourceError | None:
    """The ResourceError that `e` is a sign of (out of memory, too many open files, whatever
    the code that met it thought it was), or None."""
    import errno

    text = str(e).lower()
    memory = (
        isinstance(e, MemoryError)
        or type(e).__name__ == "ArrowMemoryError"
        or (isinstance(e, OSError) and e.errno == errno.ENOMEM)
        or (isinstance(e, ImportError) and "cannot allocate memory" in text)
    )
    if memory:
        return ResourceError(
            "out of memory" + (f" ({first_line(e)})" if str(e) else ""),
            hint="free memory or raise the limit (ulimit -v), or ask for less: fewer --workers "
            "or --jobs, a smaller --limit",
        )
    files = (isinstance(e, OSError) and e.errno in (errno.EMFILE, errno.ENFILE)) or (
        isinstance(e, ImportError) and "too many open files" in text
    )
    if files:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return ResourceError(
            f"too many open files (this process may have {soft} open at once)",
            hint="raise the limit (ulimit -n 4096), or use fewer --workers or --jobs",
        )
    return None


def missing_extra(
    e: ImportError, what: str, extra: str, library: str, module: str, *, need: str = "needs"
) -> ArenatokError:
    """What an ImportError of an optional library (imported as `module`) means: the extra is
    not installed, or the machine is short of a resource (`resource_error`), or the library is
    there but cannot be loaded. `need`: the verb that agrees with `what`."""
    import importlib.util

    cause = resource_error(e)
    if cause is not None:
        return cause
    try:
        installed = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        installed = False
    if not installed:
        return MissingExtraError(what, extra, library, need=need)
    return ArenatokError(
        f"{what} {need} {library}, which is installed but cannot be imported ({first_line(e)})",
        hint=f"reinstall it: pip install --force-reinstall 'arenatok[{extra}]'",
    )


def need_extra(what: str, extra: str, libraries: dict[str, str]) -> None:
    """Import each library that `what` needs from the extra `extra` ({module: library}), before
    the modules that import them at their top do; the first that fails raises what its
    ImportError means (`missing_extra`)."""
    import importlib

    for module, library in libraries.items():
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise missing_extra(e, what, extra, library, module) from e


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "Hub, tokenizer or engine problem (a worker or a Ray node lost); `validate`: problems found",
    2: "bad input: file, row or option",
    3: "the output cannot be written (permission, disk full, another build writes there, a "
    "file arenatok did not write is in the way, the build read was replaced meanwhile)",
    4: "an optional extra is not installed",
    130: "interrupted (Ctrl-C, SIGINT): no output was changed",
    143: "terminated (SIGTERM): no output was changed",
}
"""Every exit code of the `arenatok` command; the README's table says the same."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its class name if it has none), cut."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:limit]
