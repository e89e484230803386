"""`arenatok build`: its options, parsed and handed to `pipeline.build`."""

from __future__ import annotations

from pathlib import Path

import click

from arenatok.cli.params import CountOr, OutDir, choice
from arenatok.options import BadRowPolicy, ChatOverhead, Counter, DuplicatePolicy, Engine
from arenatok.pipeline import DEFAULT_LIMIT, build
from arenatok.pipeline.encodings import ENCODINGS
from arenatok.pipeline.layouts import LAYOUTS


@click.command("build", short_help="Build the token-usage dataset from the Hub or local files.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="[LAYOUT:]FILE",
    help="Local Parquet, JSON Lines, JSON or (kaggle-55k) CSV file in a known layout (see "
    "--layout), or LAYOUT:FILE; repeatable: several sources make one dataset, duplicates found "
    "within and across them. Default: lmsys/chatbot_arena_conversations from the Hub (pinned "
    "revision, sha256 checked).",
)
@click.option(
    "--limit",
    type=CountOr("all"),
    default=str(DEFAULT_LIMIT),
    show_default=True,
    help="Read the first N rows of each source, or 'all'.",
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
    "--layout",
    "--format",
    "layout",
    type=click.Choice(list(LAYOUTS)),
    default=None,
    help="The source layout (--format: its older name). Default: detected from the columns.",
)
@click.option(
    "--allow-null-turns",
    is_flag=True,
    help="Count a null reply as an empty one (flagged null_turn) instead of rejecting its row.",
)
@click.option(
    "--chat-overhead",
    type=choice(ChatOverhead),
    default=None,
    help="Also write the chat-format tokens the OpenAI API bills (separate fields).",
)
@click.option(
    "--on-bad-row",
    type=choice(BadRowPolicy),
    default="error",
    show_default=True,
    help="error: stop at the first bad row (exit 2). reject: write it to rejects.jsonl and go on.",
)
@click.option(
    "--duplicates",
    type=choice(DuplicatePolicy),
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
    type=choice(Counter),
    default="tiktoken",
    show_default=True,
    help="What counts tiktoken encodings: tiktoken, or fast (bpe-openai, the same counts, "
    "about twice as fast on cl100k_base; pip install 'arenatok[fast]'; a sample of the texts is "
    "recounted with tiktoken in every build).",
)
@click.option(
    "--engine",
    type=choice(Engine),
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
    chat_overhead: ChatOverhead | None,
    on_bad_row: BadRowPolicy,
    duplicates: DuplicatePolicy,
    allow_empty: bool,
    dataset_name: str | None,
    workers: int | None,
    counter: Counter,
    engine: Engine,
) -> None:
    """Build the token-usage dataset: per-turn token counts, totals, efficiency metrics and the
    human winner of each battle, written to --out as data_out.json, data_out.jsonl,
    full_data_out.json, mini_data_out.json, preview_data_out.json, record.schema.json and
    artifact_metadata.json; with --on-bad-row reject also rejects.jsonl, with --duplicates drop
    also duplicates.jsonl.

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
            on_bad_row=on_bad_row,
            duplicates=duplicates,
            allow_empty=allow_empty,
            dataset_name=dataset_name,
            workers=workers,
            engine=engine,
            counter=counter,
            progress=progress,
        )
    click.echo(build_summary(result), nl=False)
