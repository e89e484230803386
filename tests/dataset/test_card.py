from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from huggingface_hub import DatasetCard
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from arenatok.cli import cli
from arenatok.dataset.card import (
    CARD,
    CROISSANT,
    PARQUET,
    features_yaml,
    records_schema,
    write_card,
)
from arenatok.dataset.push import is_arenatok_card, push
from arenatok.errors import HubError, SourceError
from arenatok.pipeline.driver import build
from arenatok.runtime.derived import MANIFEST
from tests.fakehub import FakeApi
from tests.helpers import TINY, kaggle_row, write_csv, write_jsonl

CONFIGS = ("flat", "turns", "preference")
SHARD = "train-00000-of-00001.parquet"
TOKEN = "hf_SENTINELtokenDoNotLeak0123456789"


@pytest.fixture
def carded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    result = CliRunner().invoke(cli, ["card", str(out)])
    assert (result.exit_code, result.stdout) == (
        0,
        f"wrote {out / CARD}, {out / CROISSANT} and the configs default, flat, turns and "
        f"preference under {out / 'data'}\n",
    )
    return out


def test_datasets_loads_the_card_offline(carded: Path) -> None:
    import datasets

    data = datasets.load_dataset(str(carded), split="train")
    records = [json.loads(x) for x in (carded / "data_out.jsonl").read_text().splitlines()]
    assert data.num_rows == len(records)
    for row, rec in zip(data, records, strict=True):
        assert row["input"] == rec["input"]
        assert (
            row["context"]["token_usage"]["total_tokens"]
            == (rec["context"]["token_usage"]["total_tokens"])
        )
        assert row["context"]["quality_flags"] == rec["context"]["quality_flags"]


def test_card_metadata(carded: Path) -> None:
    card = DatasetCard.load(carded / CARD)
    data = card.data.to_dict()
    assert data["license"] == "cc-by-nc-4.0"  # lmsys/chatbot_arena_conversations
    assert data["language"] == ["en"]
    assert data["size_categories"] == ["n<1K"]
    assert data["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]},
        *(
            {"config_name": c, "data_files": [{"split": "train", "path": f"data/{c}/train-*"}]}
            for c in ("flat", "turns", "preference")
        ),
    ]
    assert data["dataset_info"][0]["config_name"] == "default"
    assert data["dataset_info"][0]["splits"][0]["num_examples"] == len(TINY)
    meta = json.loads((carded / "artifact_metadata.json").read_text())
    assert meta["source"]["sha256"] in card.text
    assert meta["tokenizer"]["bpe_sha256"] in card.text
    assert "`coordination_overhead`" in card.text
    assert "one timestamp per battle" in card.text
    assert is_arenatok_card(str(card))


@pytest.fixture
def two_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A build of an arena file (4 battles) and a 55k CSV (2), no card yet."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    csv = write_csv(tmp_path / "k.csv", [kaggle_row(0, ["Yo"]), kaggle_row(1, ["Hey", "Yes"])])
    out = tmp_path / "two"
    build([write_jsonl(tmp_path / "b.jsonl", TINY), f"kaggle-55k:{csv}"], out=out)
    return out


def test_a_card_names_every_source_and_its_license(two_sources: Path) -> None:
    card = DatasetCard.load(write_card(two_sources))
    data = card.data.to_dict()
    assert data["license"] == ["cc-by-nc-4.0", "apache-2.0"]
    assert data["source_datasets"] == [
        "lmsys/chatbot_arena_conversations",
        "lmsys/lmsys-arena-human-preference-55k",
    ]
    assert "battles from `lmsys/chatbot_arena_conversations` and `lmsys/lmsys-arena-" in card.text
    a, k = json.loads((two_sources / "artifact_metadata.json").read_text())["sources"]
    assert (
        f"| 0 | local file `b.jsonl` | `lmsys/chatbot_arena_conversations` | `{a['sha256']}` | "
        "`arena` | `cc-by-nc-4.0` | 4 |\n"
        f"| 1 | local file `k.csv` | `lmsys/lmsys-arena-human-preference-55k` | `{k['sha256']}` | "
        "`kaggle-55k` | `apache-2.0` | 2 |\n"
    ) in card.text
    assert (
        "- `cc-by-nc-4.0` (source 0): lmsys/chatbot_arena_conversations: its dataset card's "
        'metadata says "cc", and its text puts the user prompts under CC-BY-4.0 and the model '
        "outputs under CC-BY-NC-4.0; a dataset made from both keeps the stricter"
    ) in card.text
    assert "- `apache-2.0` (source 1): the license of lmsys/lmsys-arena-human-preference-55k" in (
        card.text
    )


