"""Ctrl-C and SIGTERM, taken at safe points.

Inside `held()`, SIGINT and SIGTERM are noted instead of raised; the code calls `check()` where
stopping is safe (between batches), which raises `Interrupted`. A signal that the process
ignores (a background job of a script, `nohup`) stays ignored: that is what its caller asked
for. A signal noted after the last `check()` (during the final renames, say) does not undo
finished work: `caught()` tells the caller that it came.

The command line goes further (`hold_after_commit`): once a commit has put its output in place
(`committed`), a stop signal can no longer make the command's words untrue ("no output was
changed"), so for the rest of the process it is noted (`late`), not raised.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM)

_caught: list[int] | None = None
"""The signals noted so far inside `held()` (None: not inside)."""
_late: list[int] | None = None
"""With `hold_after_commit()`: the signals that came after a commit (None: not asked for)."""
_after_commit = False
"""Whether a commit has put its output in place (with `hold_after_commit()`)."""


class Interrupted(KeyboardInterrupt):
    """The work stopped at a safe point after SIGINT or SIGTERM; `exit_code` is 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


def _note(signum: int, _frame: FrameType | None) -> None:
    if _caught is not None:
        _caught.append(signum)


@contextmanager
def held() -> Iterator[None]:
    """Note SIGINT and SIGTERM (unless ignored) instead of raising them; nested uses share the
    outermost one. Only the main thread can set handlers: elsewhere nothing is held."""
    global _caught
    if _caught is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    _caught = []
    old = {}
    for sig in HELD:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            old[sig] = signal.signal(sig, _note)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, _note_late if _after_commit else handler)
        _caught = None


def caught() -> int | None:
    """The first signal noted inside `held()`, or None."""
    return _caught[0] if _caught else None


def check() -> None:
    """Raise `Interrupted` if a signal was noted inside `held()`."""
    if _caught:
        raise Interrupted(_caught[0])


def _note_late(signum: int, _frame: FrameType | None) -> None:
    if _late is not None:
        _late.append(signum)


def hold_after_commit() -> None:
    """From the first `committed()` on, note SIGINT and SIGTERM for the rest of the process
    instead of raising them (the command line asks for this; a library caller keeps its own
    handlers)."""
    global _late
    if _late is None:
        _late = []


def committed() -> None:
    """A commit has put its output in place (called inside `held()`, which then keeps noting
    signals when it ends), where `hold_after_commit()` was asked for."""
    global _after_commit
    if _late is not None and threading.current_thread() is threading.main_thread():
        _after_commit = True


def late() -> int | None:
    """The first signal that came after a commit (with `hold_after_commit()`), or None."""
    return _late[0] if _late else None
