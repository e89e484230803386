"""Sources of battles: the pinned Hub file, or a local Parquet / JSON Lines / JSON file.

Files are read in batches of plain row dicts; a large file is never held whole as Python objects.
`battle_from_row` checks one row and turns it into a `Battle`, or says why it cannot.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from arenatok.errors import HashMismatchError, HubError, SourceError
from arenatok.records import WINNERS, Battle

REQUIRED_COLUMNS = (
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "conversation_a",
    "conversation_b",
    "turn",
)
OPTIONAL_COLUMNS = (
    "judge",
    "anony",
    "language",
    "tstamp",
    "openai_moderation",
    "toxic_chat_tag",
)
"""Columns of the arena schema that are read; missing optional ones become null in the output."""

FORMATS = ("parquet", "jsonl", "json")


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub dataset, pinned by revision and sha256."""

    repo_id: str
    filename: str
    revision: str
    sha256: str
    size: int | None = None


ARENA_33K = HubFile(
    repo_id="lmsys/chatbot_arena_conversations",
    filename="data/train-00000-of-00001-cced8514c7ed782a.parquet",
    revision="1b6335d42a1d2c7e34870c905d03ab964f7f2bd8",
    sha256="3726a6352e9bfc34e206460646f6e5e99bb837751966a671ddd30c7f64e5b06e",
    size=41_573_740,
)
"""The default source: the 33,000 battles of lmsys/chatbot_arena_conversations."""


