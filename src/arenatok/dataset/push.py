"""`arenatok push`: the card and data/ of a built directory (made by `arenatok card`) to a
dataset repo on the Hugging Face Hub, refusing a repo that arenatok did not write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arenatok.dataset.built import build_id, checked_lines, read_metadata
from arenatok.errors import HubError, OptionError, SourceError, first_line
from arenatok.pipeline.sources.hub import unreachable
from arenatok.runtime import environment
from arenatok.runtime.derived import CARD, PARQUET, card_build, made_from, read_manifest, unchanged


def is_arenatok_card(text: str) -> bool:
    """Whether a README.md is a card that arenatok wrote (its YAML names arenatok and a
    build)."""
    return card_build(text) is not None


def stale_card(out: Path) -> str | None:
    """Why the card or its Parquet file in `out` does not describe the current build, or None
    when both name it and are as arenatok wrote them. The build itself is read through every
    check of `dataset.check` (a BuildError at its first problem)."""
    meta = read_metadata(out)
    for _ in checked_lines(out, meta):
        pass
    build, listed = build_id(meta), read_manifest(out)
    for name in (CARD, PARQUET):
        if made_from(out / name) != build:
            return f"{name} was made from another build (or not by arenatok)"
        if not unchanged(out, name, listed):
            return f"{name} is not as arenatok wrote it (changed, or not in its list)"
    return None


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
    """Publish the card and data/ of `out` to the dataset repo `repo_id` (token from HF_TOKEN
    or the user's login). Refuses a repo with content that arenatok did not write, unless
    `force`. Returns the repo's URL."""
    environment.check(*environment.HUB)  # before huggingface_hub reads them at its import
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    from arenatok._version import __version__

    out = Path(out)
    check_repo_id(repo_id)
    if not (out / CARD).is_file() or not (out / PARQUET).is_file():
        raise SourceError(f"{out}: no dataset card here", hint=f"run arenatok card {out} first")
    why = stale_card(out)
    if why:
        raise SourceError(f"{out}: the card is stale: {why}", hint=f"run arenatok card {out} again")
    api = api or HfApi()
    url = f"https://huggingface.co/datasets/{repo_id}"
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
        api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(out),
            allow_patterns=[CARD, "data/*.parquet"],
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
        raise
    return url
