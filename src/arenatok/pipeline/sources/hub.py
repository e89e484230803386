"""The pinned Hub file: downloaded with huggingface_hub (its cache, token and offline mode),
checked against its sha256, with one clear error for each way it can fail."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from arenatok.errors import HashMismatchError, HubError, first_line
from arenatok.runtime import environment
from arenatok.runtime.atomic import sha256_file


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub dataset, pinned by revision and sha256."""

    repo_id: str
    filename: str
    revision: str
    sha256: str


ARENA_33K = HubFile(
    repo_id="lmsys/chatbot_arena_conversations",
    filename="data/train-00000-of-00001-cced8514c7ed782a.parquet",
    revision="1b6335d42a1d2c7e34870c905d03ab964f7f2bd8",
    sha256="3726a6352e9bfc34e206460646f6e5e99bb837751966a671ddd30c7f64e5b06e",
)
"""The default source: the 33,000 battles of lmsys/chatbot_arena_conversations."""

LOCAL = "or build from a local copy: arenatok build --source FILE"


def fetch_hub_file(
    hub: HubFile = ARENA_33K,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Download `hub` with huggingface_hub (its cache, HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE
    apply) and check its sha256. A pinned revision already in the cache needs no network."""
    environment.check(*environment.HUB)  # before huggingface_hub reads them at its import
    from huggingface_hub import try_to_load_from_cache

    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    try:
        cached = try_to_load_from_cache(
            hub.repo_id, hub.filename, cache_dir, hub.revision, repo_type="dataset"
        )
        if isinstance(cached, str):
            return _checked(Path(cached), hub, LOCAL)
        path = _download(hub, endpoint, cache_dir)
    except HubError:
        raise
    except Exception as e:
        error = _hub_error(e, hub)
        if error is None:
            raise
        raise error from e
    return _checked(path, hub, LOCAL)


def _hints(hub: HubFile) -> tuple[str, str]:
    """What to do without access to the gated dataset, and what to do offline."""
    page = f"https://huggingface.co/datasets/{hub.repo_id}"
    access = (
        f"the dataset is gated: accept its terms at {page}, log in (hf auth login) or set HF_TOKEN"
    )
    return (
        f"{access}; {LOCAL}",
        f"{access}, and connect once to fill the cache (it is reused offline); {LOCAL}",
    )


def _download(hub: HubFile, endpoint: str | None, cache_dir: str | Path | None) -> Path:
    """The file from the Hub into the cache; offline is said at once (a HubError)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    repo, name, rev = hub.repo_id, hub.filename, hub.revision
    if not constants.is_offline_mode():
        # One HEAD without retries first, so that "offline" is said at once; the download
        # itself then retries transient errors as huggingface_hub does.
        url = hf_hub_url(repo, name, repo_type="dataset", revision=rev, endpoint=endpoint)
        try:
            get_hf_file_metadata(url, endpoint=endpoint)
        except HfHubHTTPError:
            raise
        except Exception as e:
            if not unreachable(e):
                raise
            raise HubError(
                f"cannot reach the Hugging Face Hub ({first_line(e)}), and {hub.repo_id} "
                "is not in the local cache",
                hint=_hints(hub)[1],
            ) from e
    return Path(
        hf_hub_download(
            repo, name, repo_type="dataset", revision=rev, endpoint=endpoint, cache_dir=cache_dir
        )
    )


def _hub_error(e: Exception, hub: HubFile) -> HubError | None:
    """What an error of huggingface_hub's means, with what to do (None: not the Hub's)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    denied, offline = _hints(hub)
    repo = hub.repo_id
    if isinstance(e, GatedRepoError):
        return HubError(f"{repo} is gated and this account has not accepted its terms", hint=denied)
    if isinstance(e, RepositoryNotFoundError):
        return HubError(f"{repo} was not found, or needs a login to be seen", hint=denied)
    if isinstance(e, RevisionNotFoundError):
        return HubError(f"{repo} has no revision {hub.revision}", hint=LOCAL)
    if isinstance(e, RemoteEntryNotFoundError):
        return HubError(f"{repo}@{hub.revision} has no file {hub.filename}", hint=LOCAL)
    if isinstance(e, LocalEntryNotFoundError):
        # huggingface_hub wraps the failed metadata call; its cause tells offline from refused.
        cause = e.__cause__
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            status = cause.response.status_code
            return HubError(f"the Hub refused the download of {repo} (HTTP {status})", hint=denied)
        if constants.is_offline_mode():
            return HubError(
                f"HF_HUB_OFFLINE is set and {repo} is not in the local cache",
                hint=f"unset HF_HUB_OFFLINE; {offline}",
            )
        return HubError(
            f"cannot reach the Hugging Face Hub, and {repo} is not in the local cache",
            hint=offline,
        )
    if isinstance(e, HfHubHTTPError):
        status = e.response.status_code if e.response is not None else "no response"
        return HubError(f"the Hub refused the download of {repo} (HTTP {status})", hint=denied)
    if isinstance(e, OSError):
        return HubError(f"cannot download {repo}: {e.strerror or e}", hint=LOCAL)
    return None


def unreachable(e: BaseException) -> bool:
    """Whether an exception of huggingface_hub's calls means the Hub could not be reached: an
    OSError (offline mode, DNS, refused connections) or an error of its HTTP client's own."""
    return isinstance(e, OSError) or type(e).__module__.split(".")[0] in HTTP_CLIENTS


HTTP_CLIENTS = ("httpx", "httpx2", "httpcore", "requests", "urllib3")
"""The HTTP libraries under huggingface_hub (by version), whose errors mean no connection."""


def _checked(path: Path, hub: HubFile, local: str) -> Path:
    digest = sha256_file(path)
    if digest != hub.sha256:
        raise HashMismatchError(
            f"{hub.repo_id}/{hub.filename} has sha256 {digest}, expected {hub.sha256}",
            hint=f"delete the cached copy ({path}) and run again; {local}",
        )
    return path