def test_push_refuses_an_unknown_license_until_one_is_named(two_sources: Path) -> None:
    # A build whose second source has a layout this version does not know (a later one's).
    meta_path = two_sources / "artifact_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["sources"][1]["layout"] = "arena-200k"
    meta_path.write_text(json.dumps(meta))
    card = DatasetCard.load(write_card(two_sources))
    assert card.data.to_dict()["license"] == ["cc-by-nc-4.0", "unknown"]
    assert (
        "- `unknown` (source 1): the release of layout `arena-200k` is not known to arenatok: "
        "check the source's terms before you share it.\n\n"
        "A source's license is unknown: `arenatok push` refuses this card until you have "
        "checked the\nsource's terms and named the dataset's license"
    ) in card.text
    hub = FakeApi()
    with pytest.raises(SourceError) as e:
        push(two_sources, "me/x", api=hub)
    assert (e.value.message, e.value.hint) == (
        f"{two_sources / CARD}: the dataset's license is unknown (a source's release is not "
        "known to arenatok); push publishes only a card that names its license",
        f"check the sources' terms, then name the license: arenatok card {two_sources} "
        "--license ID",
    )
    assert hub.calls == []  # refused before touching the network
    bad = CliRunner().invoke(cli, ["card", str(two_sources), "--license", "CC BY"])
    assert (bad.exit_code, bad.stderr) == (
        2,
        "Error: --license 'CC BY' is not a license id\nHint: name the license as the Hub writes "
        "it (lowercase), e.g. cc-by-nc-4.0, apache-2.0, or other\n",
    )
    named = CliRunner().invoke(cli, ["card", str(two_sources), "--license", "cc-by-nc-4.0"])
    assert named.exit_code == 0
    card = DatasetCard.load(two_sources / CARD)
    assert card.data.to_dict()["license"] == "cc-by-nc-4.0"
    assert (
        "`cc-by-nc-4.0`, as named by whoever made this card (`arenatok card --license`).\n"
        "The terms of each source's release still apply to its records:\n\n"
        "- `cc-by-nc-4.0` (source 0): lmsys/chatbot_arena_conversations: its dataset card"
    ) in card.text
    push(two_sources, "me/x", api=hub)
    assert hub.uploaded[CARD] == (two_sources / CARD).read_bytes()


def test_features_match_what_datasets_derives(carded: Path) -> None:
    import datasets

    schema = records_schema(carded)
    ours = features_yaml(schema)
    theirs = datasets.Features.from_arrow_schema(schema)._to_yaml_list()
    assert ours == theirs


def test_a_foreign_card_is_not_ours() -> None:
    assert not is_arenatok_card("---\nlicense: mit\n---\n# Someone's data\n")
    assert not is_arenatok_card("no yaml at all")


def commit_of(hub: FakeApi) -> dict[str, Any]:
    [kwargs] = [k for name, k in hub.calls if name == "create_commit"]
    return kwargs


def test_push_new_repo(carded: Path) -> None:
    hub = FakeApi()
    assert push(carded, "me/arena-tokens", private=True, api=hub) == (
        "https://huggingface.co/datasets/me/arena-tokens"
    )
    assert (
        "create_repo",
        {"repo_id": "me/arena-tokens", "repo_type": "dataset", "private": True},
    ) in hub.calls
    commit = commit_of(hub)
    assert commit["repo_type"] == "dataset"
    assert commit["commit_message"].startswith("Token-usage dataset made by arenatok ")
    listed = json.loads((carded / MANIFEST).read_text())
    card = [CARD, CROISSANT, PARQUET, *(f"data/{c}/{SHARD}" for c in CONFIGS)]
    assert sorted(listed) == sorted(card)
    assert hub.uploaded == {name: (carded / name).read_bytes() for name in listed}


def test_push_over_our_own_card(carded: Path, tmp_path: Path) -> None:
    theirs = {CARD: (carded / CARD).read_text(), "data/x.parquet": "", ".gitattributes": ""}
    hub = FakeApi(theirs, tmp=tmp_path)
    push(carded, "me/arena-tokens", api=hub)
    assert commit_of(hub)["repo_id"] == "me/arena-tokens"
    assert not [c for c in hub.calls if c[0] == "create_repo"]


def test_push_refuses_foreign_content_unless_forced(carded: Path, tmp_path: Path) -> None:
    hub = FakeApi({CARD: "---\nlicense: mit\n---\n# theirs\n", "train.csv": ""}, tmp=tmp_path)
    with pytest.raises(HubError) as e:
        push(carded, "them/data", api=hub)
    assert e.value.message == "them/data already exists with content that arenatok did not write"
    assert e.value.hint == "choose another --repo-id, or pass --force to upload over it"
    assert not [c for c in hub.calls if c[0] == "create_commit"]
    push(carded, "them/data", force=True, api=hub)
    assert commit_of(hub)["repo_id"] == "them/data"


