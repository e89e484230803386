"""Ctrl-C and SIGTERM, taken at safe points.

Inside `held()`, SIGINT and SIGTERM are noted instead of raised; the code calls `check()` where
stopping is safe (between batches), which raises `Interrupted`. A signal that the process
ignores (a background job of a script, `nohup`) stays ignored: that is what its caller asked
for. A signal noted after the last `check()` (during the final renames, say) does not undo
finished work: `caught()` tells the caller that it came.
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
            signal.signal(sig, handler)
        _caught = None


def caught() -> int | None:
    """The first signal noted inside `held()`, or None."""
    return _caught[0] if _caught else None


def check() -> None:
    """Raise `Interrupted` if a signal was noted inside `held()`."""
    if _caught:
        raise Interrupted(_caught[0])
