"""Output files. Every file is written to a temp file in the output directory and renamed into
place only when the whole build succeeded; `artifact_metadata.json` is renamed last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from arenatok.errors import OutputError
from arenatok.pipeline.battle import Reject
from arenatok.pipeline.metadata import Draft, Metadata
from arenatok.pipeline.records import Dropped, Record, dumps_lines
from arenatok.runtime.atomic import (
    BUILD_HINT,
    DirLock,
    Listed,
    NewDirs,
    TempFile,
    dumps_pretty,
    output_error,
    remove_stale_temps,
    temps,
)
from arenatok.runtime.derived import (
    DERIVED,
    MANIFEST,
    card_globs,
    data_folders,
    derived_names,
    made_from,
    manifest_bytes,
    read_manifest,
    unchanged,
)

# Named once, in runtime.derived (which reads them too); re-exported with the other file names.
from arenatok.runtime.derived import JSONL as JSONL
from arenatok.runtime.derived import METADATA as METADATA
from arenatok.runtime.files import (
    LIMITS,
    NotRegularFile,
    clone_file,
    exists,
    is_regular,
    read_owned,
)
from arenatok.runtime.journal import Step, Unfinished, commit

DATA = "data_out.json"
FULL = "full_data_out.json"
MINI = "mini_data_out.json"
PREVIEW = "preview_data_out.json"
REJECTS = "rejects.jsonl"
DUPLICATES = "duplicates.jsonl"
SCHEMA = "record.schema.json"
OUTPUTS = (DATA, FULL, MINI, PREVIEW, JSONL, REJECTS, DUPLICATES, SCHEMA)
"""Every file a build writes besides METADATA."""
MINI_SIZE = 3
PREVIEW_CHARS = 200


def cut_strings(value: Any, limit: int = PREVIEW_CHARS) -> Any:
    """A copy of `value` with every string longer than `limit` characters cut, marked
    `… [cut: N chars in all]`."""
    if isinstance(value, str):
        cut = len(value) > limit
        return f"{value[:limit]}… [cut: {len(value)} chars in all]" if cut else value
    if isinstance(value, Mapping):
        return {k: cut_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [cut_strings(v, limit) for v in value]
    return value


def stray_temps(directory: Path) -> list[str]:
    """Temp files of arenatok's under `directory` (a killed run's, or a live run's), by their
    path relative to it."""
    names = (*OUTPUTS, METADATA, *derived_names(directory, {}), *card_globs(directory), MANIFEST)
    return sorted(
        {str(p.relative_to(directory)) for p in temps(directory, names, through_links=True)}
    )


class DatasetWriter:
    """Streams records into data_out.json and data_out.jsonl (and rejects into rejects.jsonl),
    keeps the first records for the mini and preview files, and commits everything at the end.

    Holds the output directory's lock from start to commit or discard. Until commit, only temp
    files are written; the files of an earlier run stay untouched."""

    def __init__(self, out_dir: Path, *, keep_rejects: bool, keep_duplicates: bool = False) -> None:
        self.out_dir = out_dir
        self._open: list[TempFile] = []
        self._first: list[Record] = []
        self._n = 0
        self.first_reject: dict[str, object] | None = None
        """The first reject entry added (kept to explain a build where every row failed)."""
        self.copy_method = ""
        """How full_data_out.json was made from data_out.json (see `clone_file`)."""
        self.kept: list[str] = []
        """Files named like derived ones that the commit left: not made from the build it
        replaced."""
        self._lock: DirLock | None = None
        self._made: NewDirs | None = None
        """The directories this build made: a build that fails leaves none of them empty."""
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="arenatok-sync")
        try:
            self._made = NewDirs(out_dir)
            self._lock = DirLock(out_dir)
            remove_stale_temps(
                out_dir, (*OUTPUTS, METADATA, *DERIVED, *card_globs(out_dir), MANIFEST)
            )
            self._writes = {DATA, FULL, MINI, PREVIEW, JSONL, SCHEMA, METADATA}
            self._writes |= {REJECTS} if keep_rejects else set()
            self._writes |= {DUPLICATES} if keep_duplicates else set()
            _previous(out_dir, self._writes)  # refuses files of ours that it did not write
            self._data = self._new(DATA)
            self._jsonl = self._new(JSONL)
            self._rejects = self._new(REJECTS) if keep_rejects else None
            self._duplicates = self._new(DUPLICATES) if keep_duplicates else None
        except OSError as e:
            self.discard()
            raise output_error(out_dir, e, hint=BUILD_HINT) from e
        except BaseException:
            self.discard()
            raise
        self._write_data(b'{"examples": [\n')

    def _write_data(self, data: bytes) -> None:
        """Append to data_out.json (full_data_out.json is made from it at the end)."""
        self._guard(self._data.write, data)

    def _new(self, name: str, *, hashed: bool = True) -> TempFile:
        f = TempFile(self.out_dir / name, hashed=hashed, syncer=self._syncer)
        self._open.append(f)
        return f

    def _guard(self, write: Callable[[bytes], None], data: bytes) -> None:
        try:
            write(data)
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=BUILD_HINT) from e

    def add(
        self,
        block: bytes,
        n: int,
        first_records: Sequence[Record] = (),
        rejects: Iterable[dict[str, object]] = (),
        duplicates: Sequence[Dropped] = (),
    ) -> None:
        """Append a block of `n` records made by `dumps_lines` (and reject and duplicate
        entries), in order; `first_records` are the block's first records, kept for the mini
        and preview files."""
        self._first.extend(first_records[: MINI_SIZE - len(self._first)])
        if n:
            self._guard(self._jsonl.write, block)
            self._guard(self._jsonl.write, b"\n")
            if self._n:
                self._write_data(b",\n")
            self._write_data(block.replace(b"\n", b",\n"))
            self._n += n
        entries = list(rejects)
        if entries and self.first_reject is None:
            self.first_reject = entries[0]
        if self._rejects is not None and entries:
            self._guard(self._rejects.write, dumps_lines(entries) + b"\n")
        if self._duplicates is not None and duplicates:
            self._guard(self._duplicates.write, dumps_lines(duplicates) + b"\n")

    def commit(self, draft: Draft) -> Metadata:
        """Complete every file as a temp file (flushed to the disk), and decide, reading and
        hashing what the earlier build left, which of its files go: the files derived from it
        (`DERIVED`, as `derived_to_remove` decides) and the outputs this build does not write.
        Only then the point of no return (`journal.commit`): artifact_metadata.json removed,
        those files removed, every file renamed into place and the new artifact_metadata.json
        (with the size and sha256 of every other file) last. Returns the metadata written."""
        self._write_data(b"\n]}\n" if self._n else b"]}\n")
        small = {
            MINI: dumps_pretty({"examples": self._first}).encode("utf-8"),
            PREVIEW: dumps_pretty({"examples": cut_strings(self._first)}).encode("utf-8"),
            SCHEMA: schema_bytes(),
        }
        try:
            previous, predecessor = _previous(self.out_dir, self._writes)  # as at the start
            files = {f.final.name: _listed(f) for f in self._open}
            # The same bytes as data_out.json, without this process writing them again: a copy,
            # not a hard link (editing one file must not change the other).
            full = self._new(FULL, hashed=False)
            self.copy_method = clone_file(self._data.tmp, full.file)
            full.close()
            for name, data in small.items():
                f = self._new(name)
                f.write(data)
                files[name] = _listed(f)
            files[FULL] = files[DATA]
            table = dict(sorted(files.items()))
            derived = derived_to_remove(self.out_dir, {predecessor} if predecessor else set())
            self.kept = derived.kept
            gone = []
            for name in sorted(set(previous) - self._writes):
                if unchanged(self.out_dir, name, previous):
                    gone.append(name)
                elif exists(self.out_dir / name):
                    self.kept.append(f"{name} (changed since the last build wrote it)")
            manifest = []
            if derived.manifest is not None:
                m = self._new(MANIFEST, hashed=False)
                m.write(derived.manifest)
                m.close()
                manifest = [self._step(m)]
            elif derived.unlink_manifest:
                manifest = [Step("unlink", MANIFEST)]
            metadata: Metadata = {**draft, "full_data_out_copy": self.copy_method, "files": table}
            meta = self._new(METADATA)
            meta.write(dumps_pretty(metadata).encode("utf-8"))
            meta.close()
            steps = [
                Step("unlink", METADATA),
                *(Step("unlink", name) for name in derived.unlink),
                *(Step("rmdir", folder) for folder in derived.folders),
                *manifest,
                *(self._step(f) for f in self._open if f is not meta and f.final.name != MANIFEST),
                *(Step("unlink", name) for name in gone),
                self._step(meta),
            ]
            commit(self.out_dir, steps, hint=BUILD_HINT)
        except Unfinished:
            self._open.clear()  # the journal names the temp files: the next run renames them
            self._release()
            raise
        except OSError as e:
            self.discard()
            raise output_error(self.out_dir, e, hint=BUILD_HINT) from e
        except BaseException:
            self.discard()
            raise
        self._open.clear()
        self._release()
        return metadata

    def _step(self, f: TempFile) -> Step:
        """The commit's step that renames `f` into place."""
        return Step("replace", f.final.name, f.tmp.name)

    def discard(self) -> None:
        """Remove every temp file; files of an earlier complete run stay as they were."""
        for f in self._open:
            f.discard()
        self._open.clear()
        self._release()
        if self._made is not None:
            self._made.undo()

    def _release(self) -> None:
        self._syncer.shutdown(wait=True)
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _listed(f: TempFile) -> Listed:
    """A hashed temp file closed: its size and sha256."""
    entry = f.close()
    assert entry is not None
    return entry


