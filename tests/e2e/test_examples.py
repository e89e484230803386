"""The examples of the README and of the documentation's pages (in the site's order), run as
written, in order, in one scratch directory with `../shared` beside it (as sqlite-utils and cog
keep their docs true): every console block's commands (the
`$ ` lines) must print what the block shows, with what depends on the run (times, the
unreachable Hub's error text) masked. Marked blocks: `<!-- readme-test: run -->` before an
`sh` block runs it (its output is not shown), `file NAME` writes a code block to NAME,
`skip (why)` leaves a console block out.

About 50 seconds: the examples build, report and bench the 2,008 real battles several
times."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import doc_pages, doc_text, need_shared

BLOCK = re.compile(r"(?:<!-- readme-test: (\w+) ?([^>]*?) ?-->\n)?```(\w*)\n(.*?)```", re.S)
MASKS = (
    (re.compile(r"\b\d+(?:\.\d+)? s\b"), "N s"),  # times
    (re.compile(r"Hugging Face Hub \([^)]*\)"), "Hugging Face Hub (...)"),  # the resolver's words
)


def readme_steps() -> list[tuple[str, str, str]]:
    """(kind, argument, text) of each block the test acts on, page after page, in order:
    ("console", "", the block), ("run", "", the commands), ("file", NAME, the code)."""
    steps = []
    blocks = [b for page in doc_pages() for b in BLOCK.findall(page.read_text(encoding="utf-8"))]
    for mark, argument, language, body in blocks:
        if mark == "skip":
            continue
        if mark in ("run", "file"):
            steps.append((mark, argument, body))
        elif not language and body.startswith("$ "):
            steps.append(("console", "", body))
    return steps


def console_pairs(block: str) -> list[tuple[str, list[str]]]:
    """Each `$ ` command of a console block with the lines the block shows after it."""
    pairs: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        else:
            pairs[-1][1].append(line)
    return pairs


def masked(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, by in MASKS:
            line = pattern.sub(by, line)
        out.append(line.rstrip())
    return out


def same_output(shown: list[str], printed: list[str]) -> bool:
    """Whether a command printed what the block shows; a last shown line `...` stands for any
    further lines."""
    shown, printed = masked(shown), masked(printed)
    if shown and shown[-1] == "...":
        return printed[: len(shown) - 1] == shown[:-1]
    return printed == shown


def test_the_readme_has_steps_to_run() -> None:
    kinds = [kind for kind, _, _ in readme_steps()]
    assert kinds.count("console") >= 8
    assert kinds.count("run") == 2
    assert kinds.count("file") == 1
    assert same_output(["a 1.5 s", "..."], ["a 22.0 s", "b", "c"])
    assert not same_output(["a", "b"], ["a", "c"])


def test_every_documented_example_prints_what_it_shows(tmp_path: Path) -> None:
    shared = need_shared()
    (tmp_path / "shared").symlink_to(shared.resolve())
    work = tmp_path / "work"
    work.mkdir()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HOME": str(tmp_path / "hf"),  # no cache of the user's
        "HF_ENDPOINT": "http://127.0.0.1:9",  # a Hub that cannot be reached, on any machine
        "HF_TOKEN": "",
        "COLUMNS": "150",
    }
    env.pop("SOURCE_DATE_EPOCH", None)
    wrong = []
    for kind, argument, text in readme_steps():
        if kind == "file":
            (work / argument).write_text(text, encoding="utf-8")
            continue
        if kind == "run":
            for command in text.strip().splitlines():
                done = subprocess.run(
                    ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True
                )
                assert done.returncode == 0, (command, done.stderr[-2000:])
            continue
        for command, shown in console_pairs(text):
            done = subprocess.run(
                ["bash", "-c", command + " 2>&1"], cwd=work, env=env, capture_output=True, text=True
            )
            printed = done.stdout.splitlines()
            if not same_output(shown, printed):
                wrong.append(f"$ {command}\n--- the docs show:\n" + "\n".join(shown))
                wrong[-1] += "\n--- it printed:\n" + "\n".join(printed)
    if wrong:
        pytest.fail("\n\n".join(wrong))


def like(shown: object, real: object) -> bool:
    """Whether the README's example value stands for the real one: the same keys in the same
    order, equal values, a text ending in … the start of the real text."""
    if isinstance(shown, dict):
        return (
            isinstance(real, dict)
            and list(shown) == list(real)
            and all(like(v, real[k]) for k, v in shown.items())
        )
    if isinstance(shown, list):
        return (
            isinstance(real, list)
            and len(shown) == len(real)
            and all(like(a, b) for a, b in zip(shown, real, strict=True))
        )
    if isinstance(shown, str) and shown.endswith("…") and isinstance(real, str):
        return real.startswith(shown[:-1])
    return shown == real


def test_the_example_record_is_the_builds(arena_parquet: Path, tmp_path: Path) -> None:
    import json

    from arenatok.pipeline.driver import build

    readme = doc_text("concepts/output-files.md")
    [example] = re.findall(r"A record \(the first of `out`.*?```json\n(.*?)```", readme, re.S)
    build(arena_parquet, out=tmp_path / "out", limit=1)
    real = json.loads((tmp_path / "out" / "data_out.jsonl").read_text().splitlines()[0])
    real["dataset"] = "elobench.parquet"  # the README's build names its file so
    assert like(json.loads(example), real)
    assert not like({"a": 1}, {"a": 1, "b": 2})
    assert like(["abc…"], ["abcdef"])
