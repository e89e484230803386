"""Files derived from a build (`report`, `bench`, `card`): the build each names as its maker, and
the directory's list of the derived files arenatok wrote (`MANIFEST`, with their sha256). What
lets an analysis replace only its own files and commit only beside the build it read
(`write_derived`), a new build remove only what was made from the build it replaces and is
unchanged since (`write.derived_to_remove`), and `validate` tell a stale or changed file."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast

import orjson

from arenatok.errors import OutputError, StaleBuildError
from arenatok.runtime.atomic import Content, Group, Listed, dumps_pretty, write_together
from arenatok.runtime.files import (
    LIMITS,
    NOT_OURS,
    NotRegularFile,
    exists,
    is_regular,
    open_owned,
    read_head,
    read_owned,
    sha256_owned,
)

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
BENCH_JSON = "bench.json"
BENCH_HTML = "bench.html"
CARD = "README.md"
CROISSANT = "croissant.json"
"""The card's Croissant file (JSON-LD), beside it; it names its build under `arenatok`."""
PARQUET = "data/train-00000-of-00001.parquet"
"""The default config's Parquet file, where it is one shard."""
CARD_DATA = re.compile(r"data/(?:[a-z_]+/)?train-\d{5}-of-\d{5}\.parquet")
"""The names of the card's Parquet files: data/ for the default config, data/CONFIG/ for the
others, shard N of M as train-0000N-of-0000M.parquet."""
PARQUET_BUILD_KEY = "arenatok_build"
"""Schema metadata key of the card's Parquet files: the build they were made from."""
DERIVED = (REPORT_JSON, REPORT_HTML, BENCH_JSON, BENCH_HTML, PARQUET, CARD)
"""The derived files of fixed names (the card's other files: `derived_names`)."""
MANIFEST = ".arenatok-derived.json"
"""The derived files arenatok wrote in a directory: name -> bytes, sha256, build."""
METADATA = "artifact_metadata.json"
"""The build's own metadata (the build writes it last); `pipeline.write` names its files here."""
JSONL = "data_out.jsonl"
PAIRS = ((REPORT_JSON, REPORT_HTML), (BENCH_JSON, BENCH_HTML))
"""A JSON file and the page made from it in the same run (the page names the JSON's sha256)."""

JSON_LIMIT = 256 * 2**20
"""Bytes a report.json or bench.json may have when arenatok reads it whole (for its maker)."""

_HEX = "[0-9a-f]{64}"
_CARD_BUILD = re.compile(rf"^arenatok:\n(?:[ \t]+.*\n)*?[ \t]+build: '?({_HEX})'?$", re.M)


class Made(Listed, total=False):
    """A derived file as the directory's list gives it: its size and sha256, and the build it
    was made from."""

    build: str


def page_meta(text: str, name: str) -> str | None:
    """The value of a page's `<meta name="arenatok-NAME">` (see `pages.html_page`), or None."""
    m = re.search(rf'<meta name="arenatok-{name}" content="([0-9a-f]*)">', text[:2000])
    return m.group(1) if m else None


def card_build(text: str) -> str | None:
    """The build a dataset card's YAML names under `arenatok:` (with `made_with: arenatok`),
    or None: a README.md that arenatok did not write."""
    end = text.find("\n---", 4)
    front = text[4 : end + 1]
    if not text.startswith("---\n") or end < 0 or "made_with: arenatok" not in front:
        return None
    m = _CARD_BUILD.search(front)
    return m.group(1) if m else None


def head_text(path: Path, *, within: Path | None = None) -> str:
    """A file's first MiB as text (where the markers of a page or a card are); see
    `files.open_owned`."""
    return read_head(path, within=within).decode("utf-8", "replace")


def made_from(path: Path, *, within: Path | None = None) -> str | None:
    """The build (sha256 of its data_out.jsonl) that a derived file names as its maker, or None
    when it names none (not ours, unreadable, a link or not a regular file; no link followed
    below `within`)."""
    try:
        if path.suffix == ".parquet":
            value = _parquet_build(path, within)
        elif path.suffix == ".json":
            value = orjson.loads(read_owned(path, limit=JSON_LIMIT, within=within))
            value = value["arenatok"]["build"] if path.name == CROISSANT else value.get("build")
        else:
            text = head_text(path, within=within)
            value = page_meta(text, "build") if path.suffix == ".html" else card_build(text)
    except (*NOT_OURS, ValueError, AttributeError, KeyError, TypeError):  # not ours: no build
        return None
    return value if isinstance(value, str) and re.fullmatch(_HEX, value) else None