def _previous(out_dir: Path, writes: set[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The files of the build in `out_dir` (its metadata's file table; only names a build
    writes) and that build's identity (the sha256 of its data_out.jsonl), after checking that
    every file of the names in `writes` that is there is one of them: a build replaces only
    its own files (an OutputError names the first other)."""
    try:
        meta = orjson.loads(read_owned(out_dir / METADATA, limit=LIMITS[METADATA]))
        table = meta["files"]
        listed = {
            name: entry
            for name, entry in table.items()
            if name in OUTPUTS and isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        }
        ours = True
    except FileNotFoundError:
        listed, ours = {}, False
    except NotRegularFile as e:
        raise OutputError(
            f"{out_dir / METADATA}: {e.strerror}; arenatok does not replace it",
            hint=f"move it away, or {BUILD_HINT}",
        ) from e
    except (ValueError, KeyError, TypeError, AttributeError):
        listed, ours = {}, False  # not metadata of ours: it is not replaced either
    for name in sorted(writes):
        path = out_dir / name
        if not exists(path):
            continue
        if name in listed or (name == METADATA and ours):
            continue
        raise OutputError(
            f"{path}: is not a file of the build in {out_dir} (its {METADATA} does not list "
            "it); arenatok does not replace files it did not write",
            hint=f"move it away, or {BUILD_HINT}",
        )
    build = listed.get(JSONL, {}).get("sha256") if ours else None
    return listed, build


@dataclass
class Derived:
    """What a build's commit does to the files derived from the build it replaces."""

    unlink: list[str] = field(default_factory=list)
    """Derived files to remove (data/ goes too when that leaves it empty)."""
    kept: list[str] = field(default_factory=list)
    """Derived files left, each with why."""
    manifest: bytes | None = None
    """The list of derived files as it is after the removals (None: unchanged or removed)."""
    unlink_manifest: bool = False
    """Whether the list goes (nothing is left in it)."""
    folders: list[str] = field(default_factory=list)
    """data/'s folders, then data/ (each goes when that leaves it empty)."""


def derived_to_remove(out_dir: Path, builds: set[str]) -> Derived:
    """Which files derived from a build (`DERIVED`) to remove: those that the directory's list
    (`derived.MANIFEST`) names as written by arenatok, unchanged since, and made from one of
    `builds`; any other file of those names, a link, or a file under a linked data/ stays.
    Only reads: the commit removes them."""
    plan = Derived()
    listed = read_manifest(out_dir)
    before = dict(listed)
    plan.folders = data_folders(out_dir)[::-1]
    for name in derived_names(out_dir, listed):
        path = out_dir / name
        if not exists(path):
            listed.pop(name, None)
            continue
        maker = made_from(path, within=out_dir)
        if any((out_dir / p).is_symlink() for p in Path(name).parents if p != Path()):
            plan.kept.append(f"{name} (under a symbolic link)")
        elif maker is None:
            plan.kept.append(f"{name} (arenatok did not make it)")
        elif maker not in builds:
            plan.kept.append(f"{name} (another build)")
        elif not unchanged(out_dir, name, listed):
            plan.kept.append(f"{name} (changed since arenatok wrote it, or not listed as its own)")
        else:
            plan.unlink.append(name)
            listed.pop(name)
    if is_regular(out_dir / MANIFEST) and listed != before:
        if listed:
            plan.manifest = manifest_bytes(listed)
        else:
            plan.unlink_manifest = is_regular(out_dir / MANIFEST)
    return plan


def schema_bytes() -> bytes:
    """The JSON Schema of one output record, as shipped in the package."""
    import importlib.resources

    return (importlib.resources.files("arenatok") / SCHEMA).read_bytes()


def reject_entry(file: str, reject: Reject) -> dict[str, object]:
    """The rejects.jsonl line of a reject (`row`: counted from 1, in source order)."""
    return {
        "file": file,
        "row": reject.row,
        "question_id": reject.question_id,
        "reason": reject.reason,
    }
