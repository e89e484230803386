"""The `arenatok` group and its entry point: errors become `Error:` and `Hint:` lines and an
exit code here (`_Group`); the commands (`build_command`, `dataset_commands`, `analyses`)
parse their options and call one library function each; what they print is in `output`."""

from __future__ import annotations

import io
import os
import signal
import sys
from typing import Any

import click

from arenatok._version import __version__
from arenatok.cli.analyses import bench_cmd, report_cmd
from arenatok.cli.build_command import build_cmd
from arenatok.cli.dataset_commands import card_cmd, push_cmd, validate_cmd
from arenatok.errors import ArenatokError, resource_error
from arenatok.runtime import interrupts
from arenatok.runtime.environment import settle
from arenatok.runtime.interrupts import Interrupted
from arenatok.text import terminal


class _Group(click.Group):
    """Turns ArenatokError, and click's own errors of usage, into `Error: ...` / `Hint: ...`
    and its exit code (see errors.EXIT_CODES); no traceback unless --debug, which may come
    anywhere on the command line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--debug" in args[1:] and "--" not in args[: args.index("--debug")]:
            args = ["--debug", *(a for a in args if a != "--debug")]
        return super().parse_args(ctx, args)

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        if extra.get("standalone_mode", True) is False:
            return super().main(args, prog_name, **extra)
        try:
            code = super().main(args, prog_name, **{**extra, "standalone_mode": False})
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # `arenatok` alone: the help
                e.show()
                sys.exit(e.exit_code)
            command = e.ctx.command_path if e.ctx else prog_name or "arenatok"
            click.echo(f"Error: {terminal(e.format_message())}", err=True)
            click.echo(f"Hint: {command} --help lists every option and its values", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"Error: {terminal(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            done = super().invoke(ctx)
            if interrupts.late() is not None:
                click.echo(
                    "A stop signal came after the output was written: the command completed, "
                    "and its output is whole.",
                    err=True,
                )
            return done
        except ArenatokError as e:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {terminal(e.message)}", err=True)
            if e.hint:
                click.echo(f"Hint: {terminal(e.hint)}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:
            # The reader of stdout went away (`arenatok report out | head -1`): the files are
            # written; stop quietly, as a command killed by SIGPIPE does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except (MemoryError, OSError, ImportError) as e:
            cause = resource_error(e)
            if cause is None or ctx.params.get("debug"):
                raise
            click.echo(f"Error: {terminal(cause.message)}", err=True)
            click.echo(f"Hint: {terminal(cause.hint)}", err=True)
            ctx.exit(cause.exit_code)
        except KeyboardInterrupt as e:
            if ctx.params.get("debug"):
                raise
            if isinstance(e, Interrupted) and e.signum == signal.SIGTERM:
                click.echo("Terminated: no output was changed.", err=True)
                ctx.exit(143)
            click.echo("Interrupted: no output was changed.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="arenatok")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Token-usage datasets from Chatbot Arena battles."""
    import logging

    logging.getLogger("arenatok").setLevel(logging.DEBUG if debug else logging.WARNING)
    settle(ctx.invoked_subcommand)  # before a command imports the libraries that read them


for _command in (build_cmd, validate_cmd, card_cmd, push_cmd, report_cmd, bench_cmd):
    cli.add_command(_command)


def _within_address_limit() -> None:
    """Under an address-space limit (`ulimit -v`), Arrow allocates with the system's malloc:
    its default, mimalloc, reserves about 1.3 GB of addresses at its first allocation, which
    left a 1.5 GB limit too little for the rest, and orjson, which does not check that its
    buffer grew, dies of a segmentation fault where the memory runs out."""
    import resource

    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def main() -> None:
    """The `arenatok` script, once loaded (`cli.main` loads it). SIGTERM stops a command like
    Ctrl-C does, unless the process was started with SIGTERM ignored: then it stays ignored.
    After a commit has put the output in place, both are noted instead (`interrupts.late`)."""
    from arenatok.runtime.workers import configure_command_line, release_now

    _within_address_limit()
    interrupts.hold_after_commit()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # a terminal or pipe that cannot show a
            stream.reconfigure(errors="backslashreplace")  # character gets its escape
    configure_command_line()
    try:
        try:
            cli(prog_name="arenatok")
        except KeyboardInterrupt as e:  # before a command runs (while click reads the options)
            sigterm = isinstance(e, Interrupted) and e.signum == signal.SIGTERM
            click.echo(
                f"{'Terminated' if sigterm else 'Interrupted'}: no output was changed.", err=True
            )
            sys.exit(143 if sigterm else 130)
    except SystemExit as e:
        if e.code in (130, 143):
            # Stopped by a signal, and said so: leave now. Exiting normally would first join
            # the threads that watch worker pools (atexit), which can wait on a worker just
            # killed; every file is already as it was (temp files are gone).
            release_now()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(e.code)
        raise


if __name__ == "__main__":
    main()
