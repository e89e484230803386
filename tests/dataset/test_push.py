"""`push` against the real Hub client: what the Hub answers that the client cannot take is one
HubError with a hint (exit 1), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.dataset.card import write_card
from arenatok.dataset.push import push
from arenatok.errors import HubError
from arenatok.pipeline.driver import build
from tests.fakehub import FakeApi, serve
from tests.helpers import TINY, write_jsonl


@pytest.fixture
def carded(tmp_path: Path) -> Path:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    write_card(out)
    return out


@pytest.mark.parametrize(
    ("exists", "step"),
    [
        (False, "the creation of me/arena (nothing was uploaded)"),
        (True, "the commit to me/arena (it may be done)"),
    ],
)
def test_an_address_on_another_host_in_the_hubs_answer_is_one_error(
    carded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exists: bool, step: str
) -> None:
    """An endpoint (HF_ENDPOINT) whose answers name the repo, or the commit, at another host
    (a proxy, a mirror): huggingface_hub raises HfUriError reading that URL."""
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with serve({}) as hub:
        endpoint, hub.url = hub.url, "https://elsewhere.example"  # what its answers name
        api = HfApi(endpoint=endpoint, token="hf_fake")
        if exists:  # empty: the fake Hub lists no files
            hub.repos.add("me/arena")
            monkeypatch.setattr(api, "list_repo_files", lambda *a, **k: [])
        with pytest.raises(HubError) as e:
            push(carded, "me/arena", api=api)
    assert e.value.message.startswith(
        f"{endpoint} answered {step} with an address that the Hub client does not take for "
        "one of its repos (Invalid HF URI 'https://elsewhere.example/datasets/me/arena"
    )
    assert e.value.hint == (
        "set HF_ENDPOINT to the address that Hub gives its repos; check me/arena there, then retry"
    )
    assert e.value.exit_code == 1
    assert len(hub.commits) == exists


def test_any_other_error_of_the_hub_client_is_one_error(carded: Path) -> None:
    from huggingface_hub.errors import DDUFError

    with pytest.raises(HubError) as e:
        push(carded, "me/arena", api=FakeApi(error=DDUFError("an error of the client's")))
    assert e.value.message == (
        "the push to me/arena at https://huggingface.co failed (DDUFError: an error of the "
        "client's)"
    )
    assert e.value.hint == "check the repo on the Hub and HF_ENDPOINT, then retry"
