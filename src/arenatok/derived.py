"""Files derived from a build (`report`, `bench`, `card`) and the build each names as its maker:
what lets a new build replace only what was made from the build it replaces, and `validate`
tell a stale file."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import orjson

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
BENCH_JSON = "bench.json"
BENCH_HTML = "bench.html"
CARD = "README.md"
PARQUET = "data/train-00000-of-00001.parquet"
PARQUET_BUILD_KEY = "arenatok_build"
"""Schema metadata key of the card's Parquet file: the build it was made from."""
DERIVED = (REPORT_JSON, REPORT_HTML, BENCH_JSON, BENCH_HTML, PARQUET, CARD)
PAIRS = ((REPORT_JSON, REPORT_HTML), (BENCH_JSON, BENCH_HTML))
"""A JSON file and the page made from it in the same run (the page names the JSON's sha256)."""

_HEX = "[0-9a-f]{64}"
_CARD_BUILD = re.compile(rf"^arenatok:\n(?:[ \t]+.*\n)*?[ \t]+build: '?({_HEX})'?$", re.M)


def page_meta(text: str, name: str) -> str | None:
    """The value of a page's `<meta name="arenatok-NAME">` (see `page.html_page`), or None."""
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


def head_text(path: Path) -> str:
    """A file's first MiB as text (where the markers of a page or a card are)."""
    return path.read_bytes()[: 2**20].decode("utf-8", "replace")


def made_from(path: Path) -> str | None:
    """The build (sha256 of its data_out.jsonl) that a derived file names as its maker, or None
    when it names none (not ours, unreadable, a link or not a regular file)."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            meta = pq.read_schema(path).metadata or {}
            value = meta.get(PARQUET_BUILD_KEY.encode(), b"").decode()
        elif path.suffix == ".json":
            value = orjson.loads(path.read_bytes()).get("build")
        else:
            text = head_text(path)
            value = page_meta(text, "build") if path.suffix == ".html" else card_build(text)
    except (OSError, ValueError, AttributeError):  # unreadable, or not ours: names no build
        return None
    return value if isinstance(value, str) and re.fullmatch(_HEX, value) else None


def mismatched_pair(out: Path, json_name: str, html_name: str) -> str | None:
    """Why a JSON file and its page in `out` are not from the same run, or None when they are
    (or neither is there)."""
    j, h = out / json_name, out / html_name
    if not j.is_file() and not h.is_file():
        return None
    if not (j.is_file() and h.is_file()):
        return f"{json_name} and {html_name} come as a pair, but only one is here"
    text = h.read_bytes()[:4096].decode("utf-8", "replace")
    if page_meta(text, "run") != hashlib.sha256(j.read_bytes()).hexdigest():
        return f"{html_name} was not made in the same run as {json_name}"
    return None


def card_is_ours(path: Path) -> bool:
    """Whether a README.md is missing or a card that arenatok wrote (which it may replace)."""
    if not path.exists() and not path.is_symlink():
        return True
    try:
        return not path.is_symlink() and card_build(path.read_text("utf-8", "replace")) is not None
    except OSError:
        return False
