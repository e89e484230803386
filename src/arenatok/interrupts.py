"""Ctrl-C and SIGTERM, taken at safe points: a signal that arrives inside `deferred_signals()`
is noted, and raised as usual when the block ends (or earlier, where the block checks)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Yield the list of signals caught so far (empty: none); deliver them on exit.

    Raising KeyboardInterrupt at an arbitrary point can leave a process pool or a half-done
    rename behind; with this, the code decides where it stops. Only the main thread can set
    handlers: elsewhere nothing is deferred."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    old = {sig: signal.signal(sig, lambda sig, _frame: caught.append(sig)) for sig in HELD}
    try:
        yield caught
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for number in caught[:1]:
            os.kill(os.getpid(), number)
