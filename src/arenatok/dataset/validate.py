"""Check a built directory: files against the sha256 list, records against the schema, and the
invariants that every arenatok dataset holds. Reads the large files as streams."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from arenatok.atomic import locked
from arenatok.derived import (
    CARD,
    DERIVED,
    PAIRS,
    card_build,
    head_text,
    made_from,
    mismatched_pair,
)
from arenatok.load import sha256_file
from arenatok.style import markdown_counts, total
from arenatok.write import (
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
    stray_temps,
)

MAX_RECORD_PROBLEMS = 20
"""Record-level problems listed in full; beyond that only their number is given."""


class _Problems(list[str]):
    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


def validate_dir(out: str | Path) -> list[str]:
    """Every problem found in a directory written by `arenatok build` (empty: all holds)."""
    out = Path(out)
    problems = _Problems()
    meta_path = out / METADATA
    if not out.is_dir():
        return [f"{out}: not a directory"]
    if not meta_path.is_file():
        problems.add(METADATA, "missing: the build did not finish, or this is not its output")
        return problems
    try:
        meta = orjson.loads(meta_path.read_bytes())  # nesting deeper than 1,024 is refused
        files: dict[str, dict[str, Any]] = meta["files"]
        if not isinstance(files, dict):
            raise TypeError("its files entry is not a table")
        counts = meta["counts"]
        read, written, rejected = (
            counts["rows_read"],
            counts["rows_written"],
            counts["rows_rejected"],
        )
        dropped = counts.get("rows_dropped", 0)
    except (ValueError, KeyError, TypeError) as e:
        problems.add(METADATA, f"unreadable ({type(e).__name__}: {e})")
        return problems

    _check_files(out, files, meta, problems)
    if read != written + rejected + dropped:
        problems.add(
            METADATA,
            f"rows read {read} != written {written} + rejected {rejected} + dropped {dropped}",
        )
    if problems:  # records are checked only against files that are what the metadata says
        return problems

    n = _check_records(out, problems)
    if n != written:
        problems.add(JSONL, f"{n} records, but the metadata says {written} were written")
    for name, n in ((REJECTS, rejected), (DUPLICATES, dropped)):
        if (out / name).is_file():
            with (out / name).open("rb") as f:
                lines = sum(1 for _ in f)
            if lines != n:
                problems.add(name, f"{lines} lines, but the metadata says {n}")
        elif n:
            problems.add(name, f"missing, but the metadata says {n} rows went there")
    _check_small_files(out, files, problems)
    _check_derived(out, files.get(JSONL, {}).get("sha256"), problems)
    return problems


def _check_derived(out: Path, build: object, problems: _Problems) -> None:
    """Each file derived from a build (report, bench, card) must name this build, each page
    the same run as its JSON file; no temp file may be left."""
    again = {"report": "report", "bench": "bench", "data/": "card", "README": "card"}
    for name in DERIVED:
        path = out / name
        if not path.is_file() or (name == CARD and card_build(head_text(path)) is None):
            continue  # absent, or a README.md of the user's own
        if made_from(path) != build:
            command = next(c for prefix, c in again.items() if name.startswith(prefix))
            problems.add(
                name,
                f"was made from another build (or names none): run arenatok {command} {out} again",
            )
    for json_name, html_name in PAIRS:
        why = mismatched_pair(out, json_name, html_name)
        if why is not None:
            problems.add(html_name, f"{why}: run arenatok {json_name.split('.')[0]} {out} again")
    live = locked(out)
    for stray in stray_temps(out):
        problems.add(
            stray,
            "a temp file of the run writing here now"
            if live
            else "a temp file left by a run that was killed (the next run removes it)",
        )


def _inside(out: Path, name: object) -> bool:
    """Whether a file name of the metadata's list stays inside `out` (no absolute path, no
    `..`, no link that leads out)."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        return False
    if ".." in Path(name).parts:
        return False
    try:
        (out / name).resolve().relative_to(out.resolve())
    except (ValueError, OSError):
        return False
    return True


