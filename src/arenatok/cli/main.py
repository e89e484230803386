"""The `arenatok` command: a thin layer over the library. Commands parse their options and call
one library function; what they print is in `cli_output`; the analyses' commands are in
`cli_analyses`. Errors become `Error:` and `Hint:` lines and an exit code here (`_Group`)."""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from arenatok import __version__
from arenatok.cli.analyses import CountOr, OutDir, bench_cmd, report_cmd
from arenatok.errors import ArenatokError, resource_error
from arenatok.pipeline.driver import DEFAULT_LIMIT, build
from arenatok.pipeline.encodings import ENCODINGS
from arenatok.pipeline.layouts import LAYOUTS
from arenatok.pipeline.write import METADATA
from arenatok.runtime.interrupts import Interrupted
from arenatok.text import terminal


def _on_sigterm(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


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
            return super().invoke(ctx)
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
def cli(debug: bool) -> None:
    """Token-usage datasets from Chatbot Arena battles."""
    import logging

    logging.getLogger("arenatok").setLevel(logging.DEBUG if debug else logging.WARNING)


@cli.command("build")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="[LAYOUT:]FILE",
    help="Local Parquet, JSON Lines, JSON or (kaggle-55k) CSV file in a known layout (see "
    "--format), or LAYOUT:FILE; repeatable: several sources make one dataset, duplicates found "
    "within and across them. Default: lmsys/chatbot_arena_conversations from the Hub (pinned "
    "revision, sha256 checked).",
)
@click.option(
    "--limit",
    type=CountOr("all"),
    default=str(DEFAULT_LIMIT),
    show_default=True,
    help="Read the first N rows of the source, or 'all'.",
)
@click.option(
    "--out",
    type=OutDir(),
    default="arenatok-out",
    show_default=True,
    help="Output directory.",
)
@click.option(
    "--encoding",
    default="cl100k_base",
    show_default=True,
    metavar="NAME[,NAME...]",
    help=f"tiktoken encodings ({', '.join(sorted(ENCODINGS))}); several, comma-separated, are "
    "counted in one run: the first fills token_usage, the others extra_token_usage.",
)
@click.option(
    "--tokenizer",
    "tokenizers",
    multiple=True,
    metavar="FILE",
    help="A Hugging Face tokenizer.json to count with as well (repeatable; needs "
    "pip install 'arenatok[tokenizers]'). Counted without special tokens.",
)
@click.option(
    "--format",
    "layout",
    type=click.Choice(list(LAYOUTS)),
    default=None,
    help="The source layout. Default: detected from the columns.",
)
@click.option(
    "--allow-null-turns",
    is_flag=True,
    help="Count a null reply as an empty one (flagged null_turn) instead of rejecting its row.",
)
@click.option(
    "--chat-overhead",
    type=click.Choice(["openai"]),
    default=None,
    help="Also write the chat-format tokens the OpenAI API bills (separate fields).",
)
@click.option(
    "--on-bad-row",
    type=click.Choice(["error", "reject"]),
    default="error",
    show_default=True,
    help="error: stop at the first bad row (exit 2). reject: write it to rejects.jsonl and go on.",
)
@click.option(
    "--duplicates",
    type=click.Choice(["flag", "drop", "error"]),
    default="flag",
    show_default=True,
    help="Later copies of a battle (same id, or the same battle): flag them (quality_flags: "
    "duplicate, duplicate_of), drop them to duplicates.jsonl, or stop (exit 2).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Write the dataset even when every row was rejected (otherwise that fails, exit 2).",
)
@click.option(
    "--dataset-name",
    metavar="NAME",
    help="Value of each record's `dataset` field. Default: the Hub id, or the file name.",
)
@click.option(
    "--workers",
    type=CountOr("auto"),
    default="auto",
    show_default=True,
    help="Worker processes. auto: one per core for inputs of 5,000 rows or more, else 1.",
)
@click.option(
    "--counter",
    type=click.Choice(["tiktoken", "fast"]),
    default="tiktoken",
    show_default=True,
    help="What counts tiktoken encodings: tiktoken, or fast (bpe-openai, the same counts, "
    "about twice as fast on cl100k_base; pip install 'arenatok[fast]'; a sample of the texts is "
    "recounted with tiktoken in every build).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this machine. ray: Ray Data (pip install 'arenatok[ray]'; RAY_ADDRESS "
    "points at a cluster). Same output bytes either way.",
)
def build_cmd(
    sources: tuple[str, ...],
    limit: int | None,
    out: Path,
    encoding: str,
    tokenizers: tuple[str, ...],
    layout: str | None,
    allow_null_turns: bool,
    chat_overhead: str | None,
    on_bad_row: str,
    duplicates: str,
    allow_empty: bool,
    dataset_name: str | None,
    workers: int | None,
    counter: str,
    engine: str,
) -> None:
    """Build the token-usage dataset: per-turn token counts, totals, efficiency metrics and the
    human winner of each battle, written to OUT as data_out.json, full_data_out.json,
    mini_data_out.json, preview_data_out.json, data_out.jsonl and artifact_metadata.json.

    \b
    Example:
        arenatok build --source battles.parquet --limit all --out out/
        arenatok build --source a.parquet --source kaggle-55k:train.csv --duplicates drop
    """
    from arenatok.cli.output import build_summary, progress_bar
    from arenatok.pipeline.plan import start_workers_early

    if engine != "ray":
        start_workers_early(sources, limit=limit, workers=workers)
    with progress_bar("building") as progress:
        result = build(
            list(sources) or None,
            out=out,
            limit=limit,
            encoding=[e.strip() for e in encoding.split(",") if e.strip()],
            tokenizers=tokenizers,
            layout=layout,
            allow_null_turns=allow_null_turns,
            chat_overhead=chat_overhead,
            on_bad_row="reject" if on_bad_row == "reject" else "error",
            duplicates=duplicates,
            allow_empty=allow_empty,
            dataset_name=dataset_name,
            workers=workers,
            engine="ray" if engine == "ray" else "local",
            counter=counter,
            progress=progress,
        )
    click.echo(build_summary(result), nl=False)