def _parquet_build(path: Path, within: Path | None) -> str | None:
    """The build a Parquet file's schema metadata names (None: not a Parquet file of ours)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open_owned(path, within=within) as f:
        try:
            meta = pq.read_schema(f).metadata or {}
        except pa.ArrowException:
            return None
    value: bytes = meta.get(PARQUET_BUILD_KEY.encode(), b"")
    return value.decode("utf-8", "replace")


def mismatched_pair(out: Path, json_name: str, html_name: str) -> str | None:
    """Why a JSON file and its page in `out` are not from the same run, or None when they are
    (or neither is there)."""
    j, h = out / json_name, out / html_name
    if not is_regular(j) and not is_regular(h):
        return None
    if not (is_regular(j) and is_regular(h)):
        return f"{json_name} and {html_name} come as a pair, but only one is here"
    try:
        text = head_text(h)
        sha = sha256_owned(j)[1]
    except OSError as e:
        return f"{json_name} or {html_name} cannot be read ({e.strerror or e})"
    if page_meta(text, "run") != sha:
        return f"{html_name} was not made in the same run as {json_name}"
    return None


def card_is_ours(path: Path) -> bool:
    """Whether a README.md is missing or a card that arenatok wrote (which it may replace)."""
    if not exists(path):
        return True
    try:
        return card_build(head_text(path)) is not None
    except OSError:
        return False


def by_card(name: str) -> bool:
    """Whether a derived file is one that `card` writes, told by its name: the card, its
    Croissant file, and what is under data/ (its Parquet files)."""
    return name in (CARD, CROISSANT) or name.startswith("data/")


def is_derived(name: str) -> bool:
    """Whether a name is one of a derived file's (`DERIVED`, CROISSANT, `CARD_DATA`)."""
    return name in DERIVED or name == CROISSANT or CARD_DATA.fullmatch(name) is not None


def data_folders(out: Path) -> list[str]:
    """data/ and its folders, relative to `out`, in name order (none that is a link, nor
    any when data/ is one)."""
    data = out / "data"
    if data.is_symlink() or not data.is_dir():
        return []
    inner = (p for p in sorted(data.iterdir()) if p.is_dir() and not p.is_symlink())
    return ["data", *(f"data/{p.name}" for p in inner)]


def derived_names(out: Path, listed: Mapping[str, object]) -> list[str]:
    """Every derived file that may be in `out`: `DERIVED`, CROISSANT, then the card's Parquet
    files that `listed` (the directory's list) names or that are under data/ (no link
    followed), in name order."""
    found = {
        f"{folder}/{p.name}"
        for folder in data_folders(out)
        for p in (out / folder).glob("train-*.parquet")
    }
    data = {n for n in (*found, *listed) if CARD_DATA.fullmatch(n)} - set(DERIVED)
    return [*DERIVED, CROISSANT, *sorted(data)]


def card_globs(out: Path) -> list[str]:
    """The card's Parquet files as patterns, one per folder of data/ (no link followed): what
    `atomic.temps` takes to find a killed card's temp files."""
    return [f"{folder}/train-*.parquet" for folder in data_folders(out)]


def read_manifest(out: Path) -> dict[str, Made]:
    """The derived files arenatok lists as written in `out` (none when the list is missing,
    unreadable or not a table of derived files). Anything but a regular file under its name (a
    link, a FIFO, a directory) is an OutputError: arenatok neither reads nor replaces it."""
    try:
        listed = orjson.loads(read_owned(out / MANIFEST, limit=LIMITS[MANIFEST]))
    except NotRegularFile as e:
        raise OutputError(
            f"{out / MANIFEST}: {e.strerror}; it is arenatok's list of the files it wrote here",
            hint="move it away, then run the command again",
        ) from e
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(listed, dict):
        return {}
    return {
        name: cast(Made, entry)
        for name, entry in listed.items()
        if is_derived(name)
        and isinstance(entry, dict)
        and isinstance(entry.get("bytes"), int)
        and isinstance(entry.get("sha256"), str)
    }


