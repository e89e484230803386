"""`arenatok push`: the files that `arenatok card` wrote in a built directory, as the directory's
list of derived files names them, to a dataset repo on the Hugging Face Hub; each file opened
once, its bytes checked against the list by the hash the Hub client takes of them. Refuses
anything else in data/, a stale card, a card whose license is unknown, and a repo that
arenatok did not write."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from arenatok.dataset.built import build_id, checked_lines, read_metadata
from arenatok.dataset.sources import is_unknown
from arenatok.errors import HubError, OptionError, SourceError, first_line, resource_error
from arenatok.pipeline.sources.hub import unreachable
from arenatok.runtime import environment
from arenatok.runtime.derived import CARD, Made, by_card, card_build, made_from, read_manifest
from arenatok.runtime.files import exists, kind, open_owned

if TYPE_CHECKING:
    from huggingface_hub import CommitOperationAdd


def is_arenatok_card(text: str) -> bool:
    """Whether a README.md is a card that arenatok wrote (its YAML names arenatok and a
    build)."""
    return card_build(text) is not None


def _stale(out: Path, why: str) -> SourceError:
    return SourceError(f"{out}: the card is stale: {why}", hint=f"run arenatok card {out} again")


def _check_made(out: Path, name: str, build: str, listed: Mapping[str, Made]) -> None:
    """A stale-card SourceError unless `out/name` names `build` as its maker and the list
    gives it as card's file of that build."""
    if not exists(out / name):
        raise _stale(out, f"{name} is missing")
    if made_from(out / name, within=out) != build:
        raise _stale(out, f"{name} was made from another build (or not by arenatok)")
    entry = listed.get(name)
    if entry is None or entry.get("build") != build:
        raise _stale(out, f"{name} is not as arenatok wrote it (changed, or not in its list)")


