"""Check a built directory: every check of `dataset.check` (the metadata, every record, every
file against the sha256 list), then the files derived from the build (a card's configs row by
row: `dataset.agree`) and what a killed run left. Reads the large files as streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from arenatok.dataset.agree import disagreements
from arenatok.dataset.check import Problems, build_id, check_build
from arenatok.pipeline.write import stray_temps
from arenatok.runtime.atomic import LOCK, locked
from arenatok.runtime.derived import (
    CARD,
    MANIFEST,
    PAIRS,
    card_build,
    derived_names,
    head_text,
    made_from,
    mismatched_pair,
    read_manifest,
)
from arenatok.runtime.files import is_regular, odd_kind

OWNED = {
    MANIFEST: "arenatok's list of the files it wrote here",
    LOCK: "the lock arenatok takes to write here",
}
"""arenatok's own files in a build folder that are not the build's (which `dataset.check`
checks) and that `_check_derived` does not read, with what each is."""


@dataclass
class Findings:
    """What `validate` found: problems (the build cannot be trusted as it is) and warnings
    (temp files of a killed or running run, beside an intact build)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate_dir(out: str | Path) -> list[str]:
    """Every problem found in a directory written by `arenatok build` (empty: all holds);
    temp files that a killed run left count as problems here (see `findings`)."""
    found = findings(out)
    return found.problems + found.warnings


def findings(out: str | Path) -> Findings:
    """Every problem and warning of a directory written by `arenatok build`."""
    out = Path(out)
    problems = Problems(out)
    meta = check_build(out, problems)
    found = Findings(list(problems))
    for name, what in OWNED.items():
        odd = odd_kind(out / name)
        if odd is not None:
            found.problems.append(
                f"{name}: is {odd}, not a regular file; it is {what} (move it away)"
            )
    if meta is None:
        return found
    if not found.problems:  # an odd list of derived files is not read
        build = build_id(meta)
        _check_derived(out, build, found.problems)
        if not found.problems and card_build(_head(out / CARD)) == build:
            found.problems += disagreements(out, read_manifest(out))
    live = locked(out)
    for stray in stray_temps(out):
        found.warnings.append(
            f"{stray}: a temp file of the run writing here now"
            if live
            else f"{stray}: a temp file left by a run that was killed (the next run removes it)"
        )
    return found


def _head(path: Path) -> str:
    """A file's first MiB as text ("" when it cannot be read)."""
    try:
        return head_text(path)
    except OSError:
        return ""


def _check_derived(out: Path, build: str, problems: list[str]) -> None:
    """Each file derived from a build (report, bench, card) must name this build, each page
    the same run as its JSON file."""
    again = {"report": "report", "bench": "bench", "data/": "card", "README": "card"}
    again |= {"croissant": "card"}
    for name in derived_names(out, read_manifest(out)):
        path = out / name
        if not is_regular(path) or (name == CARD and card_build(_head(path)) is None):
            continue  # absent, or a README.md of the user's own
        if made_from(path, within=out) != build:
            command = next(c for prefix, c in again.items() if name.startswith(prefix))
            problems.append(
                f"{name}: was made from another build (or names none): run arenatok {command} "
                f"{out} again"
            )
    for json_name, html_name in PAIRS:
        why = mismatched_pair(out, json_name, html_name)
        if why is not None:
            command = json_name.split(".")[0]
            problems.append(f"{html_name}: {why}: run arenatok {command} {out} again")