def manifest_bytes(listed: Mapping[str, object]) -> bytes:
    return dumps_pretty(dict(sorted(listed.items()))).encode("utf-8")


def unchanged(out: Path, name: str, listed: Mapping[str, Mapping[str, object]]) -> bool:
    """Whether a derived file is a regular file with the size and sha256 the list gives."""
    entry, path = listed.get(name), out / name
    if entry is None:
        return False
    try:
        return sha256_owned(path, within=out) == (entry["bytes"], entry["sha256"])
    except NOT_OURS:  # gone, a link, not a regular file: not as arenatok wrote it
        return False


def is_ours(out: Path, name: str, listed: Mapping[str, object]) -> bool:
    """Whether arenatok may replace `out/name`: it is not there, it is listed as written by
    arenatok, or it names the build it was made from (written before the list existed)."""
    path = out / name
    if not exists(path):
        return True
    return name in listed or made_from(path, within=out) is not None


def build_in(out: Path) -> str | None:
    """The build whose metadata is in `out` (the sha256 of its data_out.jsonl), or None."""
    try:
        sha = orjson.loads(read_owned(out / METADATA, limit=LIMITS[METADATA]))["files"][JSONL]
        sha = sha["sha256"]
    except (*NOT_OURS, ValueError, KeyError, TypeError):  # none, or not ours: no build
        return None
    return sha if isinstance(sha, str) else None


def write_derived(
    out: Path,
    files: Mapping[str, Content],
    *,
    build: str,
    read_from: Path,
    hint: str,
    replace: tuple[str, ...] = (),
    groups: Sequence[Group] = (),
    later: Mapping[str, Callable[[Mapping[str, Listed]], bytes]] | None = None,
    family: Callable[[str], bool] | None = None,
) -> None:
    """Write files derived from `build` (read from `read_from`) into `out`, together (`groups`
    first, then `files`), under the directory's lock, and list them in MANIFEST. Refused, with
    nothing written: when the build in `read_from` was replaced since it was read
    (StaleBuildError), when `out` is another directory that holds another build, or when a
    file of one of these names is in `out` that arenatok did not write (`is_ours`; `replace`
    names the files that may be replaced all the same). The files of the list that `family`
    holds and that this write does not write again (an earlier card's other shards) go in
    the same commit, where they are as arenatok wrote them (and leave the list where they are
    gone). `later` names files made last, from the size and sha256 of the others."""
    later = later or {}
    names = [*(n for g in groups for n in g.names), *files, *later]

    def prepare() -> list[str]:
        here = build_in(out)
        if out.resolve() == read_from.resolve():
            if here != build:
                raise StaleBuildError(
                    f"{out}: the build was replaced while this command read it; nothing was "
                    "written",
                    hint="run the command again, on the build that is there now",
                )
        elif here is not None and here != build:
            raise OutputError(
                f"{out}: holds another build; files made from {read_from} do not belong there",
                hint="choose a directory without a build, or the build's own directory",
            )
        listed = read_manifest(out)
        for name in names:
            if name not in replace and not is_ours(out, name, listed):
                raise OutputError(
                    f"{out / name}: is not a file arenatok wrote; arenatok leaves it alone",
                    hint=f"move it away, or {hint}",
                )
        others = [n for n in sorted(listed) if family and family(n) and n not in names]
        dropped[:] = [n for n in others if not exists(out / n)]
        gone[:] = [n for n in others if unchanged(out, n, listed)]
        return gone

    gone: list[str] = []
    dropped: list[str] = []
    """The family's files that the list names and that are not there: they leave the list."""

    def last(table: dict[str, Listed]) -> dict[str, bytes]:
        more = {name: make(table) for name, make in later.items()}
        table |= {
            n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in more.items()
        }
        listed: dict[str, object] = dict(read_manifest(out))
        for name in (*gone, *dropped):
            listed.pop(name, None)
        listed.update({name: {**table[name], "build": build} for name in names})
        return {**more, MANIFEST: manifest_bytes(listed)}

    write_together(out, files, hint=hint, prepare=prepare, last=last, groups=groups)
