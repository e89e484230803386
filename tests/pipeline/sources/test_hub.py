"""The Hub path, run through the real huggingface_hub code against a local fake Hub server."""

from __future__ import annotations

import dataclasses
import json
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import constants

from arenatok.cli import cli
from arenatok.errors import HashMismatchError, HubError
from arenatok.pipeline.driver import build
from arenatok.pipeline.sources.hub import ARENA_33K, fetch_hub_file
from arenatok.runtime.atomic import sha256_file
from tests.fakehub import serve
from tests.helpers import TINY, write_parquet

KEY = f"{ARENA_33K.repo_id}/{ARENA_33K.revision}/{ARENA_33K.filename}"
TOKEN = "hf_SENTINELtokenDoNotLeak0123456789"


@pytest.fixture
def hub_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small arena Parquet standing in for the Hub file; an empty HF cache; a sentinel token."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return write_parquet(tmp_path / "hub.parquet", TINY * 2)


def pinned(path: Path) -> object:
    return dataclasses.replace(ARENA_33K, sha256=sha256_file(path))


def test_download_uses_pinned_revision_token_and_cache(hub_file: Path, tmp_path: Path) -> None:
    hub = pinned(hub_file)
    with serve({KEY: hub_file}) as fake:
        got = fetch_hub_file(hub, endpoint=fake.url)  # type: ignore[arg-type]
    assert got.read_bytes() == hub_file.read_bytes()
    assert str(got).startswith(str(tmp_path / "hf-cache"))
    assert (
        "GET",
        f"/datasets/{ARENA_33K.repo_id}/resolve/{ARENA_33K.revision}/{ARENA_33K.filename}",
        f"Bearer {TOKEN}",
    ) in fake.requests
    # The server is gone: the pinned revision is served from the cache, with no network.
    again = fetch_hub_file(hub, endpoint=fake.url)  # type: ignore[arg-type]
    assert again == got


def test_build_from_hub(hub_file: Path, tmp_path: Path) -> None:
    with serve({KEY: hub_file}) as fake:
        result = build(out=tmp_path / "out", hub=pinned(hub_file), endpoint=fake.url)  # type: ignore[arg-type]
    assert result.stats.written == 2 * len(TINY)
    meta = json.loads((tmp_path / "out" / "artifact_metadata.json").read_text())
    assert meta["source"] == {
        "kind": "huggingface_hub",
        "repo_id": "lmsys/chatbot_arena_conversations",
        "revision": "1b6335d42a1d2c7e34870c905d03ab964f7f2bd8",
        "filename": "data/train-00000-of-00001-cced8514c7ed782a.parquet",
        "sha256": sha256_file(hub_file),
        "bytes": hub_file.stat().st_size,
        "layout": "arena",
        "layout_of": "lmsys/chatbot_arena_conversations",
    }
    data = json.loads((tmp_path / "out" / "data_out.json").read_text())
    assert {e["dataset"] for e in data["examples"]} == {"lmsys/chatbot_arena_conversations"}
    every_output = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    assert TOKEN not in every_output


def test_hash_mismatch(hub_file: Path) -> None:
    with serve({KEY: hub_file}) as fake, pytest.raises(HashMismatchError) as e:
        fetch_hub_file(ARENA_33K, endpoint=fake.url)
    assert e.value.message == (
        f"{ARENA_33K.repo_id}/{ARENA_33K.filename} has sha256 {sha256_file(hub_file)}, "
        f"expected {ARENA_33K.sha256}"
    )


def _cli_error(monkeypatch: pytest.MonkeyPatch, endpoint: str, tmp_path: Path) -> str:
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    result = CliRunner().invoke(cli, ["build", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert TOKEN not in result.output
    assert not (tmp_path / "out").exists()
    return result.output


LOCAL = "or build from a local copy: arenatok build --source FILE"
PAGE = "https://huggingface.co/datasets/lmsys/chatbot_arena_conversations"
ACCESS = f"the dataset is gated: accept its terms at {PAGE}, log in (hf auth login) or set HF_TOKEN"


def test_cli_offline(hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # HF_HUB_OFFLINE=1 as huggingface_hub reads it (at import), with an empty cache.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with serve({KEY: hub_file}) as fake:
        out = _cli_error(monkeypatch, fake.url, tmp_path)
    assert fake.requests == []
    assert out == (
        "Error: HF_HUB_OFFLINE is set and lmsys/chatbot_arena_conversations is not in the "
        "local cache\n"
        f"Hint: unset HF_HUB_OFFLINE; {ACCESS}, and connect once to fill the cache (it is reused "
        f"offline); {LOCAL}\n"
    )


def test_offline_with_cache_needs_no_network(
    hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = pinned(hub_file)
    with serve({KEY: hub_file}) as fake:
        first = fetch_hub_file(hub, endpoint=fake.url)  # type: ignore[arg-type]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert fetch_hub_file(hub) == first  # type: ignore[arg-type]


def test_cli_gated(hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve({}) as fake:
        fake.error = (403, "GatedRepo")
        out = _cli_error(monkeypatch, fake.url, tmp_path)
    assert out == (
        "Error: lmsys/chatbot_arena_conversations is gated and this account has not accepted "
        "its terms\n"
        f"Hint: {ACCESS}; {LOCAL}\n"
    )


def test_cli_not_found(hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve({}) as fake:
        fake.error = (401, "RepoNotFound")
        out = _cli_error(monkeypatch, fake.url, tmp_path)
    assert out.startswith(
        "Error: lmsys/chatbot_arena_conversations was not found, or needs a login to be seen\n"
    )


def test_cli_missing_file_on_hub(
    hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve({}) as fake:
        out = _cli_error(monkeypatch, fake.url, tmp_path)
    assert out == (
        f"Error: {ARENA_33K.repo_id}@{ARENA_33K.revision} has no file {ARENA_33K.filename}\n"
        f"Hint: {LOCAL}\n"
    )


def test_hub_server_error(hub_file: Path, tmp_path: Path) -> None:
    with serve({}) as fake:
        fake.error = (400, "BadRequest")
        with pytest.raises(HubError) as e:
            fetch_hub_file(ARENA_33K, endpoint=fake.url)
    assert e.value.message == (
        "the Hub refused the download of lmsys/chatbot_arena_conversations (HTTP 400)"
    )


def test_cli_cannot_reach(hub_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve({}) as fake:
        closed = fake.url  # nothing listens here once the block ends
    assert _cli_error(monkeypatch, closed, tmp_path) == (
        "Error: cannot reach the Hugging Face Hub ([Errno 111] Connection refused), and "
        "lmsys/chatbot_arena_conversations is not in the local cache\n"
        f"Hint: {ACCESS}, and connect once to fill the cache (it is reused offline); {LOCAL}\n"
    )


def test_token_never_in_logs_or_tracebacks(
    hub_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)  # everything huggingface_hub and arenatok log
    for error in [(403, "GatedRepo"), (401, "RepoNotFound"), None]:
        with serve({KEY: hub_file}) as fake:
            fake.error = error
            monkeypatch.setenv("HF_ENDPOINT", fake.url)
            for args in (["build"], ["--debug", "build"]):
                result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
                trace = traceback.format_exception(result.exception) if result.exception else []
                assert TOKEN not in result.output + "".join(trace)
        # The token was really sent (to the fake Hub), so its absence elsewhere means something.
        assert any(auth == f"Bearer {TOKEN}" for _, _, auth in fake.requests)
    assert TOKEN not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file() and "hf-cache" not in path.parts:
            assert TOKEN.encode() not in path.read_bytes(), path
