"""Planning a build: every option checked, every source found and opened, the tokenizers
known, before any work starts. `pipeline.run` runs a `Plan`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from arenatok.errors import OptionError
from arenatok.options import (
    BadRowPolicy,
    ChatOverhead,
    Counter,
    DuplicatePolicy,
    Engine,
    check_choice,
    check_count,
)
from arenatok.pipeline import layouts
from arenatok.pipeline.encodings import describe
from arenatok.pipeline.metadata import Compressed, Provenance, Tokenizer
from arenatok.pipeline.sources.filetypes.base import sha256_data
from arenatok.pipeline.sources.hub import ARENA_33K, HubFile, fetch_hub_file
from arenatok.pipeline.sources.local import LocalFile, check_regular, open_local
from arenatok.pipeline.steps import SourceStamp, StepOptions
from arenatok.pipeline.tokens import TokenizerFileCounter, fast_provenance
from arenatok.runtime import environment
from arenatok.runtime.atomic import out_dir, sha256_file
from arenatok.runtime.workers import default_workers, start_early

DEFAULT_LIMIT = 300

PROCESS_MIN_ROWS = 5000
"""Below this many rows, worker processes cost more to start than they save."""

Progress = Callable[[int, int | None], None]
"""Called with (rows read so far, rows expected or None)."""


@dataclass(frozen=True)
class PlannedSource:
    """One source of a build: its place, the file, how messages name it, where it comes
    from."""

    index: int
    file: LocalFile
    label: str
    """The source as messages, rejects.jsonl and duplicates.jsonl name it."""
    provenance: Provenance
    expected: int | None
    """Rows the build will read from it, where the file says (Parquet), else None."""


@dataclass(frozen=True)
class Plan:
    """A build ready to run: every option checked, the sources found, the tokenizers known."""

    sources: tuple[PlannedSource, ...]
    options: StepOptions
    tokenizers: list[Tokenizer]
    """Provenance of each tokenizer, the primary first."""
    out: Path
    limit: int | None
    """The first rows read from each source (None: all)."""
    expected: int | None
    """Rows the build will read, where every source says (Parquet), else None."""
    workers: int
    engine: Engine
    on_bad_row: BadRowPolicy
    duplicates: DuplicatePolicy
    allow_empty: bool
    batch_size: int
    created: str | None


class PlanOptions(TypedDict, total=False):
    """The options of `plan` (and `driver.build`), each described there."""

    out: str | Path
    limit: int | None
    encoding: str | Sequence[str]
    tokenizers: Sequence[str | Path]
    layout: str | None
    allow_null_turns: bool
    chat_overhead: ChatOverhead | None
    on_bad_row: BadRowPolicy
    duplicates: DuplicatePolicy
    allow_empty: bool
    dataset_name: str | None
    hub: HubFile
    endpoint: str | None
    batch_size: int
    workers: int | None
    engine: Engine
    counter: Counter


def plan(
    source: str | Path | Sequence[str | Path] | None = None,
    *,
    out: str | Path = "arenatok-out",
    limit: int | None = DEFAULT_LIMIT,
    encoding: str | Sequence[str] = "cl100k_base",
    tokenizers: Sequence[str | Path] = (),
    layout: str | None = None,
    allow_null_turns: bool = False,
    chat_overhead: ChatOverhead | None = None,
    on_bad_row: BadRowPolicy = "error",
    duplicates: DuplicatePolicy = "flag",
    allow_empty: bool = False,
    dataset_name: str | None = None,
    hub: HubFile = ARENA_33K,
    endpoint: str | None = None,
    batch_size: int = 1024,
    workers: int | None = 1,
    engine: Engine = "local",
    counter: Counter = "tiktoken",
) -> Plan:
    """Check every option and find the source (see `build` for what they mean)."""
    out = out_dir(out)
    if limit is not None:
        check_count(limit, "--limit", example="--limit all")
    check_count(batch_size, "batch_size", example="batch_size=1024")
    if workers is not None:
        check_count(workers, "--workers", example="--workers auto")
    if chat_overhead is not None:
        check_choice(chat_overhead, ChatOverhead, "chat format")
    check_choice(on_bad_row, BadRowPolicy, "bad-row policy")
    check_choice(engine, Engine, "engine")
    check_choice(duplicates, DuplicatePolicy, "duplicates policy")
    check_choice(counter, Counter, "counter")
    encodings = [encoding] if isinstance(encoding, str) else list(encoding)
    if not encodings:
        raise OptionError("no encoding given", hint="for example --encoding cl100k_base")
    created = _created()
    # Unknown encodings and unreadable tokenizer files fail here, before any work.
    described = [fast_provenance(e) if counter == "fast" else describe(e) for e in encodings]
    described += [TokenizerFileCounter(t).provenance for t in tokenizers]
    specs: list[str | Path | None] = (
        [source] if source is None or isinstance(source, str | Path) else list(source)
    )
    if not specs:
        raise OptionError("no source given", hint="--source FILE, or none for the Hub file")
    sources = []
    for index, spec in enumerate(specs):
        local, provenance, label = _resolve_source(spec, hub, endpoint, layout, Path(out))
        if engine == "ray" and (local.filetype != "parquet" or len(specs) > 1):
            raise OptionError(
                f"{label}: --engine ray reads one Parquet source, this is {local.filetype}"
                + f" and one of {len(specs)}" * (len(specs) > 1),
                hint="drop --engine ray (the local engine reads every kind and several sources)",
            )
        rows = local.file_type.rows(local.path)
        if limit is not None:
            rows = limit if rows is None else min(limit, rows)
        sources.append(PlannedSource(index, local, label, provenance, rows))
    known = [s.expected for s in sources]
    expected = None if None in known else sum(k for k in known if k is not None)
    if workers is None:
        if expected is None:  # CSV, JSON: judge by size
            small = _small(sum(s.file.path.stat().st_size for s in sources), limit)
        else:
            small = expected < PROCESS_MIN_ROWS
        workers = 1 if small else default_workers()
    names = [
        hub.repo_id if spec is None else s.file.name for spec, s in zip(specs, sources, strict=True)
    ]
    options = StepOptions(
        dataset=dataset_name or "+".join(names),
        sources=tuple(SourceStamp(s.file.layout, s.provenance["sha256"]) for s in sources),
        tokenizers=(*encodings, *map(str, tokenizers)),
        allow_null_turns=allow_null_turns,
        chat_overhead=chat_overhead,
        counter=counter,
    )
    return Plan(
        sources=tuple(sources),
        options=options,
        tokenizers=described,
        out=Path(out),
        limit=limit,
        expected=expected,
        workers=workers,
        engine=engine,
        on_bad_row=on_bad_row,
        duplicates=duplicates,
        allow_empty=allow_empty,
        batch_size=batch_size,
        created=created,
    )


def _check_not_an_output(source: Path, out: Path) -> None:
    """An OptionError when the build would replace or remove its own source: a file of the
    output directory (the same file, also through links)."""
    from arenatok.pipeline.write import METADATA, OUTPUTS
    from arenatok.runtime.atomic import LOCK
    from arenatok.runtime.derived import CROISSANT, DERIVED

    for name in (*OUTPUTS, METADATA, LOCK, *DERIVED, CROISSANT):
        target = out / name
        try:
            same = target.exists() and source.samefile(target)
        except OSError:
            same = False
        if same or source == target.resolve():
            raise OptionError(
                f"{source}: is the output's own {name} in {out}; the build would replace it",
                hint="copy the source elsewhere first, or choose another --out directory",
            )


BATTLE_BYTES = 1300
"""About what a battle takes on disk, to judge a file's rows by its size."""


