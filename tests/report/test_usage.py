"""The report's token numbers (`report.usage`) by value, on four battles whose every figure is
worked out by hand below (key order included: the report's bytes depend on it)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from arenatok.dataset.built import Battles
from arenatok.report import usage
from arenatok.sections import as_json


def four_battles() -> Battles:
    """x beats y, y loses to x, x ties y, z and x both bad; battle 2 has two turns."""
    return Battles(
        model_a=["x", "y", "x", "z"],
        model_b=["y", "x", "y", "x"],
        winner=["model_a", "model_b", "tie", "tie (bothbad)"],
        language=["English", None, "English", "German"],
        turns=[1, 2, 1, 1],
        turn_input_tokens=[[10], [4, 6], [1], [0]],
        turn_a_tokens=[[100], [20, 30], [5], [0]],
        turn_b_tokens=[[50], [40, 60], [7], [3]],
        input_tokens=[10, 10, 1, 0],
        output_a=[100, 50, 5, 0],
        output_b=[50, 100, 7, 3],
        total=[160, 160, 13, 3],
        overhead=[50 / 160, 50 / 160, 2 / 13, 1.0],
        # context of turn 2 of battle 2: 4 + 20 + 6 = 30 (A), 4 + 40 + 6 = 50 (B)
        full_state_a=[10, 34, 1, 0],
        full_state_b=[10, 54, 1, 0],
        moderation_flagged=[True, None, False, True],
        toxic_flagged=[False, False, None, True],
        quality_flags=[[], ["multi_turn"], ["empty_prompt"], ["empty_prompt"]],
    )


def rounded(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 9)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def same(got: Any, expected: Any) -> None:
    """Equal to 9 decimals, keys in the same order."""
    assert json.dumps(rounded(got)) == json.dumps(rounded(expected))


def test_quantiles_by_hand() -> None:
    # positions (n - 1) * p over 1, 2, 3, 4, 10: 0.2 -> 1.2, 1 -> 2, 2 -> 3, 3 -> 4, 3.8 -> 8.8
    same(
        usage.quantiles([10, 1, 3, 2, 4]),
        {"n": 5, "mean": 4.0, "min": 1.0, "p5": 1.2, "p25": 2.0, "median": 3.0, "p75": 4.0,
         "p95": 8.8, "max": 10.0},
    )  # fmt: skip
    assert usage.quantiles([]) == {}
    same(
        usage.quantiles([7]),
        {"n": 1, "mean": 7.0, "min": 7.0, "p5": 7.0, "p25": 7.0, "median": 7.0, "p75": 7.0,
         "p95": 7.0, "max": 7.0},
    )  # fmt: skip


def bins(**nonzero: int) -> dict[str, int]:
    edges = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
    keys = [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(edges)] + [">= 8192"]
    named = {k: 0 for k in keys}
    for k, v in nonzero.items():
        named[k.replace("_", " ")] = v
    return named


def test_histogram_bins_by_hand() -> None:
    got = usage.histogram([0, 1, 3, 4095, 4096, 8191, 8192, 10**6])
    same(got, bins(**{"[0,_1)": 1, "[1,_2)": 1, "[2,_4)": 1, "[2048,_4096)": 1,
                      "[4096,_8192)": 2, ">=_8192": 2}))  # fmt: skip
    same(usage.histogram([]), bins())


def test_counts_section_by_hand() -> None:
    same(
        as_json(usage.counts_section(four_battles())),
        {
            "battles": 4,
            "models": 3,
            "model_pairs": {"ordered": 3, "unordered": 2},
            "pair_counts": [
                {"model_a": "x", "model_b": "y", "battles": 2},
                {"model_a": "y", "model_b": "x", "battles": 1},
                {"model_a": "z", "model_b": "x", "battles": 1},
            ],
            "winner_distribution": {
                "model_a": {"count": 1, "share": 0.25},
                "model_b": {"count": 1, "share": 0.25},
                "tie": {"count": 1, "share": 0.25},
                "tie (bothbad)": {"count": 1, "share": 0.25},
            },
            "per_model": {
                "x": {"battles": 4, "tie": 1, "tie (bothbad)": 1, "wins": 2},
                "y": {"battles": 3, "losses": 2, "tie": 1},
                "z": {"battles": 1, "tie (bothbad)": 1},
            },
            "turns_per_battle": {"1": 3, "2": 1},
            "languages_top20": {"English": 2, "(none)": 1, "German": 1},
            "flagged": {
                "openai_moderation": 0.5,
                "toxic_chat": 0.25,
                "quality:empty_prompt": 0.5,
                "quality:multi_turn": 0.25,
            },
        },
    )


def test_languages_keep_the_twenty_most_common() -> None:
    b = Battles(
        model_a=["x"] * 23, model_b=["y"] * 23, winner=["tie"] * 23, turns=[1] * 23,
        language=[f"l{i:02}" for i in range(21)] + ["l05", "l07"],
        moderation_flagged=[None] * 23, toxic_flagged=[None] * 23, quality_flags=[[]] * 23,
    )  # fmt: skip
    top = as_json(usage.counts_section(b))["languages_top20"]
    assert list(top.items())[:2] == [("l05", 2), ("l07", 2)]
    assert len(top) == 20
    assert "l20" not in top  # the last of the ones seen once


def test_tokens_section_by_hand() -> None:
    c = four_battles()
    assert usage.prompt_tokens(c) == [10, 4, 6, 1, 0]
    responses = usage.response_tokens(c)
    same(responses, {"x": [100, 5, 40, 60, 3], "y": [20, 30, 50, 7], "z": [0]})
    got = as_json(usage.tokens_section(c))
    same(got["prompt_tokens_per_message"], usage.quantiles([10, 4, 6, 1, 0]))
    assert got["prompt_tokens_per_message"]["median"] == 4.0
    every = [100, 5, 40, 60, 3, 20, 30, 50, 7, 0]
    same(got["response_tokens_per_message"], usage.quantiles(every))
    assert got["response_tokens_per_message"]["mean"] == 31.5
    same(
        got["response_tokens_by_model"],
        {m: usage.quantiles(v) for m, v in [("x", responses["x"]), ("y", responses["y"]),
                                             ("z", [0])]},
    )  # fmt: skip
    assert got["response_tokens_by_model"]["y"]["max"] == 50.0
    same(
        got["histograms"],
        {
            "prompt_tokens_per_message": bins(**{"[0,_1)": 1, "[1,_2)": 1, "[4,_8)": 2,
                                                 "[8,_16)": 1}),
            "response_tokens_per_message": bins(**{"[0,_1)": 1, "[2,_4)": 1, "[4,_8)": 2,
                                                   "[16,_32)": 2, "[32,_64)": 3, "[64,_128)": 1}),
            "response_tokens_by_model": {
                "x": bins(**{"[2,_4)": 1, "[4,_8)": 1, "[32,_64)": 2, "[64,_128)": 1}),
                "y": bins(**{"[4,_8)": 1, "[16,_32)": 2, "[32,_64)": 1}),
                "z": bins(**{"[0,_1)": 1}),
            },
        },
    )  # fmt: skip
    same(got["total_tokens_per_battle"], usage.quantiles([160, 160, 13, 3]))
    assert got["total_tokens_per_battle"]["mean"] == 84.0
    assert got["coordination_overhead"]["max"] == 1.0
    assert got["coordination_overhead"]["min"] == 2 / 13
    # turns 1: battles 1, 3, 4: plain inputs 10, 1, 0; full state (A + B) / 2: 10, 1, 0.
    # turns 2: battle 2: plain 10, full state (34 + 54) / 2 = 44.
    same(
        got["full_state_vs_plain_input_by_turns"],
        {
            "1": {"battles": 3, "mean_plain_input": 11 / 3, "mean_full_state_input": 11 / 3,
                  "full_state_over_plain": 1.0},
            "2": {"battles": 1, "mean_plain_input": 10.0, "mean_full_state_input": 44.0,
                  "full_state_over_plain": 4.4},
        },
    )  # fmt: skip


def test_full_state_ratio_without_input_is_none() -> None:
    c = Battles(turns=[1], input_tokens=[0], full_state_a=[0], full_state_b=[0], total=[3],
                overhead=[1.0], turn_input_tokens=[[0]], turn_a_tokens=[[0]],
                turn_b_tokens=[[3]], model_a=["z"], model_b=["x"])  # fmt: skip
    row = as_json(usage.tokens_section(c))["full_state_vs_plain_input_by_turns"]["1"]
    assert row == {"battles": 1, "mean_plain_input": 0.0, "mean_full_state_input": 0.0,
                   "full_state_over_plain": None}  # fmt: skip


def test_sources_section_by_hand() -> None:
    meta = {
        "sources": [
            {"path": "a.parquet", "layout": "arena", "counts": {"rows_written": 5}},
            {"repo_id": "org/b", "layout": "arena_100k", "counts": {"rows_written": 7}},
        ],
        "duplicates": {
            "by_source_pair": [
                {"first_in": 0, "later_in": 0, "later_copies": 1},
                {"first_in": 0, "later_in": 1, "later_copies": 2},
                {"first_in": 1, "later_in": 1, "later_copies": 3},
            ],
            "later_copies": {"same_id": 0, "same_battle": 6},
            "votes_differ": 1,
            "votes_differ_list": [{"key": "exact"}],
        },
    }
    got = as_json(usage.sources_section(meta))
    same(
        got["sources"],
        [
            {"source": 0, "name": "a.parquet", "layout": "arena", "battles": 5,
             "later_copies_within": 1, "later_copies_of_other_sources": 0},
            {"source": 1, "name": "org/b", "layout": "arena_100k", "battles": 7,
             "later_copies_within": 3, "later_copies_of_other_sources": 2},
        ],
    )  # fmt: skip
    assert got["overlap_matrix"] == [[1, 2], [0, 3]]
    assert got["later_copies"] == {"same_id": 0, "same_battle": 6}
    assert got["votes_differ"] == 1
    assert got["votes_differ_list"] == [{"key": "exact"}]
    # One source, from the metadata of a single-source build: no copies found.
    none = {"by_source_pair": [], "later_copies": {"same_id": 0, "same_battle": 0},
            "votes_differ": 0, "votes_differ_list": []}  # fmt: skip
    single = {"path": "s.jsonl", "layout": "arena", "counts": {"rows_written": 4}}
    one = as_json(usage.sources_section({"sources": [single], "duplicates": none}))
    assert one["sources"] == [
        {"source": 0, "name": "s.jsonl", "layout": "arena", "battles": 4,
         "later_copies_within": 0, "later_copies_of_other_sources": 0}
    ]  # fmt: skip
    assert (one["overlap_matrix"], one["votes_differ"], one["votes_differ_list"]) == ([[0]], 0, [])
    assert got["overlap_matrix_rule"] == (
        "row i, column j: battles first seen in source i whose later copies are in source j"
    )
    # two entries for one pair of sources add up
    pairs = [{"first_in": 0, "later_in": 0, "later_copies": 2},
             {"first_in": 0, "later_in": 0, "later_copies": 3}]  # fmt: skip
    twice = {"sources": [single], "duplicates": {**none, "by_source_pair": pairs}}
    assert as_json(usage.sources_section(twice))["overlap_matrix"] == [[5]]


def test_spec_comparison_by_hand() -> None:
    rows = as_json(usage.spec_comparison(four_battles(), {"source": {"kind": "huggingface_hub"}}))
    assert [r["ours"] for r in rows] == [
        "25.0 / 25.0 / 50.0",
        "3 ordered, 2 unordered",
        "1.25 (5 turns)",
        "84.0",
    ]
    assert [r["report"] for r in rows] == ["40 / 37.7 / 22.3", "48", "2.7 (804 turns)", "630.7"]
    assert [(r["figure"], r["why"]) for r in rows] == [
        ("winner shares, % (model_a / model_b / ties)", "ties here add every kind of tie label"),
        ("unique model pairs",
         "the report does not say whether (A, B) and (B, A) are one pair"),
        ("mean turns per battle",
         "ours counts user turns; 2.68 (804 / 300) looks like a count of the messages of one "
         "side (a user message and an answer per turn), not of turns"),
        ("mean tokens per battle",
         "the report adds response A to the input (battle 0: 725 = 181 + 171 + 373 against our "
         "554 = 10 + 171 + 373)"),
    ]  # fmt: skip
    local = as_json(
        usage.spec_comparison(four_battles(), {"source": {"kind": "local", "path": "f.x"}})
    )
    note = " (our source is not the Hub file: f.x, so the rows differ too)"
    assert [r["why"] for r in local] == [r["why"] + note for r in rows]
    # metadata without a source: not the Hub's file either
    unknown = as_json(usage.spec_comparison(four_battles(), {}))
    assert unknown[0]["why"].endswith("not the Hub file: None, so the rows differ too)")
    # only the first 300 battles count
    many = Battles(model_a=["x"] * 310, model_b=["y"] * 310, winner=["tie"] * 310,
                   turns=[1] * 300 + [9] * 10, total=[1] * 310)  # fmt: skip
    assert as_json(usage.spec_comparison(many, {}))[2]["ours"] == "1.00 (300 turns)"


def test_length_bias_by_hand() -> None:
    # (tokens_a, tokens_b, winner): the longer wins; the shorter wins; the longer wins by 5;
    # equal lengths (left out); a tie 900 apart.
    votes = [(100, 50, "model_a"), (50, 100, "model_a"), (20, 25, "model_b"), (7, 7, "model_a"),
             (0, 900, "tie")]  # fmt: skip
    c = Battles(output_a=[a for a, _, _ in votes], output_b=[b for _, b, _ in votes],
                winner=[w for _, _, w in votes])  # fmt: skip

    def row(span: str, battles: int = 0, decisive: int = 0, rate: float | None = None) -> Any:
        return {"token_difference": span, "battles": battles, "decisive": decisive,
                "ties": battles - decisive, "longer_won_rate": rate}  # fmt: skip

    same(
        as_json(usage.length_bias(c)),
        [row("[0, 10)", 1, 1, 1.0), row("[10, 50)"), row("[50, 100)", 2, 2, 0.5),
         row("[100, 200)"), row("[200, 400)"), row("[400, 800)"), row(">= 800", 1, 0)],
    )  # fmt: skip


def test_per_model_counts_every_tie() -> None:
    c = Battles(model_a=["x", "x", "y"], model_b=["y", "y", "x"], winner=["tie"] * 3,
                language=[None] * 3, turns=[1] * 3, moderation_flagged=[None] * 3,
                toxic_flagged=[None] * 3, quality_flags=[[]] * 3)  # fmt: skip
    per_model = as_json(usage.counts_section(c))["per_model"]
    assert per_model == {"x": {"battles": 3, "tie": 3}, "y": {"battles": 3, "tie": 3}}