def _check_files(out: Path, files: dict[str, Any], meta: Any, problems: _Problems) -> None:
    expected = set(OUTPUTS) - {REJECTS, DUPLICATES}
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    if options.get("on_bad_row") == "reject":
        expected.add(REJECTS)
    if options.get("duplicates") == "drop":
        expected.add(DUPLICATES)
    for name in sorted(expected - set(files)):
        problems.add(METADATA, f"does not list {name}")
    for name, info in sorted(files.items()):
        path = out / name
        if not _inside(out, name):
            problems.add(METADATA, f"lists {name!r}, which is not a file of this directory")
            continue
        if not isinstance(info, dict):
            problems.add(METADATA, f"the entry of {name} is not a table of bytes and sha256")
            continue
        if not path.is_file():
            problems.add(name, "missing")
            continue
        size = path.stat().st_size
        if size != info.get("bytes"):
            problems.add(name, f"{size} bytes, the metadata says {info.get('bytes')}")
        elif sha256_file(path) != info.get("sha256"):
            problems.add(name, "sha256 differs from the metadata (the file was changed)")
    if (out / SCHEMA).is_file() and (out / SCHEMA).read_bytes() != schema_bytes():
        problems.add(SCHEMA, "differs from this arenatok version's schema; checked against ours")


def _records_json(path: Path) -> Iterator[Any]:
    import ijson

    with path.open("rb") as f:
        yield from ijson.items(f, "examples.item", use_float=True)


def _check_records(out: Path, problems: _Problems) -> int:
    """Each data_out.jsonl record: schema, invariants, and equal to data_out.json's record."""
    import ijson
    from pydantic import ValidationError

    from arenatok.records import record_adapter

    adapter = record_adapter()
    found = n = 0
    end = object()
    try:
        with (out / JSONL).open("rb") as lines:
            records = _records_json(out / DATA)
            for n, line in enumerate(lines, start=1):
                where = f"{JSONL} line {n}"
                other = next(records, end)
                if other is end:
                    problems.add(DATA, f"has fewer records than {JSONL}")
                    break
                try:
                    record = adapter.validate_json(line, strict=True)
                except ValidationError as e:
                    first = e.errors()[0]
                    loc = ".".join(map(str, first["loc"]))
                    what = f"does not match the schema: {loc}: {first['msg']}"
                    found += _note(problems, found, where, what)
                    continue
                for what in _invariants(record):
                    found += _note(problems, found, where, what)
                if orjson.loads(line) != other:
                    found += _note(problems, found, where, f"differs from record {n} of {DATA}")
            if next(records, end) is not end:
                problems.add(DATA, f"has more records than {JSONL}")
    except (OSError, ValueError, ijson.JSONError) as e:  # a broken file is a finding, not a crash
        problems.add(f"{DATA}/{JSONL}", f"unreadable ({type(e).__name__}: {str(e)[:200]})")
    if found > MAX_RECORD_PROBLEMS:
        problems.append(f"... and {found - MAX_RECORD_PROBLEMS} more record problems")
    return n


def _note(problems: _Problems, found: int, where: str, what: str) -> int:
    if found < MAX_RECORD_PROBLEMS:
        problems.add(where, what)
    return 1


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
    total = ti + ta + tb
    sums = {
        "total_input_tokens": ti,
        "total_output_tokens_a": ta,
        "total_output_tokens_b": tb,
        "total_tokens": total,
    }
    for key, value in sums.items():
        if u[key] != value:
            wrong.append(f"{where}.{key} is {u[key]}, the per-turn counts give {value}")
    ratios = {
        "avg_tokens_per_turn": total / len(turns),
        "input_output_ratio": ti / total if total else 0.0,
        "coordination_overhead": abs(tb - ta) / total if total else 0.0,
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


def _invariants(record: Any) -> list[str]:
    """What must hold between the fields of one valid record."""
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


def _check_small_files(out: Path, files: dict[str, Any], problems: _Problems) -> None:
    if files.get(FULL, {}).get("sha256") != files.get(DATA, {}).get("sha256"):
        problems.add(FULL, f"is not a copy of {DATA}")
    try:
        with (out / JSONL).open("rb") as lines:
            head = [orjson.loads(line) for line in itertools.islice(lines, MINI_SIZE)]
        mini = orjson.loads((out / MINI).read_bytes())["examples"]
        preview = orjson.loads((out / PREVIEW).read_bytes())["examples"]
    except (ValueError, KeyError, TypeError) as e:
        problems.add(f"{MINI}/{PREVIEW}", f"unreadable ({type(e).__name__})")
        return
    if mini != head:
        problems.add(MINI, f"is not the first {MINI_SIZE} records of {DATA}")
    if preview != cut_strings(mini):
        problems.add(PREVIEW, f"is not {MINI} with long strings cut")