def _small(size: int, limit: int | None) -> bool:
    """Whether a source of `size` bytes read up to `limit` rows is too small for workers."""
    return size < PROCESS_MIN_ROWS * BATTLE_BYTES or (
        limit is not None and limit < PROCESS_MIN_ROWS
    )


def start_workers_early(
    sources: Sequence[str | Path], *, limit: int | None, workers: int | None
) -> None:
    """Start the worker processes' fork server now (`workers.start_early`) when the build will
    use worker processes: `workers` > 1, or None and the local files are large (the rule of
    `plan`, judged by size). Its start-up then overlaps the planning."""
    if workers == 1 or not sources:
        return
    if workers is None:
        paths = [Path(_split_layout(str(s))[1]) for s in sources]
        sizes = [p.stat().st_size for p in paths if p.is_file()]
        if len(sizes) < len(paths) or _small(sum(sizes), limit):
            return
    start_early()


def _split_layout(source: str) -> tuple[str | None, str]:
    """A source's layout where it names one (`kaggle-55k:train.csv`), and its file."""
    prefix, sep, rest = source.partition(":")
    if sep and prefix in layouts.LAYOUTS and not Path(source).exists():
        return prefix, rest
    return None, source


def _resolve_source(
    source: str | Path | None, hub: HubFile, endpoint: str | None, layout: str | None, out: Path
) -> tuple[LocalFile, Provenance, str]:
    """The source file, its provenance and the label for messages. A source may name its
    layout (`kaggle-55k:train.csv`). A local path is recorded resolved (absolute, links
    followed): one rule, so `./x.parquet` and `x.parquet` give the same bytes."""
    if isinstance(source, str):
        named, source = _split_layout(source)
        layout = named or layout
    if source is not None:
        check_regular(Path(source))  # named as given: /dev/stdin, not /proc/self/fd/0
        _check_not_an_output(Path(source).resolve(), out)
    if source is None:
        path = fetch_hub_file(hub, endpoint=endpoint)
        local = open_local(path, layout=layout)
        hub_prov: Provenance = {
            "kind": "huggingface_hub",
            "repo_id": hub.repo_id,
            "revision": hub.revision,
            "filename": hub.filename,
            "sha256": hub.sha256,
            "bytes": path.stat().st_size,
        }
        return local, hub_prov, f"{hub.repo_id}/{hub.filename}"
    local = open_local(Path(source).resolve(), layout=layout)
    prov: Provenance = {
        "kind": "local_file",
        "path": str(local.path),
        "file_type": local.filetype,
        "sha256": sha256_file(local.path),
        "bytes": local.path.stat().st_size,
    }
    if local.compression is not None:
        # The data's sha256 and size, so that its records are the plain file's; the file's own
        # beside them.
        compressed: Compressed = {
            "codec": local.compression,
            "sha256": prov["sha256"],
            "bytes": prov["bytes"],
        }
        prov["sha256"], prov["bytes"] = sha256_data(local.path, local.compression)
        prov["compressed"] = compressed
    return local, prov, str(local.path)


def _created() -> str | None:
    """Build time for the metadata, only from SOURCE_DATE_EPOCH (so builds stay reproducible)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    environment.check("SOURCE_DATE_EPOCH")
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))
    except (OverflowError, OSError, ValueError) as e:
        raise OptionError(
            f"SOURCE_DATE_EPOCH={epoch} is past the dates this system can write",
            hint="for example SOURCE_DATE_EPOCH=$(date +%s), or unset it",
        ) from e
