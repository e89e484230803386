"""What a dataset card says of the sources of a build, one by one (`card_sources`: the file,
its release, sha256, layout, license and battles), and the license it declares for what is
published (`card_license`): every source's, or the one named with `arenatok card --license`.
A source whose release arenatok does not know has the license `unknown`, which `push` refuses
to publish."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from arenatok.errors import OptionError
from arenatok.pipeline.metadata import IndexedSource, Metadata
from arenatok.text import markdown_code

LICENSES: dict[str, tuple[str, str]] = {
    "arena": (
        "cc-by-nc-4.0",
        'lmsys/chatbot_arena_conversations: its dataset card\'s metadata says "cc", and its text '
        "puts the user prompts under CC-BY-4.0 and the model outputs under CC-BY-NC-4.0; a "
        "dataset made from both keeps the stricter",
    ),
    "arena-100k": (
        "other",
        "lmarena-ai/arena-human-preference-100k: the prompts under CC-BY-4.0, the model "
        "outputs under each provider's terms, as its dataset card on the Hub says",
    ),
    "arena-140k": (
        "other",
        "lmarena-ai/arena-human-preference-140k: the prompts under CC-BY-4.0, the model "
        "outputs under each provider's terms, as its dataset card on the Hub says",
    ),
    "kaggle-55k": (
        "apache-2.0",
        "the license of lmsys/lmsys-arena-human-preference-55k (the Kaggle competition's "
        "data), as its dataset card on the Hub declares it",
    ),
    "mt-bench": (
        "cc-by-4.0",
        "the license of lmsys/mt_bench_human_judgments, as its dataset card on the Hub declares it",
    ),
}
"""The license a card declares for each layout's release, and where it comes from: a derived
dataset keeps the terms of the release it was made from."""
ZHENG_2023 = """@inproceedings{zheng2023judging,
  title = {Judging {LLM}-as-a-Judge with {MT}-Bench and Chatbot Arena},
  author = {Zheng, Lianmin and Chiang, Wei-Lin and Sheng, Ying and others},
  booktitle = {Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year = {2023}
}"""
CHIANG_2024 = """@inproceedings{chiang2024chatbot,
  title = {Chatbot Arena: An Open Platform for Evaluating {LLM}s by Human Preference},
  author = {Chiang, Wei-Lin and Zheng, Lianmin and Sheng, Ying and others},
  booktitle = {Proceedings of the 41st International Conference on Machine Learning},
  year = {2024}
}"""
CITATIONS = {
    "arena": ZHENG_2023,
    "mt-bench": ZHENG_2023,
    "arena-100k": CHIANG_2024,
    "arena-140k": CHIANG_2024,
    "kaggle-55k": CHIANG_2024,
}
"""What each layout's release asks to be cited as (BibTeX): the paper of its dataset card."""
ARENATOK = """@misc{arenatok,
  title = {arenatok: token-usage datasets from Chatbot Arena battles},
  howpublished = {\\url{https://pypi.org/project/arenatok/}}
}"""
"""The citation of a dataset whose sources' releases arenatok does not know."""

UNKNOWN = "unknown"
"""The license of a source whose release arenatok does not know (the Hub's id for it)."""

LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")
"""The shape of a license id as the Hub writes them: `cc-by-4.0`, `apache-2.0`, `openrail++`."""


@dataclass(frozen=True)
class CardSource:
    """One source of a build as its card names it."""

    index: int
    name: str
    """The file, as Markdown: a local file by its name (never its path), a Hub file by repo,
    revision and path."""
    dataset: str | None
    """The release its layout is read as (`layout_of`)."""
    sha256: str
    layout: str
    license: str
    note: str
    """Where the license comes from (or that it is unknown)."""
    battles: int
    """Records written from it."""


def card_sources(meta: Metadata) -> list[CardSource]:
    """Every source of a build (its checked metadata), in order."""
    out = []
    for s in meta["sources"]:
        license_id, note = LICENSES.get(s["layout"], (UNKNOWN, ""))
        if license_id == UNKNOWN:
            note = (
                f"the release of layout {markdown_code(s['layout'])} is not known to arenatok: "
                "check the source's terms before you share it"
            )
        out.append(
            CardSource(
                s["index"],
                _name(s),
                s.get("layout_of"),
                s["sha256"],
                s["layout"],
                license_id,
                note,
                s["counts"]["rows_written"],
            )
        )
    return out


def _name(s: IndexedSource) -> str:
    """A source as a card names it: the Hub file, or a local file by its name (never its local
    path, which the build's own metadata keeps)."""
    if s.get("kind") == "huggingface_hub":
        repo, revision = markdown_code(s.get("repo_id"), table=True), s.get("revision")
        where = f"{repo} at revision {markdown_code(revision, table=True)}, file "
        return where + markdown_code(s.get("filename"), table=True)
    return f"local file {markdown_code(Path(str(s.get('path', '?'))).name, table=True)}"


def card_license(sources: list[CardSource], named: str | None) -> str | list[str]:
    """The license a card declares: `named` (`arenatok card --license`), else each source's
    (one id when they agree, else the list, in source order)."""
    if named is not None:
        return named
    ids = list(dict.fromkeys(s.license for s in sources))
    return ids[0] if len(ids) == 1 else ids


@dataclass(frozen=True)
class Terms:
    """One license of a build's sources, as its card's License section gives it."""

    license: str
    note: str
    """Where it comes from (Markdown)."""
    sources: str
    """The sources under it: `0`, `0 and 2`, ..."""


def terms(sources: list[CardSource]) -> list[Terms]:
    """The sources' licenses, each once with its note, in source order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in sources:
        groups.setdefault((s.license, s.note), []).append(str(s.index))
    return [Terms(license_id, note, joined(i)) for (license_id, note), i in groups.items()]


def joined(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def check_license(value: str) -> str:
    """A license id named for a card (`--license`): the Hub's form, and a license."""
    if value == UNKNOWN or not LICENSE_ID.fullmatch(value):
        raise OptionError(
            f"--license {value!r} is not a license id",
            hint="name the license as the Hub writes it (lowercase), e.g. cc-by-nc-4.0, "
            "apache-2.0, or other",
        )
    return value


def is_unknown(license_value: object) -> bool:
    """Whether a card's `license` (an id, or a list of them) is, or holds, `unknown`."""
    values = license_value if isinstance(license_value, list) else [license_value]
    return license_value is None or UNKNOWN in values


def citation(sources: list[CardSource]) -> str:
    """The BibTeX of a dataset: each of its sources' releases' (once, in source order), else
    arenatok's."""
    cited = dict.fromkeys(CITATIONS[s.layout] for s in sources if s.layout in CITATIONS)
    return "\n\n".join(cited or [ARENATOK])