def stray(out: Path, names: Collection[str]) -> tuple[Path, str] | None:
    """The first thing under `out`/data (in name order, no link followed) that is neither one
    of `names` (card's files, relative to `out`) nor a folder that holds one: its path and what
    it is ("a file", "a symbolic link", "a directory", ...); None when there is nothing else."""
    folders = {"data"} | {p.as_posix() for n in names for p in PurePosixPath(n).parents}
    todo = ["data"]
    while todo:
        name = todo.pop(0)
        try:
            mode = os.lstat(out / name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(mode) and name in folders:
            todo += sorted(f"{name}/{p.name}" for p in (out / name).iterdir())
        elif not (stat.S_ISREG(mode) and name in names):
            what = "a symbolic link" if stat.S_ISLNK(mode) else kind(mode)
            return out / name, "a file" if stat.S_ISREG(mode) else what
    return None


def card_files(out: Path) -> dict[str, Made]:
    """The files that `card` wrote in `out` for the build there, as the directory's list of
    derived files gives them (name -> bytes, sha256, build; the card first). A SourceError when
    there is no card, when one of them names another build or is not in the list, or when
    data/ holds anything else (`stray`). The build itself is read through every check of
    `dataset.check` (a BuildError at its first problem)."""
    if not exists(out / CARD):
        raise SourceError(f"{out}: no dataset card here", hint=f"run arenatok card {out} first")
    meta = read_metadata(out)
    for _ in checked_lines(out, meta):
        pass
    build = build_id(meta)
    listed = {name: entry for name, entry in read_manifest(out).items() if by_card(name)}
    _check_made(out, CARD, build, listed)
    found = stray(out, listed)
    if found:
        path, what = found
        raise SourceError(
            f"{path}: is {what} that arenatok card did not write; push uploads only card's files",
            hint=f"move it away, or run arenatok card {out} again",
        )
    for name in sorted(listed):
        _check_made(out, name, build, listed)
    return {CARD: listed[CARD], **listed}


def handed_over(out: Path, name: str, entry: Made, files: ExitStack) -> CommitOperationAdd:
    """`out/name` opened once (`open_owned`: a regular file, no link followed below `out`) and
    handed to the Hub client, which hashes those bytes; a stale-card SourceError (nothing
    uploaded) unless their size and sha256 are the list's `entry`. The file stays open in
    `files` for the upload, which reads it again."""
    from huggingface_hub import CommitOperationAdd

    try:
        f = files.enter_context(open_owned(out / name, within=out))
        addition = CommitOperationAdd(path_in_repo=name, path_or_fileobj=f)  # reads f, rewinds it
    except OSError as e:  # replaced since it was checked (a link, a FIFO, ...), or unreadable
        raise resource_error(e) or _stale(out, f"{name} cannot be read ({e.strerror or e})") from e
    info = addition.upload_info
    if (info.size, info.sha256.hex()) != (entry["bytes"], entry["sha256"]):
        raise _stale(out, f"{name} is not as arenatok wrote it (changed, or not in its list)")
    return addition


def _check_license(out: Path, card: CommitOperationAdd) -> None:
    """A SourceError when the card's license (in the bytes handed over) is, or holds,
    `unknown` (a source whose release arenatok does not know): what is published must say
    under which terms."""
    from huggingface_hub import DatasetCard

    f = card.path_or_fileobj
    assert not isinstance(f, str | Path | bytes)  # handed over open
    text = f.read().decode("utf-8")
    f.seek(0)
    if is_unknown(DatasetCard(text).data.get("license")):
        raise SourceError(
            f"{out / CARD}: the dataset's license is unknown (a source's release is not known "
            "to arenatok); push publishes only a card that names its license",
            hint=f"check the sources' terms, then name the license: arenatok card {out} "
            "--license ID",
        )


def check_repo_id(repo_id: str) -> None:
    """A clear OptionError for a repo id the Hub would refuse (`name` or `owner/name`)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils._validators import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise OptionError(
            f"--repo-id {repo_id!r} is not a valid repo id ({first_line(e)})",
            hint="use owner/name, e.g. you/arena-token-usage",
        ) from e


def push(
    out: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    force: bool = False,
    api: Any = None,
) -> str:
    """Publish the files that `card` wrote in `out` (`card_files`, each checked as it is handed
    over) to the dataset repo `repo_id` (token from HF_TOKEN or the user's login), in one
    commit. Refuses a repo with content that arenatok did not write, unless `force`. Returns
    the repo's URL at the client's endpoint (HF_ENDPOINT)."""
    environment.check(*environment.HUB)  # before huggingface_hub reads them at its import
    from huggingface_hub import HfApi

    out = Path(out)
    check_repo_id(repo_id)
    with ExitStack() as files:
        additions = [handed_over(out, n, e, files) for n, e in card_files(out).items()]
        _check_license(out, additions[0])  # the card, as it is uploaded
        api = api or HfApi()
        _commit(api, repo_id, additions, private=private, force=force)
    return f"{api.endpoint}/datasets/{repo_id}"


def _commit(
    api: Any, repo_id: str, additions: list[CommitOperationAdd], *, private: bool, force: bool
) -> None:
    """Create `repo_id` or check that arenatok wrote it (unless `force`), then commit the
    files: the Hub's refusals and lost connections as HubError."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        HfUriError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    from arenatok._version import __version__

    step = f"the creation of {repo_id} (nothing was uploaded)"
    try:
        if api.repo_exists(repo_id, repo_type="dataset"):
            files = api.list_repo_files(repo_id, repo_type="dataset")
            theirs = [f for f in files if f != ".gitattributes"]
            ours = False
            if CARD in files:
                card = Path(api.hf_hub_download(repo_id, CARD, repo_type="dataset"))
                ours = is_arenatok_card(card.read_text(encoding="utf-8"))
            if theirs and not ours and not force:
                raise HubError(
                    f"{repo_id} already exists with content that arenatok did not write",
                    hint="choose another --repo-id, or pass --force to upload over it",
                )
        else:
            api.create_repo(repo_id, repo_type="dataset", private=private)
        step = f"the commit to {repo_id} (it may be done)"
        api.create_commit(
            repo_id=repo_id,
            repo_type="dataset",
            operations=additions,
            commit_message=f"Token-usage dataset made by arenatok {__version__}",
        )
    except HubError:
        raise
    except OfflineModeIsEnabled as e:
        raise HubError("HF_HUB_OFFLINE is set: cannot push", hint="unset it and retry") from e
    except RepositoryNotFoundError as e:
        raise HubError(
            f"not allowed to create or write {repo_id}",
            hint="log in (hf auth login) or set HF_TOKEN with write access",
        ) from e
    except (HfHubHTTPError, EntryNotFoundError) as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            raise HubError(
                f"not allowed to create or write {repo_id} (HTTP {status})",
                hint="log in (hf auth login) or set HF_TOKEN with write access",
            ) from e
        raise HubError(
            f"the Hub refused the upload to {repo_id} (HTTP {status})",
            hint="retry later; check the repo on the Hub",
        ) from e
    except HfUriError as e:  # the repo's or the commit's URL names a host not the endpoint's
        raise HubError(
            f"{api.endpoint} answered {step} with an address that the Hub client does not take "
            f"for one of its repos ({first_line(e)})",
            hint=f"set HF_ENDPOINT to the address that Hub gives its repos; check {repo_id} "
            "there, then retry",
        ) from e
    except OSError as e:
        raise HubError(
            f"cannot reach the Hugging Face Hub ({e.strerror or type(e).__name__})",
            hint="check the network and retry",
        ) from e
    except Exception as e:
        if unreachable(e):  # a connection failure of the HTTP client
            raise HubError(
                f"cannot reach the Hugging Face Hub ({type(e).__name__})",
                hint="check the network and retry",
            ) from e
        if type(e).__module__.startswith("huggingface_hub"):  # any other error of the client's
            raise HubError(
                f"the push to {repo_id} at {api.endpoint} failed ({type(e).__name__}: "
                f"{first_line(e)})",
                hint="check the repo on the Hub and HF_ENDPOINT, then retry",
            ) from e
        raise
