"""`pipeline.layouts.arena_100k`: lmarena-ai/arena-human-preference-100k, its own token and
markdown counts kept beside ours, its yes/no labels flattened."""

from __future__ import annotations

from pathlib import Path

from arenatok.dataset.validate import validate_dir
from arenatok.pipeline.driver import build
from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.tokens import count
from tests.helpers import (
    TINY,
    records,
    write_parquet,
)


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
