"""The per-batch step: the same bytes from every kind of batch, counts in the right places."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa

from arenatok.readers import JsonLines
from arenatok.steps import StepOptions, records_of, run_batch
from arenatok.tokens import count
from tests.helpers import TINY, battle

OPTIONS = StepOptions(dataset="tiny")


def test_arrow_json_lines_and_rows_give_the_same_bytes() -> None:
    counters = OPTIONS.make_counters()
    arrow = run_batch(
        pa.RecordBatch.from_pylist(TINY), first_row=1, options=OPTIONS, counters=counters
    )
    lines = JsonLines(1, [json.dumps(r).encode() + b"\n" for r in TINY])
    jsonl = run_batch(lines, first_row=1, options=OPTIONS, counters=counters)
    rows = run_batch(list(TINY), first_row=1, options=OPTIONS, counters=counters)
    assert arrow.block == jsonl.block == rows.block
    assert (arrow.records, arrow.rows, len(arrow.first_records)) == (4, 4, 3)


def test_rejects_carry_their_source_row() -> None:
    rows = [TINY[0], {"question_id": "x"}, TINY[1], "junk"]
    r = run_batch(rows, first_row=11, options=OPTIONS, counters=OPTIONS.make_counters())
    assert [(x.row, x.question_id) for x in r.rejects] == [(12, "x"), (14, None)]
    assert (r.stats.read, r.stats.written, r.stats.rejected) == (4, 2, 2)


def test_every_counter_counts_every_turn() -> None:
    from arenatok.check import battle_from_row

    turns = [("What is 2+2?", "4", "Four."), ("And 3+3?", "6", "Six, of course.")]
    b = battle_from_row(battle("q", turns))
    options = StepOptions(dataset="d", counters=("cl100k_base", "o200k_base"))
    [record] = records_of([b], options.make_counters(), options=options)
    usage = record["context"]["token_usage"]
    # By hand: What| is| |2|+|2|? (7) and And| |3|+|3|? (6); Four|. (2), Six|,| of| course|. (5)
    assert [t["input_tokens"] for t in usage["turns"]] == [7, 6]
    assert [t["response_b_tokens"] for t in usage["turns"]] == [2, 5]
    extra = record["context"]["extra_token_usage"]["o200k_base"]  # type: ignore[typeddict-item]
    assert [t["response_a_tokens"] for t in extra["turns"]] == [1, 1]  # "4", "6"
    # A text o200k_base splits differently from cl100k_base: Le|aves| fall|\n|soft|ly (6)
    # against 5 pieces.
    assert count("Leaves fall\nsoftly") == 6
    assert count("Leaves fall\nsoftly", encoding="o200k_base") == 5


def test_line_breaks_inside_any_string_are_escaped() -> None:
    row = battle("q\u2028id", [("a\u2029b", "c\x85d", "e")], model_a="m\u2028a")
    options = StepOptions(dataset="set\u2028name")
    r = run_batch([row], first_row=1, options=options, counters=options.make_counters())
    assert r.block.decode().splitlines() == [r.block.decode()]
    assert orjson.loads(r.block)["context"]["model_a"] == "m\u2028a"


def test_the_step_runs_without_the_cycle_collector_and_restores_it() -> None:
    """A batch makes thousands of dicts: with the collector on, Python would run it dozens of
    times (it would run every 700 new objects); the step pauses it and leaves it as it found it
    (on or off)."""
    import gc

    rows = [{**TINY[i % len(TINY)], "question_id": f"q{i}"} for i in range(2_000)]
    counters = OPTIONS.make_counters()
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        before = gc.get_stats()[0]["collections"]
        try:
            r = run_batch(rows, first_row=1, options=OPTIONS, counters=counters)
            # at most the one that the switch back on sets off, none when it stays off
            assert gc.get_stats()[0]["collections"] - before <= int(enabled)
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        assert r.records == 2_000
