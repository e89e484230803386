from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline import tokens
from arenatok.pipeline.driver import build
from arenatok.pipeline.encodings import get_encoding
from arenatok.pipeline.tokens import TokenCounter, count
from tests.helpers import TINY, records, write_jsonl

OPENCL = "What is the difference between OpenCL and CUDA?"


def test_first_arena_prompt_is_ten_tokens() -> None:
    assert count(OPENCL) == 10
    assert count(OPENCL, encoding="o200k_base") == 10


def test_special_token_text_is_ordinary_text() -> None:
    # Prompts may contain special-token text; it is data, never a control token.
    enc = get_encoding("cl100k_base")
    assert count("<|endoftext|>") == len(enc.encode_ordinary("<|endoftext|>")) == 7
    assert len(enc.encode("<|endoftext|>", allowed_special="all")) == 1


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


def test_two_encodings_in_one_run_equal_two_runs(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    build(src, out=tmp_path / "cl", encoding="cl100k_base")
    build(src, out=tmp_path / "o2", encoding="o200k_base")
    both = build(src, out=tmp_path / "both", encoding=["cl100k_base", "o200k_base"])
    for one, two, pair in zip(
        records(tmp_path / "cl"), records(tmp_path / "o2"), records(tmp_path / "both"), strict=True
    ):
        assert pair["context"]["token_usage"] == one["context"]["token_usage"]
        assert pair["context"]["extra_token_usage"] == {"o200k_base": two["context"]["token_usage"]}
    assert "extra_token_usage" not in records(tmp_path / "cl")[0]["context"]
    assert [
        t["name"] for t in [both.metadata["tokenizer"], *both.metadata["extra_tokenizers"]]
    ] == ["cl100k_base", "o200k_base"]
    assert validate_dir(tmp_path / "both") == []


def test_tokenizer_json_counts(tmp_path: Path) -> None:

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    words = [
        w
        for r in TINY
        for m in r["conversation_a"] + r["conversation_b"]
        for w in m["content"].split()
    ]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(words, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[BOS]"]))
    tok.post_processor = None
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    result = build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "out", tokenizers=[path])
    name = f"hf-tokenizer-{sha[:12]}"
    assert result.metadata["extra_tokenizers"] == [
        {
            "name": name,
            "library": "tokenizers",
            "tokenizers_version": __import__("tokenizers").__version__,
            "file": str(path),
            "file_sha256": sha,
            "counting": "len(encode(text, add_special_tokens=False).ids)",
        }
    ]
    for row, rec in zip(TINY, records(tmp_path / "out"), strict=True):
        usage = rec["context"]["extra_token_usage"][name]
        # A word-level tokenizer splitting on whitespace: one token per word, computed here.
        users = [len(m["content"].split()) for m in row["conversation_a"][::2]]
        answers_b = [len(m["content"].split()) for m in row["conversation_b"][1::2]]
        assert [t["input_tokens"] for t in usage["turns"]] == users
        assert [t["response_b_tokens"] for t in usage["turns"]] == answers_b
