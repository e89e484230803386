"""The other releases' layouts, several tokenizers, chat-format overhead and quality flags."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.errors import SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts import LAYOUTS
from arenatok.pipeline.layouts.arena_140k import IMAGE_PARTS, TEXT_PARTS
from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.tokens import count
from tests.helpers import (
    TINY,
    battle,
    kaggle_row,
    need_shared,
    write_csv,
    write_jsonl,
    write_parquet,
)


def records(out: Path) -> list[dict[str, Any]]:
    lines = (out / "data_out.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def metadata(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "artifact_metadata.json").read_text())
    return data


# ---- lmsys-arena-human-preference-55k (Kaggle) ----------------------------------------------


def test_kaggle_fixture_from_shared(tmp_path: Path) -> None:
    src = need_shared() / "data" / "R4yanW1ang_chatbot-arena" / "formatted_train.csv"
    assert open_local(src).layout == "kaggle-55k"
    with src.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    result = build(src, out=tmp_path / "out", limit=None)
    assert (result.stats.read, result.stats.written) == (10, 10)
    got = records(tmp_path / "out")
    for row, rec in zip(rows, got, strict=True):
        prompts = json.loads(row["prompt"])
        assert [t["user"] for t in rec["context"]["conversation"]] == prompts
        assert [t["response_a"] for t in rec["context"]["conversation"]] == json.loads(
            row["response_a"]
        )
        one_hot = [row["winner_model_a"], row["winner_model_b"], row["winner_tie"]]
        assert rec["context"]["winner"] == ["model_a", "model_b", "tie"][one_hot.index("1")]
        assert rec["context"]["api_metadata"]["question_id"] == row["id"]
    first = got[0]["context"]
    assert (
        got[0]["context"]["api_metadata"]["question_id"],
        first["model_a"],
        first["model_b"],
        first["winner"],
    ) == ("30192", "gpt-4-1106-preview", "gpt-4-0613", "model_a")
    assert validate_dir(tmp_path / "out") == []


def test_kaggle_null_reply(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "train.csv",
        [kaggle_row(0, ["Hey", None], winner=2), kaggle_row(1, ["Yo"], winner=1)],
    )
    strict = build(src, out=tmp_path / "strict", on_bad_row="reject")
    assert (strict.stats.written, strict.stats.rejected) == (1, 1)
    [reject] = [
        json.loads(x) for x in (tmp_path / "strict" / "rejects.jsonl").read_text().splitlines()
    ]
    assert reject["reason"] == (
        "response_b[1] is null (pass --allow-null-turns to count it as an empty reply)"
    )
    loose = build(src, out=tmp_path / "loose", allow_null_turns=True)
    first = records(tmp_path / "loose")[0]["context"]
    assert first["winner"] == "tie"
    assert first["conversation"][1]["response_b"] == ""
    assert first["token_usage"]["turns"][1]["response_b_tokens"] == 0
    assert first["quality_flags"] == ["empty_response_b", "null_turn", "multi_turn"]
    assert loose.metadata["quality_flags"]["null_turn"] == 1


def test_kaggle_vote_must_be_one_hot(tmp_path: Path) -> None:
    row = kaggle_row(0, ["Hey"]) | {"winner_model_b": 1}
    src = write_csv(tmp_path / "train.csv", [row])
    build(src, out=tmp_path / "out", on_bad_row="reject", allow_empty=True)
    reason = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())["reason"]
    assert reason == "winner_model_a / winner_model_b / winner_tie must be one-hot, got [1, 1, 0]"


# ---- lmsys/mt_bench_human_judgments ---------------------------------------------------------


def test_mt_bench_keeps_every_judgment(tmp_path: Path) -> None:
    two_turns = battle("x", [("Q1", "a1", "b1"), ("Q2", "a2", "b2")])
    rows = [
        {
            "question_id": 81,
            "model_a": "gpt-4",
            "model_b": "vicuna-13b-v1.2",
            "winner": winner,
            "judge": judge,
            "conversation_a": two_turns["conversation_a"],
            "conversation_b": two_turns["conversation_b"],
            "turn": turn,
        }
        for judge, turn, winner in [
            ("author_0", 1, "model_a"),
            ("author_3", 1, "tie"),
            ("gpt4_pair", 2, "tie (inconsistent)"),
        ]
    ]
    src = write_parquet(tmp_path / "human.parquet", rows)
    assert open_local(src).layout == "mt-bench"
    result = build(src, out=tmp_path / "out")
    got = records(tmp_path / "out")
    assert [
        (
            r["context"]["api_metadata"]["judge"],
            r["context"]["api_metadata"]["judged_turn"],
            r["context"]["winner"],
        )
        for r in got
    ] == [
        ("author_0", 1, "model_a"),
        ("author_3", 1, "tie"),
        ("gpt4_pair", 2, "tie"),  # its judge's two verdicts disagree: MT-bench counts a tie
    ]
    assert {r["context"]["api_metadata"]["question_id"] for r in got} == {"81"}
    assert list(result.metadata["winner_distribution"]) == ["model_a", "model_b", "tie"]
    assert result.metadata["winner_distribution"]["tie"]["count"] == 2
    assert validate_dir(tmp_path / "out") == []


# ---- lmarena-ai/arena-human-preference-100k and -140k -----------------------------------------


def test_arena_100k_keeps_its_token_counts_beside_ours(tmp_path: Path) -> None:
    rows = []
    for i, r in enumerate(TINY):
        row = {
            k: v for k, v in r.items() if k not in ("judge", "openai_moderation", "toxic_chat_tag")
        }
        n_in = sum(count(m["content"]) for m in r["conversation_a"][::2])
        n_a = sum(count(m["content"]) for m in r["conversation_a"][1::2])
        row |= {
            "judge_hash": f"hash{i}",
            "conv_metadata": {
                "sum_user_tokens": n_in,
                "sum_assistant_a_tokens": n_a + i % 2,
                "turns": 1,
                "header_count_a": {f"h{k}": 0 for k in range(1, 7)},
                "list_count_a": {"ordered": i % 2, "unordered": 0},
                "bold_count_b": 0,
            },
            "is_code": i == 0,
            "dedup_tag": {"high_freq": False, "sampled": True},
            "category_tag": {"math_v0.1": {"math": i == 1}, "if_v0.1": {"if": False, "score": 3}},
        }
        rows.append(row)
    src = write_parquet(tmp_path / "100k.parquet", rows)
    assert open_local(src).layout == "arena-100k"
    result = build(src, out=tmp_path / "out")
    got = records(tmp_path / "out")
    assert got[0]["context"]["api_metadata"]["judge"] == "hash0"
    assert got[1]["context"]["api_metadata"]["source_token_counts"] == {
        "sum_assistant_a_tokens": got[1]["context"]["token_usage"]["total_output_tokens_a"] + 1,
        "sum_user_tokens": got[1]["context"]["token_usage"]["total_input_tokens"],
    }
    agreement = result.metadata["source_token_agreement"]
    assert agreement["sum_user_tokens"]["agreement_rate"] == 1.0
    assert agreement["sum_assistant_a_tokens"] == {
        "ours": "total_output_tokens_a",
        "compared": 4,
        "equal": 2,
        "agreement_rate": 0.5,
        "mean_abs_difference": 0.5,
    }
    # Their markdown counts beside ours (TINY's answers have none: the odd rows disagree).
    api = got[1]["context"]["api_metadata"]
    assert api["source_style_counts"] == {"header_count_a": 0, "list_count_a": 1, "bold_count_b": 0}
    style = result.metadata["source_style_agreement"]
    assert style["list_count_a"] == {
        "ours": "style.total_a.list_count",
        "compared": 4,
        "equal": 2,
        "agreement_rate": 0.5,
        "mean_abs_difference": 0.5,
    }
    assert style["header_count_a"]["agreement_rate"] == 1.0
    # Their yes/no labels, flattened (the if score is not yes/no, so it is left out).
    assert api["categories"] == {
        "category_tag.if_v0.1.if": False,
        "category_tag.math_v0.1.math": True,
        "dedup_tag.high_freq": False,
        "dedup_tag.sampled": True,
        "is_code": False,
    }
    assert validate_dir(tmp_path / "out") == []


def part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "image": None, "mimeType": None}


IMAGE = {"type": "image", "text": None, "image": "https://example/cat.png", "mimeType": "image/png"}


def test_arena_140k_typed_parts_and_labels(tmp_path: Path) -> None:
    def side(answer: str) -> list[dict[str, Any]]:
        return [
            {"role": "user", "content": [part("Describe"), IMAGE, part("this cat")]},
            {"role": "assistant", "content": [part(answer)]},
        ]

    rows = [
        {
            "id": "a1b2",
            "model_a": "gemini-2.5-pro",
            "model_b": "o3-2025-04-16",
            "winner": "both_bad",
            "evaluation_session_id": "s1",
            "evaluation_order": 1,
            "conversation_a": side("A cat."),
            "conversation_b": side("A fluffy cat."),
            "full_conversation": [],
            "conv_metadata": {
                "sum_assistant_a_tokens": 3,
                "sum_assistant_b_tokens": 4,
                "context_a_tokens": 5,
                "context_b_tokens": 5,
            },
            "language": "en",
            "is_code": False,
            "timestamp": "2025-05-01T12:00:00Z",
        }
    ]
    src = tmp_path / "140k.jsonl"
    write_jsonl(src, rows)
    assert open_local(src).layout == "arena-140k"
    result = build(src, out=tmp_path / "out")
    [rec] = records(tmp_path / "out")
    c = rec["context"]
    assert rec["input"] == "Describe\nthis cat"
    assert c["winner"] == "tie (bothbad)"  # the release's both_bad, in the one vocabulary
    assert rec["output"] == "Winner: tie (bothbad)"
    assert c["api_metadata"]["timestamp"] == 1746100800.0
    assert c["api_metadata"]["language"] == "en"
    assert c["quality_flags"] == ["image_parts"]
    assert c["token_usage"]["total_input_tokens"] == count("Describe\nthis cat")
    assert result.metadata["image_parts_not_counted"] == 2
    assert result.metadata["winner_distribution"]["tie (bothbad)"]["count"] == 1
    assert validate_dir(tmp_path / "out") == []


def test_arena_140k_counts_every_text_part_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    answer = " ".join(["word"] * 80)

    def row(i: int, kind: str) -> dict[str, Any]:
        def side(text: str) -> list[dict[str, Any]]:
            reply = {**part(text), "type": kind}
            return [{"role": "user", "content": [part("Hi"), IMAGE]}, {"role": "assistant",
                    "content": [reply]}]  # fmt: skip

        return {"id": f"r{i}", "model_a": "m1", "model_b": "m2", "winner": "tie",
                "conversation_a": side(answer), "conversation_b": side("Short."),
                "evaluation_order": 1}  # fmt: skip

    known = [row(0, "text"), row(1, "input_text"), row(2, "output_text")]
    known += [{**row(3, "text"), "conversation_b": [  # every image type: counted, not read
        {"role": "user", "content": [part("Hi"), *({**IMAGE, "type": t} for t in IMAGE_PARTS)]},
        {"role": "assistant", "content": [part("Short.")]}]}]  # fmt: skip
    src = write_jsonl(tmp_path / "known.jsonl", known)
    result = build(src, out=tmp_path / "out")
    for rec in records(tmp_path / "out"):
        assert rec["context"]["token_usage"]["total_output_tokens_a"] == count(answer)
    assert result.metadata["image_parts_not_counted"] == 2 * 3 + 1 + len(IMAGE_PARTS)
    odd = write_jsonl(tmp_path / "odd.jsonl", [row(0, "text"), row(1, "Text")])
    with pytest.raises(SourceError) as e:
        build(odd, out=tmp_path / "odd")
    reason = (
        "conversation_a[1].content[0] has type 'Text', which arenatok does not know: neither "
        f"text ({', '.join(TEXT_PARTS)}) nor an image ({', '.join(IMAGE_PARTS)})"
    )
    assert e.value.message == f"{odd.resolve()}: row 2 (id 'r1'): {reason}"
    build(odd, out=tmp_path / "odd", on_bad_row="reject")
    [reject] = (tmp_path / "odd" / "rejects.jsonl").read_text().splitlines()
    assert json.loads(reject) == {
        "file": str(odd.resolve()), "row": 2, "question_id": "r1", "reason": reason}  # fmt: skip


def test_unknown_layout_lists_columns_and_formats(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "x.parquet", [{"prompt": "hi", "chosen": "a", "rejected": "b"}])
    with pytest.raises(SourceError) as e:
        build(src, out=tmp_path / "out")
    assert e.value.message == (
        f"{src}: no known layout has these columns: prompt, chosen, rejected"
    )
    assert e.value.hint == (
        f"known layouts: {', '.join(LAYOUTS)}; the docs' Layouts page gives each one's columns: "
        "rename yours to one's (or name it with --layout)"
    )


def test_format_can_be_named(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY)
    with pytest.raises(SourceError, match="missing columns for the kaggle-55k layout: id, "):
        build(src, out=tmp_path / "out", layout="kaggle-55k")
    assert build(src, out=tmp_path / "out", layout="arena").stats.written == len(TINY)


# ---- several tokenizers ----------------------------------------------------------------------


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
    import hashlib

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


# ---- chat-format overhead and quality flags ---------------------------------------------------


def test_chat_overhead_is_separate_and_hand_checked(tmp_path: Path) -> None:
    assert (count("user"), count("assistant")) == (1, 1)
    src = write_jsonl(tmp_path / "b.jsonl", TINY[:2])
    plain = build(src, out=tmp_path / "plain")
    build(src, out=tmp_path / "chat", chat_overhead="openai")
    one, two = records(tmp_path / "chat")
    # Request i sends i user and i-1 assistant messages, (3 + 1) each, and 3 prime the reply.
    assert one["context"]["token_usage"]["chat_overhead"] == {
        "scheme": "openai",
        "turns": [7],
        "full_state_chat_overhead_tokens": 7,
    }
    assert two["context"]["token_usage"]["chat_overhead"] == {
        "scheme": "openai",
        "turns": [7, 15],
        "full_state_chat_overhead_tokens": 22,
    }
    for with_chat, without in zip([one, two], records(tmp_path / "plain"), strict=True):
        del with_chat["context"]["token_usage"]["chat_overhead"]
        assert with_chat == without  # never mixed into the plain counts
    assert plain.metadata["options"]["chat_overhead"] is None


def test_quality_flags(tmp_path: Path) -> None:
    rows = [
        battle("same", [("Hi", "Hello", "Hello")], winner="model_a"),
        battle("empty", [(" ", "", "ok")]),
        battle("special", [("say <|endoftext|>", "<|endoftext|>", "no")]),
        battle("clean", [("Hi", "Hello", "Hey")]),
    ]
    result = build(write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out")
    assert [r["context"]["quality_flags"] for r in records(tmp_path / "out")] == [
        ["identical_responses"],
        ["empty_prompt", "empty_response_a"],
        ["special_token_text"],
        [],
    ]
    flags = result.metadata["quality_flags"]
    assert (flags["identical_responses"], flags["empty_prompt"], flags["multi_turn"]) == (1, 1, 0)
    assert set(flags) == set(result.metadata["quality_flag_definitions"])


def test_the_docs_list_every_quality_flag_and_layout() -> None:
    from arenatok.pipeline.records import QUALITY_FLAGS
    from tests.helpers import doc_text

    readme = doc_text("concepts/flags.md", "concepts/layouts.md").replace("\\|", "|")
    for flag, text in QUALITY_FLAGS.items():
        assert f"| `{flag}` | {text} |" in readme, flag
    for name in LAYOUTS:
        assert f"| `{name}` |" in readme, name


def test_mixed_parquet_types_for_other_layouts(tmp_path: Path) -> None:
    # A Parquet 55k file (as the Hub's parquet conversion writes it) reads like the CSV.
    table = pa.Table.from_pylist([kaggle_row(0, ["Yo"])])
    pq.write_table(table, tmp_path / "55k.parquet")
    result = build(tmp_path / "55k.parquet", out=tmp_path / "out")
    assert result.stats.written == 1
