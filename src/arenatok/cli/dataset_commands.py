"""`arenatok validate`, `card` and `push`: the commands over a finished build's files."""

from __future__ import annotations

from pathlib import Path

import click

from arenatok.cli.params import OutDir
from arenatok.pipeline.write import METADATA
from arenatok.text import terminal


@click.command("validate", short_help="Check a build: every file, every record, every metric.")
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


@click.command("card", short_help="Write a Hugging Face dataset card, its configs as Parquet.")
@click.argument("out_dir", type=OutDir())
@click.option("--force", is_flag=True, help="Replace a README.md that arenatok did not write.")
@click.option(
    "--license",
    "license_id",
    metavar="ID",
    help="The dataset's license as the Hub names it (cc-by-4.0, other, ...), in place of its "
    "sources' own; push needs it when a source's license is unknown.",
)
def card_cmd(out_dir: Path, force: bool, license_id: str | None) -> None:
    """Write a Hugging Face dataset card (README.md: YAML metadata with every source's license
    and release, language, size, and each config with its features, then the configs, a row
    per source, provenance, metric definitions and known limits), every config as Parquet
    under data/ (default: the records; flat: a row a battle, no nesting; turns: a row a turn;
    preference: the decisive battles as prompt, chosen, rejected), and croissant.json, so
    that datasets.load_dataset(OUT_DIR, CONFIG) loads them.

    \b
    Example:
        arenatok card arenatok-out
    """
    from arenatok.dataset.card import CROISSANT, write_card
    from arenatok.dataset.configs import CONFIGS
    from arenatok.dataset.sources import joined

    path = write_card(out_dir, force=force, license=license_id)
    names = joined([c.name for c in CONFIGS])
    data = out_dir / "data"
    click.echo(
        terminal(f"wrote {path}, {out_dir / CROISSANT} and the configs {names} under {data}")
    )


@click.command("push", short_help="Publish the card and the data to a Hugging Face dataset repo.")
@click.argument("out_dir", type=OutDir())
@click.option(
    "--repo-id", required=True, metavar="NAME", help="Dataset repo, e.g. you/arena-tokens."
)
@click.option("--private", is_flag=True, help="Create the repo private.")
@click.option("--force", is_flag=True, help="Upload over a repo whose card arenatok did not write.")
def push_cmd(out_dir: Path, repo_id: str, private: bool, force: bool) -> None:
    """Publish the files that `arenatok card` wrote (README.md and data/, as its list names
    them; anything else in data/ is refused) to a Hugging Face dataset repo, each checked
    against that list as it is handed over. The token comes from HF_TOKEN or your login and is
    never printed or written. A repo with content that arenatok did not write is left alone
    unless --force.

    \b
    Example:
        arenatok push arenatok-out --repo-id you/arena-token-usage --private
    """
    from arenatok.dataset.push import push

    click.echo(terminal(f"pushed to {push(out_dir, repo_id, private=private, force=force)}"))
