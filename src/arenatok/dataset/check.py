"""What a build must hold before anything reads it: the one set of checks behind `validate`
(which lists every problem) and the reader of a build (`dataset.built`: report, bench, card and
push, which refuse a build at its first problem).

- the metadata: its shape (`pipeline.metadata`), its counts adding up, its file table naming the
  build's files and nothing else;
- each record of data_out.jsonl: the record schema (types included) and the metric definitions,
  checked from the per-turn counts without the code that computed them (`check_record`);
- the files: data_out.jsonl's sha256 taken as it streams, data_out.json the JSON list of the
  same lines (its sha256 follows from them), the mini and preview files its first records, the
  rejects and duplicates files as long as the counts say, every file's size and sha256 as
  listed (`Stream`, `check_files`);
- the ids: two records share a question_id only when one is the other's copy (`dataset.ids`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from arenatok.dataset.ids import Ids
from arenatok.dataset.invariants import invariants
from arenatok.errors import BuildError, OutputError
from arenatok.pipeline.metadata import COUNTS, Metadata, parse_metadata
from arenatok.pipeline.records import Record
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
from arenatok.runtime.atomic import DirLock, locked
from arenatok.runtime.files import (
    LIMITS,
    NotRegularFile,
    exists,
    is_regular,
    open_owned,
    read_owned,
    sha256_owned,
)
from arenatok.runtime.journal import JOURNAL, pending

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


def build_id(metadata: Metadata) -> str:
    """The sha256 of data_out.jsonl, as artifact_metadata.json lists it: the build's identity,
    which the files derived from it name."""
    return str(metadata["files"][JSONL]["sha256"])


def read_metadata(out: Path, problems: Problems) -> Metadata | None:
    """artifact_metadata.json, if it has the shape of one (else None, with the problem
    added); whether its counts add up and its file table names the build's files is checked
    too (problems added)."""
    path = out / METADATA
    if not out.is_dir():
        problems.add(str(out), "not a directory")
        return None
    finish_commit(out, problems)
    try:
        raw = read_owned(path, limit=LIMITS[METADATA])
    except FileNotFoundError:
        problems.add(METADATA, "missing: the build did not finish, or this is not its output")
        return None
    except OSError as e:
        problems.add(METADATA, f"cannot be read ({e.strerror or e})")
        return None
    meta = parse_metadata(raw)
    if isinstance(meta, str):
        problems.add(METADATA, f"unreadable, or not the metadata of an arenatok build ({meta})")
        return None
    _counts(meta, problems)
    _file_table(meta, problems)
    return meta


def finish_commit(out: Path, problems: Problems) -> None:
    """Finish the commit that a stopped run left in `out` (`journal.recover`, under the
    directory's lock), so that what is read is one build, whole; a run that holds the lock now
    is left alone (what it commits is read after it)."""
    if not pending(out):
        return
    try:
        DirLock(out).release()  # taking the lock finishes the commit
    except OutputError as e:
        if not locked(out):
            problems.add(JOURNAL, e.message)
    except OSError as e:
        problems.add(JOURNAL, f"a stopped commit, which cannot be finished ({e.strerror or e})")


def _counts(meta: Metadata, problems: Problems) -> None:
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
    for name in COUNTS:
        across = sum(s["counts"][name] for s in meta["sources"])
        if across != c[name]:
            problems.add(METADATA, f"{name} is {c[name]}, its sources' add up to {across}")
    votes = sum(w["count"] for w in meta["winner_distribution"].values())
    if votes != written:
        problems.add(METADATA, f"the winners add up to {votes}, not rows_written {written}")


def expected_files(meta: Metadata) -> set[str]:
    """The files a build with these options writes besides its metadata."""
    names = set(OUTPUTS) - {REJECTS, DUPLICATES}
    if meta["options"]["on_bad_row"] == "reject":
        names.add(REJECTS)
    if meta["options"]["duplicates"] == "drop":
        names.add(DUPLICATES)
    return names


def _file_table(meta: Metadata, problems: Problems) -> None:
    files = meta["files"]
    expected = expected_files(meta)
    for name in sorted(expected - set(files)):
        problems.add(METADATA, f"does not list {name}")
    for name in sorted(set(files) - expected):
        problems.add(METADATA, f"lists {name!r}, which is not a file this build writes")
    if files.get(FULL) != files.get(DATA):
        problems.add(FULL, f"is not listed as a copy of {DATA}")


def check_files(out: Path, meta: Metadata, problems: Problems, *, hashed: set[str]) -> None:
    """Every listed file is there as a regular file with its size and (unless its sha256 was
    taken as it was read: `hashed`) its sha256; record.schema.json is this version's."""
    expected = expected_files(meta)
    for name, info in sorted(meta["files"].items()):
        if name not in expected:
            continue  # not one of ours (see _file_table): never opened
        path = out / name
        if not is_regular(path):
            problems.add(name, "not a regular file" if exists(path) else "missing")
            continue
        size = path.stat().st_size
        if size != info["bytes"]:
            problems.add(name, f"{size} bytes, the metadata says {info['bytes']}")
        elif name not in hashed and _sha256(path, problems) not in (None, info["sha256"]):
            problems.add(name, "sha256 differs from the metadata (the file was changed)")
    if is_regular(out / SCHEMA) and not _is_our_schema(out / SCHEMA, problems):
        problems.add(SCHEMA, "differs from this arenatok version's schema; checked against ours")
    counts = meta["counts"]
    for name, n in ((REJECTS, counts["rows_rejected"]), (DUPLICATES, counts["rows_dropped"])):
        path = out / name
        if name in meta["files"] and is_regular(path):
            lines = sum(1 for _ in lines_of(path))
            if lines != n:
                problems.add(name, f"{lines} lines, but the metadata says {n}")
        elif n and name not in meta["files"]:
            problems.add(name, f"not listed, but the metadata says {n} rows went there")


_ADAPTER: Any = None


def check_record(line: bytes, where: str, problems: Problems) -> Record | None:
    """One line of data_out.jsonl as its record (`pipeline.records.Record`, as the schema
    check reads it: one parse), if it matches the record schema (strict types) and every
    metric definition holds (else None, with the problem added)."""
    global _ADAPTER
    from pydantic import ValidationError

    if _ADAPTER is None:
        from arenatok.pipeline.records import record_adapter

        _ADAPTER = record_adapter()
    try:
        record: Record = _ADAPTER.validate_json(line, strict=True)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(map(str, first["loc"]))
        problems.record(where, f"does not match the schema: {loc}: {first['msg']}")
        return None
    wrong = invariants(record)
    for what in wrong:
        problems.record(where, what)
    return None if wrong else record


def decoded(line: bytes) -> Any:
    """A line's JSON value, where the caller does not check its record (None: not JSON)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


@dataclass
class Stream:
    """data_out.jsonl as it is read in order: the sha256 of its bytes and of the data_out.json
    those lines make, its first records, its lines, its records' ids."""

    jsonl: Any = field(default_factory=hashlib.sha256)
    data: Any = field(default_factory=hashlib.sha256)
    first: list[bytes] = field(default_factory=list)
    lines: int = 0
    ids: Ids = field(default_factory=Ids)

    def __post_init__(self) -> None:
        self.data.update(b'{"examples": [\n')

    def feed(self, line: bytes, record: Any) -> None:
        """The next line, with its line break, and its record (`check_record`'s, or
        `decoded`; None: not one, left to the record checks)."""
        self.jsonl.update(line)
        self.data.update(b",\n" + line[:-1] if self.lines else line[:-1])
        if len(self.first) < MINI_SIZE:
            self.first.append(line)
        self.lines += 1
        self.ids.see(self.lines, record)

    def finish(self, out: Path, meta: Metadata, problems: Problems) -> None:
        """The stream against the metadata (sha256s, the number of records, mini and preview)
        and its ids against each other (`dataset.ids`)."""
        files = meta["files"]
        self.data.update(b"\n]}\n" if self.lines else b"]}\n")
        if self.jsonl.hexdigest() != files[JSONL]["sha256"]:
            problems.add(JSONL, "sha256 differs from the metadata (the file was changed)")
        if self.data.hexdigest() != files[DATA]["sha256"]:
            problems.add(DATA, f"is not the records of {JSONL} as a JSON list")
        written = meta["counts"]["rows_written"]
        if self.lines != written:
            problems.add(JSONL, f"{self.lines} records, but the metadata says {written}")
        for line, what in self.ids.finish():
            problems.record(f"{JSONL} line {line}", what)
        problems.records += self.ids.more
        try:
            head = [orjson.loads(x) for x in self.first]
            mini = orjson.loads(read_owned(out / MINI, limit=files[MINI]["bytes"]))["examples"]
            preview = read_owned(out / PREVIEW, limit=files[PREVIEW]["bytes"])
            preview = orjson.loads(preview)["examples"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.add(f"{MINI}/{PREVIEW}", f"unreadable ({type(e).__name__})")
            return
        if mini != head:
            problems.add(MINI, f"is not the first {MINI_SIZE} records of {DATA}")
        if preview != cut_strings(mini):
            problems.add(PREVIEW, f"is not {MINI} with long strings cut")


def lines_of(path: Path) -> Iterator[bytes]:
    """A file of the build's lines (with their line breaks), opened as `files.open_owned`
    opens it."""
    with open_owned(path) as f:
        yield from f


def _sha256(path: Path, problems: Problems) -> str | None:
    """A file's sha256 (None, with the problem added, when it cannot be read)."""
    try:
        return sha256_owned(path)[1]
    except OSError as e:
        problems.add(path.name, f"cannot be read ({e.strerror or e})")
        return None


def _is_our_schema(path: Path, problems: Problems) -> bool:
    """Whether a record.schema.json has this version's bytes (True, with the problem added,
    when it cannot be read)."""
    ours = schema_bytes()
    try:
        return read_owned(path, limit=len(ours)) == ours
    except NotRegularFile:  # larger than ours
        return False
    except OSError as e:
        problems.add(path.name, f"cannot be read ({e.strerror or e})")
        return True


def check_build(out: Path, problems: Problems) -> Metadata | None:
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
        for n, line in enumerate(lines_of(out / JSONL), start=1):
            stream.feed(line, check_record(line, f"{JSONL} line {n}", problems))
    except OSError as e:
        problems.add(JSONL, f"cannot be read ({e.strerror or e})")
        return meta
    stream.finish(out, meta, problems)
    problems.close()
    return meta
