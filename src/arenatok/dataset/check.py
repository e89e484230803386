"""What a build must hold before anything reads it: the one set of checks behind `validate`
(which lists every problem) and the reader of a build (`dataset.built`: report, bench, card and
push, which refuse a build at its first problem).

- the metadata: its shape (`dataset.metadata`), its counts adding up, its file table naming the
  build's files and nothing else;
- each record of data_out.jsonl: the record schema (types included) and the metric definitions,
  checked from the per-turn counts without the code that computed them (`check_record`);
- the files: data_out.jsonl's sha256 taken as it streams, data_out.json the JSON list of the
  same lines (its sha256 follows from them), the mini and preview files its first records, the
  rejects and duplicates files as long as the counts say, every file's size and sha256 as
  listed (`Stream`, `check_files`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from arenatok.dataset.metadata import metadata_problem
from arenatok.errors import BuildError
from arenatok.pipeline.style import markdown_counts, total
from arenatok.pipeline.write import (
    DATA,
    DUPLICATES,
    FULL,
    JSONL,
    METADATA,
    MINI,
    MINI_SIZE,
    OUTPUTS,
    PREVIEW,
    REJECTS,
    SCHEMA,
    cut_strings,
    schema_bytes,
)
from arenatok.runtime.atomic import sha256_file

MAX_RECORD_PROBLEMS = 20
"""Record-level problems `validate` lists in full; beyond that only their number is given."""


class Problems(list[str]):
    """Where the checks put what they find: every problem (`validate`), or, with `first`, the
    first raised as a BuildError that says to run `validate`."""

    def __init__(self, out: Path, *, first: bool = False) -> None:
        super().__init__()
        self.out = out
        self.first = first
        self.records = 0
        """Record-level problems found (only the first MAX_RECORD_PROBLEMS are listed)."""

    def add(self, where: str, what: str) -> None:
        if self.first:
            raise BuildError(
                f"{self.out}: not a build arenatok can read: {where}: {what}",
                hint=f"arenatok validate {self.out} lists every problem; build it again",
            )
        self.append(f"{where}: {what}")

    def record(self, where: str, what: str) -> None:
        """A problem of one record: listed up to MAX_RECORD_PROBLEMS, then only counted."""
        if self.records < MAX_RECORD_PROBLEMS:
            self.add(where, what)
        self.records += 1

    def close(self) -> None:
        if self.records > MAX_RECORD_PROBLEMS:
            self.append(f"... and {self.records - MAX_RECORD_PROBLEMS} more record problems")


def build_id(metadata: dict[str, Any]) -> str:
    """The sha256 of data_out.jsonl, as artifact_metadata.json lists it: the build's identity,
    which the files derived from it name."""
    return str(metadata["files"][JSONL]["sha256"])


def read_metadata(out: Path, problems: Problems) -> dict[str, Any] | None:
    """artifact_metadata.json, if it has the shape of one (else None, with the problem
    added); whether its counts add up and its file table names the build's files is checked
    too (problems added)."""
    path = out / METADATA
    if not out.is_dir():
        problems.add(str(out), "not a directory")
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.add(METADATA, "missing: the build did not finish, or this is not its output")
        return None
    except OSError as e:
        problems.add(METADATA, f"cannot be read ({e.strerror or e})")
        return None
    why = metadata_problem(raw)
    if why is not None:
        problems.add(METADATA, f"unreadable, or not the metadata of an arenatok build ({why})")
        return None
    meta: dict[str, Any] = orjson.loads(raw)
    _counts(meta, problems)
    _file_table(meta, problems)
    return meta


def _counts(meta: dict[str, Any], problems: Problems) -> None:
    c = meta["counts"]
    read, written, rejected, dropped = (
        c["rows_read"],
        c["rows_written"],
        c["rows_rejected"],
        c["rows_dropped"],
    )
    if read != written + rejected + dropped:
        problems.add(
            METADATA,
            f"rows read {read} != written {written} + rejected {rejected} + dropped {dropped}",
        )
    for name in c:
        across = sum(s["counts"][name] for s in meta["sources"])
        if across != c[name]:
            problems.add(METADATA, f"{name} is {c[name]}, its sources' add up to {across}")
    votes = sum(w["count"] for w in meta["winner_distribution"].values())
    if votes != written:
        problems.add(METADATA, f"the winners add up to {votes}, not rows_written {written}")


def expected_files(meta: dict[str, Any]) -> set[str]:
    """The files a build with these options writes besides its metadata."""
    names = set(OUTPUTS) - {REJECTS, DUPLICATES}
    if meta["options"]["on_bad_row"] == "reject":
        names.add(REJECTS)
    if meta["options"]["duplicates"] == "drop":
        names.add(DUPLICATES)
    return names


def _file_table(meta: dict[str, Any], problems: Problems) -> None:
    files = meta["files"]
    expected = expected_files(meta)
    for name in sorted(expected - set(files)):
        problems.add(METADATA, f"does not list {name}")
    for name in sorted(set(files) - expected):
        problems.add(METADATA, f"lists {name!r}, which is not a file this build writes")
    if files.get(FULL) != files.get(DATA):
        problems.add(FULL, f"is not listed as a copy of {DATA}")


def check_files(out: Path, meta: dict[str, Any], problems: Problems, *, hashed: set[str]) -> None:
    """Every listed file is there as a regular file with its size and (unless its sha256 was
    taken as it was read: `hashed`) its sha256; record.schema.json is this version's."""
    expected = expected_files(meta)
    for name, info in sorted(meta["files"].items()):
        if name not in expected:
            continue  # not one of ours (see _file_table): never opened
        path = out / name
        if path.is_symlink() or not path.is_file():
            problems.add(name, "missing" if not path.exists() else "not a regular file")
            continue
        size = path.stat().st_size
        if size != info["bytes"]:
            problems.add(name, f"{size} bytes, the metadata says {info['bytes']}")
        elif name not in hashed and sha256_file(path) != info["sha256"]:
            problems.add(name, "sha256 differs from the metadata (the file was changed)")
    if (out / SCHEMA).is_file() and (out / SCHEMA).read_bytes() != schema_bytes():
        problems.add(SCHEMA, "differs from this arenatok version's schema; checked against ours")
    counts = meta["counts"]
    for name, n in ((REJECTS, counts["rows_rejected"]), (DUPLICATES, counts["rows_dropped"])):
        path = out / name
        if name in meta["files"] and path.is_file():
            with path.open("rb") as f:
                lines = sum(1 for _ in f)
            if lines != n:
                problems.add(name, f"{lines} lines, but the metadata says {n}")
        elif n and name not in meta["files"]:
            problems.add(name, f"not listed, but the metadata says {n} rows went there")