class RowProblem(ValueError):
    """A row fails a check; the message is the reason."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fetch_hub_file(
    hub: HubFile = ARENA_33K,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Download `hub` with huggingface_hub (its cache, HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE
    apply) and check its sha256. A pinned revision already in the cache needs no network."""
    from huggingface_hub import (
        constants,
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"https://huggingface.co/datasets/{hub.repo_id}"
    local = "or build from a local copy: arenatok build --source FILE"
    repo, name, rev = hub.repo_id, hub.filename, hub.revision
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    try:
        cached = try_to_load_from_cache(repo, name, cache_dir, rev, repo_type="dataset")
        if isinstance(cached, str):
            return _checked(Path(cached), hub, local)
        if not constants.is_offline_mode():
            # One HEAD without retries first, so that "offline" is said at once; the download
            # itself then retries transient errors as huggingface_hub does.
            url = hf_hub_url(repo, name, repo_type="dataset", revision=rev, endpoint=endpoint)
            try:
                get_hf_file_metadata(url, endpoint=endpoint)
            except HfHubHTTPError:
                raise
            except Exception as e:
                raise HubError(
                    f"cannot reach the Hugging Face Hub ({_first_line(e)}), and {hub.repo_id} "
                    "is not in the local cache",
                    hint=f"connect once to fill the cache (it is reused offline), {local}",
                ) from None
        path = Path(
            hf_hub_download(
                repo,
                name,
                repo_type="dataset",
                revision=rev,
                endpoint=endpoint,
                cache_dir=cache_dir,
            )
        )
    except GatedRepoError:
        raise HubError(
            f"{hub.repo_id} is gated and this account has not accepted its terms",
            hint=f"accept them at {page}, log in (hf auth login) or set HF_TOKEN; {local}",
        ) from None
    except RepositoryNotFoundError:
        raise HubError(
            f"{hub.repo_id} was not found, or needs a login to be seen",
            hint=f"accept the terms at {page}, log in (hf auth login) or set HF_TOKEN; {local}",
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{hub.repo_id} has no revision {hub.revision}", hint=local) from None
    except RemoteEntryNotFoundError:
        raise HubError(
            f"{hub.repo_id}@{hub.revision} has no file {hub.filename}", hint=local
        ) from None
    except LocalEntryNotFoundError as e:
        # huggingface_hub wraps the failed metadata call; its cause tells offline from refused.
        cause = e.__cause__
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            raise HubError(
                f"the Hub refused the download of {hub.repo_id} "
                f"(HTTP {cause.response.status_code})",
                hint=local,
            ) from None
        if constants.is_offline_mode():
            raise HubError(
                f"HF_HUB_OFFLINE is set and {hub.repo_id} is not in the local cache",
                hint=f"unset HF_HUB_OFFLINE and connect once to fill the cache, {local}",
            ) from None
        raise HubError(
            f"cannot reach the Hugging Face Hub, and {hub.repo_id} is not in the local cache",
            hint=f"connect once to fill the cache (it is reused offline), {local}",
        ) from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "no response"
        raise HubError(
            f"the Hub refused the download of {hub.repo_id} (HTTP {status})", hint=local
        ) from None
    except OSError as e:
        raise HubError(f"cannot download {hub.repo_id}: {e.strerror or e}", hint=local) from None
    return _checked(path, hub, local)


def _checked(path: Path, hub: HubFile, local: str) -> Path:
    digest = sha256_file(path)
    if digest != hub.sha256:
        raise HashMismatchError(
            f"{hub.repo_id}/{hub.filename} has sha256 {digest}, expected {hub.sha256}",
            hint=f"delete the cached copy ({path}) and run again; {local}",
        )
    return path


@dataclass
class LocalFile:
    """A local battle file and how to read it."""

    path: Path
    format: str
    columns: tuple[str, ...] = field(default=())

    def batches(self, batch_size: int = 2048) -> Iterator[list[Any]]:
        """Rows in source order, `batch_size` at a time; JSON Lines rows that do not parse are
        passed on as `RowProblem`s so that they can be rejected like any other bad row."""
        if self.format == "parquet":
            return _parquet_batches(self.path, self.columns, batch_size)
        if self.format == "jsonl":
            return _jsonl_batches(self.path, batch_size)
        return _json_batches(self.path, batch_size)


def _sniff(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq") or head.startswith(b"PAR1"):
        return "parquet"
    first = head.lstrip()[:1]
    if suffix in (".jsonl", ".ndjson") or first == b"{":
        return "jsonl"
    if first == b"[":
        return "json"
    raise SourceError(
        f"{path}: cannot tell the file format from its name or first bytes",
        hint="use a .parquet, .jsonl or .json file (a JSON list of records)",
    )


def open_local(path: str | Path) -> LocalFile:
    """Check that `path` is a readable battle file with the arena columns; say clearly if not."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise SourceError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{p}: is a directory, expected a file") from None
    except PermissionError:
        raise SourceError(f"{p}: permission denied") from None
    except OSError as e:
        raise SourceError(f"{p}: cannot read: {e.strerror or e}") from None
    if not head:
        raise SourceError(f"{p}: the file is empty")
    fmt = _sniff(p, head)
    if fmt != "parquet":
        return LocalFile(p, fmt)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.ParquetFile(p).schema_arrow.names
    except (pa.ArrowException, OSError) as e:
        raise SourceError(f"{p}: not a readable Parquet file ({_first_line(e)})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise SourceError(
            f"{p}: missing columns: {', '.join(missing)} (found: {', '.join(names)})",
            hint="arenatok reads the lmsys/chatbot_arena_conversations schema",
        )
    wanted = tuple(c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in names)
    return LocalFile(p, fmt, wanted)


def parquet_rows(path: Path) -> int:
    """Number of rows in a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _parquet_batches(path: Path, columns: tuple[str, ...], size: int) -> Iterator[list[Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=size, columns=list(columns)):
            yield batch.to_pylist()
    except (pa.ArrowException, OSError) as e:
        raise SourceError(f"{path}: the Parquet data is corrupt ({_first_line(e)})") from None


def _decode_line(raw: bytes, lineno: int) -> Any:
    # Binary lines split on b"\n" only: U+2028 inside a string is data, not a line break.
    if not raw.strip():
        return RowProblem(f"line {lineno} is empty")
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:
        return RowProblem(f"line {lineno} is not valid UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        return RowProblem(f"line {lineno} is not valid JSON: {e.msg} (column {e.colno})")


def _jsonl_batches(path: Path, size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            batch.append(_decode_line(raw, lineno))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def _json_batches(path: Path, size: int) -> Iterator[list[Any]]:
    import ijson

    batch: list[Any] = []
    f: BinaryIO
    with path.open("rb") as f:
        try:
            for item in ijson.items(f, "item", use_float=True):
                batch.append(item)
                if len(batch) == size:
                    yield batch
                    batch = []
        except (ijson.JSONError, UnicodeDecodeError) as e:
            raise SourceError(
                f"{path}: not a valid JSON list of records ({_first_line(e)})",
                hint="expected [{...}, {...}] or one JSON object per line (.jsonl)",
            ) from None
    if batch:
        yield batch


# ---- checks -------------------------------------------------------------------------------


def _text(row: Mapping[str, Any], key: str) -> str:
    v = row.get(key)
    if not isinstance(v, str) or not v:
        raise RowProblem(f"{key} must be a non-empty string, got {_show(v)}")
    return v


def _optional(row: Mapping[str, Any], key: str, kind: type) -> Any:
    v = row.get(key)
    if v is not None and (not isinstance(v, kind) or (kind is not bool and isinstance(v, bool))):
        raise RowProblem(f"{key} must be a {kind.__name__} or null, got {_show(v)}")
    return v


def _show(v: object) -> str:
    if v is None:
        return "null"
    r = repr(v)
    return f"{type(v).__name__} {r[:60]}{'...' if len(r) > 60 else ''}"


def _messages(row: Mapping[str, Any], key: str) -> tuple[list[str], list[str]]:
    """The user and assistant texts of one side, after the role and type checks."""
    conv = row.get(key)
    if not isinstance(conv, list) or not conv:
        raise RowProblem(f"{key} must be a non-empty list of messages, got {_show(conv)}")
    users: list[str] = []
    answers: list[str] = []
    for i, m in enumerate(conv):
        if not isinstance(m, Mapping):
            raise RowProblem(f"{key}[{i}] is not a message object: {_show(m)}")
        expected = "assistant" if i % 2 else "user"
        role = m.get("role")
        if role != expected:
            raise RowProblem(
                f"{key}[{i}].role is {_show(role)}, expected {expected!r} "
                "(roles alternate user/assistant, starting with user)"
            )
        content = m.get("content")
        if not isinstance(content, str):
            raise RowProblem(f"{key}[{i}].content must be a string, got {_show(content)}")
        (answers if i % 2 else users).append(content)
    if len(conv) % 2:
        raise RowProblem(f"{key} ends with a user message; it must end with an assistant answer")
    return users, answers


def _flag(value: object, key: str, path: tuple[str, ...]) -> bool | None:
    """A boolean flag nested in a struct column (null if the column or flag is absent)."""
    for part in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise RowProblem(f"{key} must be an object or null, got {_show(value)}")
        value = value.get(part)
    if value is not None and not isinstance(value, bool):
        raise RowProblem(f"{key}.{'.'.join(path)} must be a bool or null, got {_show(value)}")
    return value


def battle_from_row(row: object) -> Battle:
    """Check one arena-schema row and return its Battle; raise RowProblem with the reason."""
    if isinstance(row, RowProblem):
        raise row
    if not isinstance(row, Mapping):
        raise RowProblem(f"row is not an object: {_show(row)}")
    qid = _text(row, "question_id")
    model_a = _text(row, "model_a")
    model_b = _text(row, "model_b")
    if model_a == model_b:
        raise RowProblem(f"model_a and model_b are the same model ({model_a!r})")
    winner = row.get("winner")
    if winner not in WINNERS:
        raise RowProblem(f"winner is {_show(winner)}, expected one of {', '.join(WINNERS)}")
    users, answers_a = _messages(row, "conversation_a")
    users_b, answers_b = _messages(row, "conversation_b")
    if len(users) != len(users_b):
        raise RowProblem(
            f"conversation_a has {len(users)} turns but conversation_b has {len(users_b)}"
        )
    for i, (ua, ub) in enumerate(zip(users, users_b, strict=True)):
        if ua != ub:
            raise RowProblem(f"user message of turn {i + 1} differs between the two sides")
    turn = row.get("turn")
    if not isinstance(turn, int) or isinstance(turn, bool) or turn != len(users):
        raise RowProblem(f"turn is {_show(turn)} but the conversation has {len(users)} turns")
    tstamp = row.get("tstamp")
    if tstamp is not None:
        if not isinstance(tstamp, int | float) or isinstance(tstamp, bool):
            raise RowProblem(f"tstamp must be a number or null, got {_show(tstamp)}")
        if not math.isfinite(tstamp):
            raise RowProblem(f"tstamp is not finite ({tstamp})")
        tstamp = float(tstamp)
    toxic = row.get("toxic_chat_tag")
    toxic_flags = (
        [_flag(toxic, "toxic_chat_tag", (k, "flagged")) for k in toxic]
        if isinstance(toxic, Mapping)
        else [_flag(toxic, "toxic_chat_tag", ("flagged",))]
    )
    known = [f for f in toxic_flags if f is not None]
    return Battle(
        question_id=qid,
        model_a=model_a,
        model_b=model_b,
        winner=winner,
        users=tuple(users),
        answers_a=tuple(answers_a),
        answers_b=tuple(answers_b),
        judge=_optional(row, "judge", str),
        anony=_optional(row, "anony", bool),
        language=_optional(row, "language", str),
        tstamp=tstamp,
        openai_moderation_flagged=_flag(
            row.get("openai_moderation"), "openai_moderation", ("flagged",)
        ),
        toxic_chat_flagged=any(known) if known else None,
    )
