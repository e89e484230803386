"""The fast counter (--counter fast) counts exactly what tiktoken counts, and every build proves
it on a sample."""

from __future__ import annotations

import copy
import csv
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.pipeline.driver import build
from arenatok.pipeline.encodings import SPECIAL_TOKEN_TEXTS, get_encoding
from arenatok.pipeline.tokens import FastCounter, cross_checked
from tests.helpers import TINY, need_shared, write_jsonl, write_parquet

pytest.importorskip("bpe_openai", reason="the [fast] extra is not installed")

ENCODINGS = ("cl100k_base", "o200k_base")


def tiktoken_counts(texts: list[str], encoding: str) -> list[int]:
    encode = get_encoding(encoding).encode_ordinary
    return [len(encode(t)) for t in texts]


def shared_texts(arena_parquet: Path) -> list[str]:
    """Every message of the shared real data: the 2,008 arena battles and the 55k rows."""
    table = pq.read_table(arena_parquet, columns=["conversation_a", "conversation_b"])
    texts: list[str] = []
    for side in ("conversation_a", "conversation_b"):
        texts += pc.struct_field(pc.list_flatten(table.column(side)), "content").to_pylist()
    path = need_shared() / "data" / "khaaliswooden-max_llm-kaggle-comp" / "train_sample.csv"
    csv.field_size_limit(1 << 24)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for key in ("prompt", "response_a", "response_b"):
                texts += [t for t in json.loads(row[key]) if isinstance(t, str)]
    return texts


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_equal_to_tiktoken_on_every_real_text(arena_parquet: Path, encoding: str) -> None:
    texts = shared_texts(arena_parquet)
    assert len(texts) > 9000
    counter = FastCounter(encoding, cache_chars=0)
    assert counter.count_many(texts) == tiktoken_counts(texts, encoding)
    assert counter.mismatch is None


scripts = st.sampled_from(
    [
        "a",
        " ",
        "\n",
        "é",
        "e\u0301",
        "中文",
        "日本語",
        "한국어",
        "😀",
        "👩‍👩‍👧",
        "١٢٣",
        "ß",
        "\u200b",
        "'s",
    ]
)
texts = st.one_of(
    st.text(max_size=200),
    st.lists(scripts, max_size=60).map("".join),
    st.lists(st.sampled_from([*SPECIAL_TOKEN_TEXTS, " x", "<|", "|>"]), max_size=20).map("".join),
    st.tuples(st.sampled_from(["a", " ", "!", "1", "é", "\n"]), st.integers(1, 5000)).map(
        lambda p: p[0] * p[1]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=10), st.sampled_from(ENCODINGS))
def test_equal_to_tiktoken_on_generated_unicode(batch: list[str], encoding: str) -> None:
    assert FastCounter(encoding, cache_chars=0).count_many(batch) == tiktoken_counts(
        batch, encoding
    )


def test_a_long_run_of_one_character() -> None:
    text = "a" * 1_000_000
    assert FastCounter().count_many([text]) == tiktoken_counts([text], "cl100k_base")
    assert cross_checked(text)  # every text over 100,000 characters is recounted


def test_build_bytes_equal_but_for_the_counter(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 30)
    for counter in ("tiktoken", "fast"):
        build(src, out=tmp_path / counter, limit=None, counter=counter,
              encoding=list(ENCODINGS), chat_overhead="openai")  # fmt: skip
    for name in ("data_out.json", "data_out.jsonl", "mini_data_out.json", "preview_data_out.json"):
        assert (tmp_path / "fast" / name).read_bytes() == (
            tmp_path / "tiktoken" / name
        ).read_bytes()
    meta: dict[str, Any] = {
        c: json.loads((tmp_path / c / "artifact_metadata.json").read_text())
        for c in ("tiktoken", "fast")
    }
    for m in meta.values():
        for key in ("counter", "tokenizer", "extra_tokenizers", "files"):
            m.pop(key)
    assert meta["fast"] == meta["tiktoken"]


def test_every_build_reports_its_cross_check(tmp_path: Path) -> None:
    text = "x" * 100_001  # in the sample by its length
    rows = [dict(copy.deepcopy(TINY[0]), question_id=f"q{i}") for i in range(3)]
    rows[1]["conversation_a"][1]["content"] = text
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "o", counter="fast")
    meta = json.loads((tmp_path / "o" / "artifact_metadata.json").read_text())
    sample = [t for r in rows for m in r["conversation_a"] + r["conversation_b"][1::2]
              for t in [m["content"]] if cross_checked(t)]  # fmt: skip
    assert meta["counter"]["cross_check"]["texts"] == len(sample) >= 1
    assert meta["counter"]["cross_check"]["differences"] == 0
    assert meta["tokenizer"]["counter"].startswith("bpe-openai ")


class _OffByOne:
    """bpe-openai's tokenizer at the boundary, wrong on one text."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def count(self, text: str) -> int:
        return int(self.real.count(text)) + (text == "Leaves fall\nsoftly")


def test_a_difference_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bpe_openai import _bindings

    real = _bindings.tokenizer_for_encoding
    monkeypatch.setattr(_bindings, "tokenizer_for_encoding", lambda e: _OffByOne(real(e)))
    monkeypatch.setattr(
        "arenatok.pipeline.tokens.cross_checked", lambda t: True
    )  # check every text
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    result = CliRunner().invoke(
        cli, ["build", "--source", str(src), "--out", str(tmp_path / "o"), "--counter", "fast"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {src}: question_id 'q3', the answer of model A of turn 1: bpe-openai "
    )
    assert "counts 7 tokens (cl100k_base), tiktoken 6\n" in result.stderr
    assert not (tmp_path / "o" / "data_out.json").exists()


def test_without_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bpe_openai", None)
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    result = CliRunner().invoke(
        cli, ["build", "--source", str(src), "--out", str(tmp_path / "o"), "--counter", "fast"]
    )
    assert (result.exit_code, result.stderr) == (
        4,
        "Error: --counter fast needs bpe-openai, which is not installed\n"
        "Hint: pip install 'arenatok[fast]'\n",
    )