@cli.command("validate")
@click.argument("out_dir", type=OutDir())
@click.option(
    "--strict",
    is_flag=True,
    help="Count temp files that a killed run left (beside an intact build) as problems.",
)
def validate_cmd(out_dir: Path, strict: bool) -> None:
    """Check a directory written by `arenatok build`: every file against the sizes and sha256
    in artifact_metadata.json, every record against record.schema.json and the metric
    invariants (totals are sums of turns, shares in [0, 1]), rows read = written + rejected,
    mini = the first 3 records, preview = mini cut, and the report, bench and card made from
    this build. Exit code 0 only when all hold; otherwise every problem is listed and the exit
    code is 1. Temp files that a killed run left are warnings (exit 0), problems with --strict.

    \b
    Example:
        arenatok validate arenatok-out
    """
    from arenatok.dataset.validate import findings

    found = findings(out_dir)
    problems = found.problems + (found.warnings if strict else [])
    for p in problems:
        click.echo(terminal(f"problem: {p}"))
    if problems:
        n = len(problems)
        click.echo(terminal(f"{out_dir}: {n} problem{'s' * (n > 1)}"))
        raise SystemExit(1)
    for w in found.warnings:
        click.echo(terminal(f"warning: {w}"))
    click.echo(terminal(f"{out_dir}: ok (every file matches {METADATA}; every record holds)"))


@cli.command("card")
@click.argument("out_dir", type=OutDir())
@click.option("--force", is_flag=True, help="Replace a README.md that arenatok did not write.")
def card_cmd(out_dir: Path, force: bool) -> None:
    """Write a Hugging Face dataset card (README.md: YAML metadata with license, language,
    size, features and configs, then provenance, metric definitions and known limits) and the
    records as Parquet under data/, so that datasets.load_dataset(OUT_DIR) loads them.

    \b
    Example:
        arenatok card arenatok-out
    """
    from arenatok.dataset.card import PARQUET, write_card

    path = write_card(out_dir, force=force)
    click.echo(terminal(f"wrote {path} and {out_dir / PARQUET}"))


@cli.command("push")
@click.argument("out_dir", type=OutDir())
@click.option(
    "--repo-id", required=True, metavar="NAME", help="Dataset repo, e.g. you/arena-tokens."
)
@click.option("--private", is_flag=True, help="Create the repo private.")
@click.option("--force", is_flag=True, help="Upload over a repo whose card arenatok did not write.")
def push_cmd(out_dir: Path, repo_id: str, private: bool, force: bool) -> None:
    """Publish the card and data/ (from `arenatok card`) to a Hugging Face dataset repo. The
    token comes from HF_TOKEN or your login and is never printed or written. A repo with
    content that arenatok did not write is left alone unless --force.

    \b
    Example:
        arenatok push arenatok-out --repo-id you/arena-token-usage --private
    """
    from arenatok.dataset.push import push

    click.echo(terminal(f"pushed to {push(out_dir, repo_id, private=private, force=force)}"))


cli.add_command(report_cmd)
cli.add_command(bench_cmd)


def _within_address_limit() -> None:
    """Under an address-space limit (`ulimit -v`), Arrow allocates with the system's malloc:
    its default, mimalloc, reserves about 1.3 GB of addresses at its first allocation, which
    left a 1.5 GB limit too little for the rest, and orjson, which does not check that its
    buffer grew, dies of a segmentation fault where the memory runs out."""
    import resource

    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def main() -> None:
    """Entry point of the `arenatok` script. SIGTERM stops a command like Ctrl-C does, unless
    the process was started with SIGTERM ignored: then it stays ignored."""
    from arenatok.runtime.workers import configure_command_line

    _within_address_limit()

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # a terminal or pipe that cannot show a
            stream.reconfigure(errors="backslashreplace")  # character gets its escape
    configure_command_line()
    try:
        cli(prog_name="arenatok")
    except SystemExit as e:
        if e.code in (130, 143):
            # Stopped by a signal, and said so: leave now. Exiting normally would first join
            # the threads that watch worker pools (atexit), which can wait on a worker just
            # killed; every file is already as it was (temp files are gone).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(e.code)
        raise


if __name__ == "__main__":
    main()
