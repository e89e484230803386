"""Tiny hand-written battles, file writers, and where the real arena data lives."""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARENATOK_SHARED", ROOT.parent / "shared"))
REQUIRE_SHARED = os.environ.get("ARENATOK_REQUIRE_SHARED") == "1"


def msg(role: str, content: Any) -> dict[str, Any]:
    return {"content": content, "role": role}


def battle(
    qid: str = "q0",
    turns: Iterable[tuple[str, str, str]] = (("Hi there", "Hello!", "Hey, how can I help?"),),
    *,
    model_a: str = "vicuna-13b",
    model_b: str = "koala-13b",
    winner: str = "model_a",
    tstamp: float | None = 1682351591.1322,
) -> dict[str, Any]:
    """A valid arena-schema row with the given (user, answer_a, answer_b) turns."""
    turns = list(turns)
    conv_a = [m for u, a, _ in turns for m in (msg("user", u), msg("assistant", a))]
    conv_b = [m for u, _, b in turns for m in (msg("user", u), msg("assistant", b))]
    return {
        "question_id": qid,
        "model_a": model_a,
        "model_b": model_b,
        "winner": winner,
        "judge": "arena_user_1",
        "conversation_a": conv_a,
        "conversation_b": conv_b,
        "turn": len(turns),
        "anony": True,
        "language": "English",
        "tstamp": tstamp,
        "openai_moderation": {"categories": {"hate": False}, "flagged": False},
        "toxic_chat_tag": {
            "roberta-large": {"flagged": False, "probability": 0.1},
            "t5-large": {"flagged": True, "score": 0.9},
        },
    }


TINY = [
    battle("q0"),
    battle(
        "q1",
        [("What is 2+2?", "4", "Four."), ("And 3+3?", "6", "Six, of course.")],
        model_a="alpaca-13b",
        model_b="dolly-v2-12b",
        winner="tie (bothbad)",
    ),
    battle("q2", [("<|endoftext|> is a special token", "Yes.", "No.")], winner="model_b"),
    battle("q3", [("Write a haiku", "Leaves fall\nsoftly", "")], winner="tie"),
]
"""Four valid battles: one turn, two turns, special-token text, an empty answer."""


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def records(out: Path) -> list[dict[str, Any]]:
    """The records a build wrote to `out` (its data_out.jsonl), as JSON."""
    lines = (out / "data_out.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def need_chromium() -> Path:
    """Debian's chromium (ARENATOK_CHROMIUM to name another), or a skip (a failure under
    .ci/run, which installs it)."""
    chromium = Path(os.environ.get("ARENATOK_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        reason = f"no browser at {chromium} (.ci/run installs Debian's chromium)"
        if REQUIRE_SHARED:
            pytest.fail(reason)
        pytest.skip(reason)
    return chromium


def need_shared() -> Path:
    """../shared, or a skip (a failure under .ci/run, which sets ARENATOK_REQUIRE_SHARED=1)."""
    if not (SHARED / "tools" / "elobench_to_arena.py").is_file():
        reason = f"the real arena data is not here: {SHARED} is missing (see README, Tests)"
        if REQUIRE_SHARED:
            pytest.fail(reason + "; ARENATOK_REQUIRE_SHARED=1 requires it")
        pytest.skip(reason)
    return SHARED


def rewrite(out: Path, name: str, data: bytes) -> None:
    """Replace a file of a build and make the metadata agree with it: only the deeper checks
    can tell."""
    import hashlib

    (out / name).write_bytes(data)
    meta_path = out / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    meta_path.write_text(json.dumps(meta, indent=2))


def edit_records(out: Path, change: Any) -> None:
    """Apply `change` to every record of a build's data_out.jsonl and data_out.json alike (in
    the build's own layout), the metadata made to agree."""
    lines = [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]
    for r in lines:
        change(r)
    rows = [json.dumps(r, ensure_ascii=False).encode() for r in lines]
    rewrite(out, "data_out.jsonl", b"".join(row + b"\n" for row in rows))
    data = b'{"examples": [\n' + b",\n".join(rows) + b"\n]}\n"  # data_out.json's own form
    rewrite(out, "data_out.json", data)
    rewrite(out, "full_data_out.json", data)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def wait_for_temp_files(directory: Path, proc: subprocess.Popen[str]) -> None:
    """Until the build has started writing (a temp file with data in it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.stat().st_size > 100_000 for p in directory.glob(".data_out.json.*.tmp")):
            return
        time.sleep(0.02)
    raise AssertionError(f"the build never started writing: {proc.communicate()}")


def children(pid: int) -> list[int]:
    """The processes that `pid` started and that still run or wait to be reaped (/proc)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def descendants(pid: int) -> list[int]:
    """The children of `pid`, theirs, and so on."""
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def deny(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make `path` unreadable and unwritable: chmod, and, for root (whom permissions do not
    stop), a PermissionError from the OS calls that open it."""
    path.chmod(0o555 if path.is_dir() else 0o000)
    if os.geteuid() != 0:
        return
    real_open, real_os_open = Path.open, os.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
        if Path(file).parent == path and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    monkeypatch.setattr(os, "open", os_open)


def kaggle_row(i: int, responses_b: list[str | None], winner: int = 0) -> dict[str, Any]:
    one_hot = [0, 0, 0]
    one_hot[winner] = 1
    return {
        "id": 1000 + i,
        "model_a": "gpt-4-0613",
        "model_b": "claude-2.1",
        "prompt": json.dumps(["Hello", "And again"][: len(responses_b)]),
        "response_a": json.dumps(["Hi!", "Hi again!"][: len(responses_b)]),
        "response_b": json.dumps(responses_b),
        "winner_model_a": one_hot[0],
        "winner_model_b": one_hot[1],
        "winner_tie": one_hot[2],
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def doc_pages() -> list[Path]:
    """README.md, then the documentation's pages in the site's order (mkdocs.yml's nav)."""
    import yaml

    def files(entries: Any) -> list[str]:
        if isinstance(entries, str):
            return [entries]
        if isinstance(entries, dict):
            return [f for v in entries.values() for f in files(v)]
        return [f for e in entries for f in files(e)]

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [ROOT / "README.md", *(ROOT / "docs" / f for f in files(nav))]


def doc_text(*pages: str) -> str:
    """The text of some documentation pages (`commands/build.md`), or of all of them."""
    paths = [ROOT / "docs" / p for p in pages] if pages else doc_pages()
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def benchmark_module(name: str) -> Any:
    """benchmarks/NAME.py loaded as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
