"""The exceptions arenatok raises. Only the CLI turns them into messages and exit codes."""

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


class BadRowError(SourceError):
    """One battle fails a check; names the file, row, question_id and reason."""

    def __init__(self, *, file: str, row: int, question_id: str | None, reason: str) -> None:
        super().__init__(
            f"{file}: row {row} (question_id {question_id!r}): {reason}",
            hint="fix the row, or pass --on-bad-row reject to write it to rejects.jsonl",
        )
        self.file = file
        self.row = row
        self.question_id = question_id
        self.reason = reason


class HubError(ArenatokError):
    """The Hub dataset cannot be fetched (offline, gated, not found)."""


class HashMismatchError(ArenatokError):
    """A downloaded or bundled file does not have the pinned sha256."""


class EncodingNotFoundError(ArenatokError):
    """The tokenizer name is not in the registry."""


class OutputError(ArenatokError):
    """The output directory cannot be written."""
