from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.errors import EncodingNotFoundError, HashMismatchError
from arenatok.pipeline import tokens
from arenatok.pipeline.encodings import ENCODINGS, bpe_bytes, get_encoding
from arenatok.pipeline.tokens import TokenCounter, count

OPENCL = "What is the difference between OpenCL and CUDA?"


def test_first_arena_prompt_is_ten_tokens() -> None:
    assert count(OPENCL) == 10
    assert count(OPENCL, encoding="o200k_base") == 10


def test_special_token_text_is_ordinary_text() -> None:
    # Prompts may contain special-token text; it is data, never a control token.
    enc = get_encoding("cl100k_base")
    assert count("<|endoftext|>") == len(enc.encode_ordinary("<|endoftext|>")) == 7
    assert len(enc.encode("<|endoftext|>", allowed_special="all")) == 1


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


texts = st.lists(st.text(max_size=40) | st.sampled_from(["hi", "Hello!", OPENCL, ""]), max_size=60)


@settings(max_examples=60, deadline=None)
@given(texts, st.integers(min_value=0, max_value=80), st.integers(min_value=1, max_value=3))
def test_counter_equals_plain_counting(batch: list[str], cache_chars: int, threads: int) -> None:
    enc = get_encoding("cl100k_base")
    expected = [len(enc.encode_ordinary(t)) for t in batch]
    with TokenCounter(cache_chars=cache_chars, threads=threads) as counter:
        assert counter.count_many(batch) == expected
        assert counter.count_many(batch) == expected  # again, served partly from the cache
        assert counter.hits + counter.misses == 2 * len(batch)


def test_counter_counts_each_distinct_text_once() -> None:
    with TokenCounter() as counter:
        assert counter.count_many(["hi", "hi", OPENCL, "hi"]) == [1, 1, 10, 1]
        assert (counter.hits, counter.misses) == (2, 2)
        counter.count_many([OPENCL])
        assert (counter.hits, counter.misses) == (3, 2)


def test_counter_thread_pool_matches_plain_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_PARALLEL_MIN_CHARS", 0)
    batch = [f"message number {i} " * (i % 7) for i in range(500)]
    with TokenCounter(threads=2) as counter:
        got = counter.count_many(batch)
        assert counter._pool is not None
    assert got == [count(t) for t in batch]
