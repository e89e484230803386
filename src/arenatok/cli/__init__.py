"""The `arenatok` command: a thin layer over the library (`main`: the group, its errors and
exit codes; `build_command`, `dataset_commands`, `analyses`: the commands; `output`: what they
print; `params`: the option types they share).

`main` is the script's entry point: it loads the command line inside, so that Ctrl-C or
SIGTERM while the libraries load ends as a stop does anywhere else (one line, 130 or 143)."""

from __future__ import annotations

import signal
import sys
from typing import Any

from arenatok.runtime.interrupts import Interrupted


def _stop(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def main() -> None:
    """Entry point of the `arenatok` script (`main.main`, once loaded)."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _stop)
    try:
        from arenatok.cli.main import main as run
    except KeyboardInterrupt as e:
        sigterm = isinstance(e, Interrupted) and e.signum == signal.SIGTERM
        word = "Terminated" if sigterm else "Interrupted"
        sys.stderr.write(f"{word}: no output was changed.\n")
        sys.exit(143 if sigterm else 130)
    run()


def __getattr__(name: str) -> Any:
    if name == "cli":
        from arenatok.cli.main import cli

        return cli
    raise AttributeError(f"module 'arenatok.cli' has no attribute {name!r}")


__all__ = ["cli", "main"]