def _response(status: int) -> Any:
    import httpx2

    return httpx2.Response(status, request=httpx2.Request("HEAD", "https://huggingface.co/x"))


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OfflineModeIsEnabled("offline"), "HF_HUB_OFFLINE is set: cannot push"),
        (
            HfHubHTTPError("401", response=_response(401)),
            "not allowed to create or write me/arena-tokens (HTTP 401)",
        ),
        (
            HfHubHTTPError("500", response=_response(500)),
            "the Hub refused the upload to me/arena-tokens (HTTP 500)",
        ),
        (ConnectionError("network down"), "cannot reach the Hugging Face Hub (ConnectionError)"),
    ],
)
def test_push_errors(
    carded: Path, error: Exception, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(HubError) as e:
        push(carded, "me/arena-tokens", api=FakeApi(error=error))
    assert e.value.message == message
    assert TOKEN not in str(e.value.message) + str(e.value.hint)


def test_push_passes_on_what_is_not_a_hub_error(
    carded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the Hub's refusals and lost connections become HubError: a bug stays itself."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(ZeroDivisionError):
        push(carded, "me/arena-tokens", api=FakeApi(error=ZeroDivisionError("a bug")))


def test_push_needs_a_card(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["push", str(tmp_path), "--repo-id", "me/x"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path}: no dataset card here\nHint: run arenatok card {tmp_path} first\n",
    )


@pytest.mark.parametrize("repo_id", ["bad repo id!!", "a/b/c", "you/", "/x", "x" * 200])
def test_push_refuses_a_bad_repo_id_in_one_line(carded: Path, repo_id: str) -> None:
    hub = FakeApi()
    result = CliRunner().invoke(cli, ["push", str(carded), "--repo-id", repo_id])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: --repo-id {repo_id!r} is not a valid repo id (")
    assert result.stderr.endswith("Hint: use owner/name, e.g. you/arena-token-usage\n")
    assert "Traceback" not in result.output
    assert hub.calls == []


def test_a_rebuild_removes_the_old_card_and_push_refuses_a_stale_one(
    carded: Path, tmp_path: Path
) -> None:
    card = (carded / CARD).read_bytes()
    parquet = (carded / PARQUET).read_bytes()
    other = write_jsonl(tmp_path / "other.jsonl", TINY[:2])
    build(other, out=carded)
    assert not (carded / CARD).exists()
    assert not (carded / "data").exists()  # an empty data/ is not left behind
    # A stale card copied back (or written by hand) is caught by validate and push.
    (carded / "data").mkdir()
    (carded / CARD).write_bytes(card)
    (carded / PARQUET).write_bytes(parquet)
    from arenatok.dataset.validate import validate_dir

    assert validate_dir(carded) == [
        f"data/train-00000-of-00001.parquet: was made from another build (or names none): run "
        f"arenatok card {carded} again",
        f"README.md: was made from another build (or names none): run arenatok card {carded} again",
    ]
    hub = FakeApi()
    result = CliRunner().invoke(cli, ["push", str(carded), "--repo-id", "me/x"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {carded}: the card is stale: README.md was made from another build (or not "
        "by arenatok)\n"
        f"Hint: run arenatok card {carded} again\n",
    )
    with pytest.raises(Exception, match="stale"):
        push(carded, "me/x", api=hub)
    assert hub.calls == []  # refused before touching the network
    assert CliRunner().invoke(cli, ["card", str(carded)]).exit_code == 0
    assert validate_dir(carded) == []


def test_a_user_readme_survives_a_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    (out / CARD).write_text("# my notes\n")
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=out)
    assert (out / CARD).read_text() == "# my notes\n"


def test_card_in_an_unwritable_directory(carded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import deny

    deny(monkeypatch, carded)
    result = CliRunner().invoke(cli, ["card", str(carded)])
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert "permission denied" in result.stderr
    assert "Traceback" not in result.output
    carded.chmod(0o755)


def test_push_refuses_a_file_in_a_configs_folder_that_card_did_not_write(carded: Path) -> None:
    extra = carded / "data" / "flat" / "train-00001-of-00002.parquet"
    extra.write_bytes((carded / "data" / "flat" / SHARD).read_bytes())
    hub = FakeApi()
    with pytest.raises(SourceError) as e:
        push(carded, "me/x", api=hub)
    assert e.value.message == (
        f"{extra}: is a file that arenatok card did not write; push uploads only card's files"
    )
    assert hub.calls == []
