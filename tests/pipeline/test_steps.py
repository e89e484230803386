"""The per-batch step: the same bytes from every kind of batch, counts in the right places."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa

from arenatok.pipeline.sources.filetypes.base import JsonLines
from arenatok.pipeline.steps import (
    SourceStamp,
    StepOptions,
    parse_batch,
    records_of,
    run_batch,
    texts_of,
)
from arenatok.pipeline.tokens import count, cross_checked
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
    from arenatok.pipeline.layouts.arena.rows import battle_from_row

    turns = [("What is 2+2?", "4", "Four."), ("And 3+3?", "6", "Six, of course.")]
    b = battle_from_row(battle("q", turns))
    options = StepOptions(dataset="d", tokenizers=("cl100k_base", "o200k_base"))
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


def test_parse_batch_numbers_rows_and_keeps_null_turns_where_allowed() -> None:
    null = battle("q9")
    null["conversation_b"][1]["content"] = None
    batch = pa.RecordBatch.from_pylist([TINY[0], null, TINY[1]])
    battles, rejects, rows = parse_batch(batch, first_row=21, options=OPTIONS)
    assert ([b.question_id for b in battles], rows) == (["q0", "q1"], [21, 23])
    assert [(r.row, r.question_id) for r in rejects] == [(22, "q9")]
    allow = StepOptions(dataset="tiny", allow_null_turns=True)
    battles, rejects, rows = parse_batch(batch, first_row=21, options=allow)
    assert (len(battles), rejects, rows) == (3, [], [21, 22, 23])


def test_a_reject_of_another_layout_is_named_by_its_own_id() -> None:
    from tests.helpers import kaggle_row

    options = StepOptions(dataset="d", sources=(SourceStamp(layout="kaggle-55k"),))
    rows = [kaggle_row(0, ["Hey"]), dict(kaggle_row(1, ["Yo"]), model_b="gpt-4-0613")]
    battles, rejects, _ = parse_batch(rows, first_row=3, options=options)
    assert [b.question_id for b in battles] == ["1000"]
    # a reject shows an id that is not a string with its type, as the source holds it
    assert [(r.row, r.question_id) for r in rejects] == [(4, "int 1001")]


def test_ids_that_are_not_battle_ids_give_no_same_id_keys() -> None:
    two = battle("x", [("Q1", "a1", "b1"), ("Q2", "a2", "b2")])
    rows = [
        {k: two[k] for k in ("model_a", "model_b", "conversation_a", "conversation_b")}
        | {"question_id": 81, "winner": "tie", "judge": judge, "turn": 1}
        for judge in ("author_0", "author_3")
    ]
    options = StepOptions(dataset="d", sources=(SourceStamp(layout="mt-bench"),))
    r = run_batch(rows, first_row=1, options=options, counters=options.make_counters())
    assert r.records == 2
    assert r.keys.same_id is None
    arena = run_batch(list(TINY), first_row=1, options=OPTIONS, counters=OPTIONS.make_counters())
    assert arena.keys.same_id is not None


def test_a_result_counts_its_own_batch() -> None:
    """Cache hits and misses of this batch only (the counter keeps them over many batches),
    and where the batch starts."""
    counters = OPTIONS.make_counters()
    first = run_batch(list(TINY) * 2, first_row=1, options=OPTIONS, counters=counters)
    again = run_batch(list(TINY), first_row=9, options=OPTIONS, counters=counters)
    texts = len(texts_of(parse_batch(list(TINY), first_row=1, options=OPTIONS)[0]))
    assert first.cache_hits >= texts  # the second copy of each battle
    assert (again.cache_hits, again.cache_misses) == (texts, 0)
    assert (first.first_row, again.first_row) == (1, 9)


def test_the_fast_counters_cross_check_is_counted_per_text() -> None:
    long = "word " * 20_001  # over 100,000 characters: always recounted
    rows = [battle("q1", [(long, "a", "b")]), battle("q2", [("Hi", long + "!", "c")]), *TINY]
    options = StepOptions(dataset="d", counter="fast")
    r = run_batch(rows, first_row=1, options=options, counters=options.make_counters(threads=1))
    every = texts_of(parse_batch(rows, first_row=1, options=options)[0])
    assert r.stats.cross_checked == sum(map(cross_checked, every)) >= 2


def test_the_counter_kind_is_the_options() -> None:
    from arenatok.pipeline.tokens import FastCounter

    fast = StepOptions(dataset="d", counter="fast").make_counters(threads=1)
    assert [type(c) for c in fast] == [FastCounter]
    assert not isinstance(OPTIONS.make_counters()[0], FastCounter)