_ADAPTER: Any = None


def check_record(line: bytes, where: str, problems: Problems) -> dict[str, Any] | None:
    """One line of data_out.jsonl as its record, if it matches the record schema (strict
    types) and every metric definition holds (else None, with the problem added)."""
    global _ADAPTER
    from pydantic import ValidationError

    if _ADAPTER is None:
        from arenatok.pipeline.records import record_adapter

        _ADAPTER = record_adapter()
    try:
        _ADAPTER.validate_json(line, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(map(str, first["loc"]))
        problems.record(where, f"does not match the schema: {loc}: {first['msg']}")
        return None
    record: dict[str, Any] = orjson.loads(line)
    wrong = invariants(record)
    for what in wrong:
        problems.record(where, what)
    return None if wrong else record


@dataclass
class Stream:
    """data_out.jsonl as it is read in order: the sha256 of its bytes and of the data_out.json
    those lines make, its first records, its lines."""

    jsonl: Any = field(default_factory=hashlib.sha256)
    data: Any = field(default_factory=hashlib.sha256)
    first: list[bytes] = field(default_factory=list)
    lines: int = 0

    def __post_init__(self) -> None:
        self.data.update(b'{"examples": [\n')

    def feed(self, line: bytes) -> None:
        """The next line, with its line break."""
        self.jsonl.update(line)
        self.data.update(b",\n" + line[:-1] if self.lines else line[:-1])
        if len(self.first) < MINI_SIZE:
            self.first.append(line)
        self.lines += 1

    def finish(self, out: Path, meta: dict[str, Any], problems: Problems) -> None:
        """The stream against the metadata: sha256s, the number of records, mini and preview."""
        files = meta["files"]
        self.data.update(b"\n]}\n" if self.lines else b"]}\n")
        if self.jsonl.hexdigest() != files[JSONL]["sha256"]:
            problems.add(JSONL, "sha256 differs from the metadata (the file was changed)")
        if self.data.hexdigest() != files[DATA]["sha256"]:
            problems.add(DATA, f"is not the records of {JSONL} as a JSON list")
        written = meta["counts"]["rows_written"]
        if self.lines != written:
            problems.add(JSONL, f"{self.lines} records, but the metadata says {written}")
        try:
            head = [orjson.loads(x) for x in self.first]
            mini = orjson.loads((out / MINI).read_bytes())["examples"]
            preview = orjson.loads((out / PREVIEW).read_bytes())["examples"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.add(f"{MINI}/{PREVIEW}", f"unreadable ({type(e).__name__})")
            return
        if mini != head:
            problems.add(MINI, f"is not the first {MINI_SIZE} records of {DATA}")
        if preview != cut_strings(mini):
            problems.add(PREVIEW, f"is not {MINI} with long strings cut")


def lines(path: Path) -> Iterator[bytes]:
    """A file's lines (with their line breaks)."""
    with path.open("rb") as f:
        yield from f


def check_build(out: Path, problems: Problems) -> dict[str, Any] | None:
    """Every check of a build (records included); its metadata, or None when it has none
    arenatok can read."""
    meta = read_metadata(out, problems)
    if meta is None:
        return None
    before = len(problems)
    check_files(out, meta, problems, hashed={JSONL})
    if len(problems) > before:  # records are checked only in files that are as listed
        return meta
    stream = Stream()
    try:
        for n, line in enumerate(lines(out / JSONL), start=1):
            stream.feed(line)
            check_record(line, f"{JSONL} line {n}", problems)
    except OSError as e:
        problems.add(JSONL, f"cannot be read ({e.strerror or e})")
        return meta
    problems.close()
    stream.finish(out, meta, problems)
    return meta


def _usage_invariants(u: Any, has_timestamp: bool, where: str) -> list[str]:
    """The metric definitions (README, Metrics), checked from the per-turn counts without the
    code that computed them."""
    turns = u["turns"]
    wrong = []
    inp = [t["input_tokens"] for t in turns]
    out_a = [t["response_a_tokens"] for t in turns]
    out_b = [t["response_b_tokens"] for t in turns]
    for i, t in enumerate(turns):
        if t["turn_number"] != i + 1:
            wrong.append(f"{where}.turns[{i}].turn_number is {t['turn_number']}, not {i + 1}")
        offset = 0.0 if i == 0 and has_timestamp else None
        if t["timestamp_offset"] != offset:
            wrong.append(f"{where}.turns[{i}].timestamp_offset should be {offset}")
        for side, answers in (("a", out_a), ("b", out_b)):
            history = sum(inp[:i]) + sum(answers[:i]) + inp[i]
            if t[f"context_tokens_{side}"] != history:
                wrong.append(
                    f"{where}.turns[{i}].context_tokens_{side} is not the tokens of the earlier "
                    f"turns (user and {side.upper()}) plus this user message"
                )
    ti, ta, tb = sum(inp), sum(out_a), sum(out_b)
    total_tokens = ti + ta + tb
    sums = {
        "total_input_tokens": ti,
        "total_output_tokens_a": ta,
        "total_output_tokens_b": tb,
        "total_tokens": total_tokens,
    }
    for key, value in sums.items():
        if u[key] != value:
            wrong.append(f"{where}.{key} is {u[key]}, the per-turn counts give {value}")
    ratios = {
        "avg_tokens_per_turn": total_tokens / len(turns),
        "input_output_ratio": ti / total_tokens if total_tokens else 0.0,
        "coordination_overhead": abs(tb - ta) / total_tokens if total_tokens else 0.0,
    }
    for key, value in ratios.items():
        got = u["communication_efficiency"][key]
        if not math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-12):
            wrong.append(
                f"{where}.communication_efficiency.{key} is {got}, the counts give {value}"
            )
        if key != "avg_tokens_per_turn" and not 0.0 <= got <= 1.0:
            wrong.append(f"{where}.communication_efficiency.{key} = {got} is outside [0, 1]")
    for side in ("a", "b"):
        full = sum(t[f"context_tokens_{side}"] for t in turns)
        if u["full_state"][f"full_state_input_tokens_{side}"] != full:
            wrong.append(f"{where}.full_state_input_tokens_{side} is not the sum of its contexts")
    chat = u.get("chat_overhead")
    if chat is not None and (
        len(chat["turns"]) != len(turns)
        or chat["full_state_chat_overhead_tokens"] != sum(chat["turns"])
    ):
        wrong.append(f"{where}.chat_overhead does not have one entry per turn summing up")
    return wrong


def _style_invariants(c: Any) -> list[str]:
    """context.style: one entry per turn, each the markdown counts of that turn's answers, and
    the totals their sums."""
    st, conv = c["style"], c["conversation"]
    if len(st["turns"]) != len(conv):
        return ["style.turns and conversation differ in length"]
    wrong = []
    for side in ("a", "b"):
        counts = [markdown_counts(t[f"response_{side}"]) for t in conv]
        for i, (got, want) in enumerate(zip((t[side] for t in st["turns"]), counts, strict=True)):
            if got != want:
                wrong.append(f"style.turns[{i}].{side} is {got}, the answer gives {want}")
        if st[f"total_{side}"] != total(counts):
            wrong.append(f"style.total_{side} is not the sum of its turns")
    return wrong


def invariants(record: Any) -> list[str]:
    """What must hold between the fields of one record that matches the schema."""
    c = record["context"]
    u = c["token_usage"]
    turns = u["turns"]
    if not turns or len(turns) != len(c["conversation"]):
        return ["token_usage.turns and conversation differ in length"]
    has_timestamp = c["api_metadata"]["timestamp"] is not None
    wrong = _usage_invariants(u, has_timestamp, "token_usage")
    for name, extra in (c.get("extra_token_usage") or {}).items():
        if len(extra["turns"]) != len(turns):
            wrong.append(f"extra_token_usage.{name}.turns and conversation differ in length")
        else:
            wrong += _usage_invariants(extra, has_timestamp, f"extra_token_usage.{name}")
    wrong += _style_invariants(c)
    first = c["conversation"][0]
    if (record["input"], c["response_a"], c["response_b"]) != (
        first["user"],
        first["response_a"],
        first["response_b"],
    ):
        wrong.append("input / response_a / response_b are not the first turn of conversation")
    if record["output"] != f"Winner: {c['winner']}":
        wrong.append(f"output {record['output']!r} does not name the winner {c['winner']!r}")
    return wrong
