"""Duplicate battles within and across sources: planted copies of every kind are found, a near
miss is not, nothing is lost, and the order of sources only decides which copy is first."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.dataset.validate import validate_dir
from arenatok.errors import DuplicateError
from arenatok.pipeline.dedup import DEFINITIONS, Index
from arenatok.pipeline.driver import build
from arenatok.pipeline.keys import batch_keys
from arenatok.sections import as_json
from tests.helpers import battle, need_shared, write_jsonl

TURNS = [("What is 2+2?", "It is 4.", "Four, of course.")]


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "data_out.jsonl").read_text().splitlines()]


def swapped(row: dict[str, Any], qid: str) -> dict[str, Any]:
    """The same battle with A and B swapped and the vote mirrored."""
    mirror = {"model_a": "model_b", "model_b": "model_a"}
    return {
        **copy.deepcopy(row),
        "question_id": qid,
        "model_a": row["model_b"],
        "model_b": row["model_a"],
        "conversation_a": copy.deepcopy(row["conversation_b"]),
        "conversation_b": copy.deepcopy(row["conversation_a"]),
        "winner": mirror.get(row["winner"], row["winner"]),
    }


def kaggle_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Arena rows written in the 55k layout."""
    out = []
    for r in rows:
        users = [m["content"] for m in r["conversation_a"][::2]]
        out.append(
            {
                "id": r["question_id"],
                "model_a": r["model_a"],
                "model_b": r["model_b"],
                "prompt": json.dumps(users),
                "response_a": json.dumps([m["content"] for m in r["conversation_a"][1::2]]),
                "response_b": json.dumps([m["content"] for m in r["conversation_b"][1::2]]),
                "winner_model_a": int(r["winner"] == "model_a"),
                "winner_model_b": int(r["winner"] == "model_b"),
                "winner_tie": int(r["winner"] not in ("model_a", "model_b")),
            }
        )
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    return path


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """Source A (JSON Lines, arena layout) with copies planted inside it, and source B (the
    55k layout, CSV) that repeats one of A's battles."""
    first = battle("q1", TURNS, winner="model_a")
    other = battle("q2", [("Hi", "Hello!", "Hey.")], model_a="koala-13b", model_b="alpaca-13b")
    spaced = battle("q4", [("What  is 2+2?", "It is\u00a04.", " Four, of course.\n")], winner="tie")
    near = battle("q5", [("What is 2+2?", "It is 4!", "Four, of course.")])  # one character
    same_id = battle("q2", [("Something else", "x", "y")], model_a="m1", model_b="m2")
    rows = [
        first,
        other,
        swapped(first, "q3"),  # row 3: same battle, sides swapped, vote mirrored
        spaced,  # row 4: same battle but for whitespace (a no-break space too); voted a tie
        near,  # row 5: NOT a duplicate
        same_id,  # row 6: the id q2 again
        dict(swapped(first, "q7"), winner="model_a"),  # row 7: swapped, vote not mirrored
    ]
    a = write_jsonl(tmp_path / "a.jsonl", rows)
    b = kaggle_csv(tmp_path / "b.csv", [dict(copy.deepcopy(other), question_id="k1")])
    return a, b


def test_flag_marks_every_planted_kind(planted: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = planted
    result = build([str(a), f"kaggle-55k:{b}"], out=tmp_path / "o", limit=None)
    got = {}
    for r in records(tmp_path / "o"):
        where = r["context"]["api_metadata"]["source"]
        got[where["index"], where["row"]] = r["context"].get("duplicate_of")
    assert got == {
        (0, 1): None,
        (0, 2): None,
        (0, 3): {"source": 0, "row": 1, "kind": "same_battle", "key": "exact"},
        (0, 4): {"source": 0, "row": 1, "kind": "same_battle", "key": "normalized"},
        (0, 5): None,  # the near miss
        (0, 6): {"source": 0, "row": 2, "kind": "same_id", "key": "id"},
        (0, 7): {"source": 0, "row": 1, "kind": "same_battle", "key": "exact"},
        (1, 1): {"source": 0, "row": 2, "kind": "same_battle", "key": "exact"},
    }
    dup = result.metadata["duplicates"]
    assert dup["later_copies"] == {"same_id": 1, "same_battle": 4}
    assert dup["by_key"] == {"exact": 3, "normalized": 1}
    assert dup["by_source_pair"] == [
        {"first_in": 0, "later_in": 0, "later_copies": 4},
        {"first_in": 0, "later_in": 1, "later_copies": 1},
    ]
    # Row 7 swapped the sides without mirroring the vote; row 4 is a tie against model_a.
    assert dup["votes_differ"] == 2
    assert {(d["later"]["row"], d["first"]["winner"], d["later"]["winner"])
            for d in dup["votes_differ_list"]} == {
        (7, "vicuna-13b", "koala-13b"),
        (4, "vicuna-13b", "tie"),
    }  # fmt: skip
    flags = [r["context"]["quality_flags"] for r in records(tmp_path / "o")]
    assert (
        sum("duplicate" in f for f in flags) == 5 == result.metadata["quality_flags"]["duplicate"]
    )
    assert validate_dir(tmp_path / "o") == []


def test_drop_writes_later_copies_apart(planted: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = planted
    result = build([a, f"kaggle-55k:{b}"], out=tmp_path / "o", limit=None, duplicates="drop")
    s = result.stats
    assert (s.read, s.written, s.rejected, s.dropped) == (8, 3, 0, 5)
    assert s.read == s.written + s.rejected + s.dropped
    kept = records(tmp_path / "o")
    assert [r["context"]["api_metadata"]["question_id"] for r in kept] == ["q1", "q2", "q5"]
    assert all("duplicate" not in r["context"]["quality_flags"] for r in kept)
    dropped = [
        json.loads(x) for x in (tmp_path / "o" / "duplicates.jsonl").read_text().splitlines()
    ]
    assert dropped[-1] == {
        "file": str(b.resolve()),
        "row": 1,
        "question_id": "k1",
        "kind": "same_battle",
        "key": "exact",
        "duplicate_of": {"file": str(a.resolve()), "source": 0, "row": 2, "kind": "same_battle",
                         "key": "exact"},
    }  # fmt: skip
    meta = result.metadata
    assert meta["counts"]["rows_dropped"] == 5
    assert [x["counts"]["rows_dropped"] for x in meta["sources"]] == [4, 1]
    assert validate_dir(tmp_path / "o") == []


def test_error_stops_at_the_first_copy(planted: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = planted
    with pytest.raises(DuplicateError) as e:
        build(a, out=tmp_path / "o", limit=None, duplicates="error")
    assert e.value.message == (
        f"{a.resolve()}: row 3 (question_id 'q3') is a later copy (same_battle, key exact) of "
        f"{a.resolve()} row 1"
    )
    assert e.value.exit_code == 2
    assert not (tmp_path / "o" / "data_out.json").exists()


def test_same_bytes_whatever_the_workers(planted: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = planted
    for workers, batch in ((1, 1024), (2, 2), (1, 3)):
        build([a, f"kaggle-55k:{b}"], out=tmp_path / f"w{workers}-{batch}", limit=None,
              workers=workers, batch_size=batch)  # fmt: skip
    names = ("data_out.jsonl", "artifact_metadata.json")
    one = [(tmp_path / "w1-1024" / n).read_bytes() for n in names]
    assert one == [(tmp_path / "w2-2" / n).read_bytes() for n in names]
    assert one == [(tmp_path / "w1-3" / n).read_bytes() for n in names]


def test_ids_stay_unique_across_sources(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [battle("q1")])
    b = kaggle_csv(tmp_path / "b.csv", [battle("q1", [("Other", "x", "y")])])
    c = write_jsonl(tmp_path / "c.jsonl", [battle("q1", [("Third", "x", "y")])])
    build([a, f"kaggle-55k:{b}", c], out=tmp_path / "o")
    recs = records(tmp_path / "o")
    ids = [r["context"]["api_metadata"]["question_id"] for r in recs]
    # Another release's id q1 is another battle: namespaced. The same release's q1 again is a
    # same_id copy of the first: it keeps its id and is flagged.
    assert ids == ["q1", "s1:q1", "q1"]
    assert recs[2]["context"]["duplicate_of"]["kind"] == "same_id"


def ids_of(out: Path) -> list[str]:
    return [r["context"]["api_metadata"]["question_id"] for r in records(out)]


def test_a_new_id_never_takes_one_in_use(tmp_path: Path) -> None:
    # The first source holds 7 and s1:7; the second (another release) 7 again, which becomes
    # s1:7: so the first source's s1:7, having the shape of a new id, is namespaced itself.
    a = write_jsonl(tmp_path / "a.jsonl", [battle("7"), battle("s1:7", [("Other", "x", "y")])])
    b = kaggle_csv(tmp_path / "b.csv", [battle("7", [("Third", "x", "y")])])
    build([a, f"kaggle-55k:{b}"], out=tmp_path / "o")
    assert ids_of(tmp_path / "o") == ["7", "s0:s1:7", "s1:7"]
    assert validate_dir(tmp_path / "o") == []
    build(a, out=tmp_path / "one")  # one source: no id is new, none is namespaced
    assert ids_of(tmp_path / "one") == ["7", "s1:7"]


def test_a_same_id_copy_takes_its_first_copys_id(tmp_path: Path) -> None:
    # 7 is the 55k battle's; the arena's 7 becomes s1:7, and so does every later copy of it
    # (in its own source or another of its release), never the 55k battle's 7.
    a = kaggle_csv(tmp_path / "a.csv", [battle("7")])
    arena = battle("7", [("Other", "x", "y")])
    b = write_jsonl(tmp_path / "b.jsonl", [arena, arena])
    c = write_jsonl(tmp_path / "c.jsonl", [battle("7", [("Third", "x", "y")])])
    build([f"kaggle-55k:{a}", b, c], out=tmp_path / "o")
    recs = records(tmp_path / "o")
    assert ids_of(tmp_path / "o") == ["7", "s1:7", "s1:7", "s1:7"]
    first = {"source": 1, "row": 1, "kind": "same_id", "key": "id"}
    assert [r["context"].get("duplicate_of") for r in recs[2:]] == [first, first]
    assert validate_dir(tmp_path / "o") == []


def test_keys_see_whitespace_and_sides_but_not_content() -> None:
    b = battle("x", TURNS)
    from arenatok.pipeline.layouts.arena.rows import battle_from_row

    k = batch_keys([battle_from_row(b), battle_from_row(swapped(b, "y"))], "r")
    assert k.exact[0] == k.exact[1]
    assert k.normalized[0] == k.normalized[1]
    assert k.same_id[0] != k.same_id[1]


battles_st = st.lists(st.integers(0, 5), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(battles_st, battles_st)
def test_drop_never_loses_a_row_and_order_only_picks_the_first(
    tmp_path_factory: pytest.TempPathFactory, a_ids: list[int], b_ids: list[int]
) -> None:
    tmp = tmp_path_factory.mktemp("order")

    def rows(ids: list[int], prefix: str) -> list[dict[str, Any]]:
        return [
            battle(f"{prefix}{n}", [(f"prompt {i}", f"answer {i}", "other")])
            for n, i in enumerate(ids)
        ]

    a = write_jsonl(tmp / "a.jsonl", rows(a_ids, "a"))
    b = write_jsonl(tmp / "b.jsonl", rows(b_ids, "b"))
    distinct = len(set(a_ids) | set(b_ids))
    kept = {}
    for order in ((a, b), (b, a)):
        result = build(list(order), out=tmp / "o", limit=None, duplicates="drop")
        s = result.stats
        assert s.read == len(a_ids) + len(b_ids) == s.written + s.rejected + s.dropped
        assert s.written == distinct
        texts = [r["input"] for r in records(tmp / "o")]
        assert len(set(texts)) == len(texts)
        kept[order[0].name] = set(texts)
    assert kept["a.jsonl"] == kept["b.jsonl"]


def test_index_memory_is_digests_only() -> None:
    index = Index()
    from arenatok.pipeline.layouts.arena.rows import battle_from_row

    k = batch_keys([battle_from_row(battle("x", [("long " * 10_000, "a", "b")]))], "r")
    assert index.see_batch(k, 0, [1]) == [None]
    assert index.table.size == 3  # three 8-byte digests, whatever the texts' length
    assert index.table.keys.dtype.itemsize == index.table.values.dtype.itemsize == 8


def test_two_real_sources(arena_parquet: Path, tmp_path: Path) -> None:
    kaggle = need_shared() / "data" / "khaaliswooden-max_llm-kaggle-comp" / "train_sample.csv"
    out = tmp_path / "two"
    result = CliRunner().invoke(
        cli,
        ["build", "--source", str(arena_parquet), "--source", f"kaggle-55k:{kaggle}",
         "--limit", "all", "--allow-null-turns", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "artifact_metadata.json").read_text())
    assert [x["counts"]["rows_read"] for x in meta["sources"]] == [2008, 999]
    dup = meta["duplicates"]
    # The EloBench copy repeats answers per (prompt, model) (see ../shared/data/SOURCES.md):
    # identical battles inside it; and 8 of the first 999 rows of the 55k release are battles
    # of the 33K release, byte for byte.
    assert dup["by_source_pair"] == [
        {"first_in": 0, "later_in": 0, "later_copies": 23},
        {"first_in": 0, "later_in": 1, "later_copies": 8},
    ]
    assert dup["votes_differ"] == 13
    assert "later copies in source 1 (train_sample.csv) of battles first in source 0" in (
        result.stdout
    )
    assert validate_dir(out) == []


def test_report_shows_sources_overlap_and_votes(planted: tuple[Path, Path], tmp_path: Path) -> None:
    from arenatok.report import write_report

    a, b = planted
    build([a, f"kaggle-55k:{b}"], out=tmp_path / "o", limit=None)
    report = as_json(write_report(tmp_path / "o", rounds=0))
    src = report["sources"]
    assert src["overlap_matrix"] == [[4, 1], [0, 0]]
    assert [(x["battles"], x["later_copies_within"], x["later_copies_of_other_sources"])
            for x in src["sources"]] == [(7, 4, 0), (1, 0, 1)]  # fmt: skip
    assert src["votes_differ"] == len(src["votes_differ_list"]) == 2
    html = (tmp_path / "o" / "report.html").read_text()
    assert "Sources and duplicates" in html
    assert "votes differ: 2" in html


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 40), st.integers(0, 2**64 - 1)), max_size=60),
        max_size=8,
    ),
    st.integers(1, 3),
)
def test_table_keeps_the_first_value_like_a_dict(
    batches: list[list[tuple[int, int]]], spread: int
) -> None:
    import numpy as np

    from arenatok.pipeline.dedup import Table

    table, reference = Table(capacity=4), {}  # tiny: it must grow, and probe past collisions
    for batch in batches:
        keys = [k * spread * 2**61 % 2**64 or 1 for k, _ in batch]  # many share low bits
        got = table.first_values(
            np.array(keys, dtype=np.uint64), np.array([v for _, v in batch], dtype=np.uint64)
        ).tolist() if batch else []  # fmt: skip
        expected = [reference.setdefault(k, v) for k, (_, v) in zip(keys, batch, strict=True)]
        assert got == expected
    assert table.size == len(reference)
    assert 2 * table.size <= len(table.keys)


@pytest.mark.parametrize(
    ("capacity", "keys", "grown"),
    [(8, 4, 8), (4, 4, 8), (8, 5, 16), (8, 6, 16), (8, 9, 32)],
)
def test_the_table_grows_only_past_half_full(capacity: int, keys: int, grown: int) -> None:
    """Exactly half full stays; one more doubles the table until it is at most half full."""
    import numpy as np

    from arenatok.pipeline.dedup import Table

    table = Table(capacity=capacity)
    digests = np.arange(1, keys + 1, dtype=np.uint64)
    assert table.first_values(digests, digests * 10).tolist() == (digests * 10).tolist()
    assert (len(table.keys), table.size) == (grown, keys)


def test_the_table_keeps_values_of_all_64_bits() -> None:
    """Values are packed (source, row, vote): every bit counts, in a table that never grew."""
    import numpy as np

    from arenatok.pipeline.dedup import Table

    table = Table()
    values = np.array([2**64 - 1, 2**63 + 1, 2**53 + 1], dtype=np.uint64)
    table.first_values(np.array([1, 2, 3], dtype=np.uint64), values)
    again = table.first_values(np.array([3, 2, 1], dtype=np.uint64), np.zeros(3, np.uint64))
    assert again.tolist() == [2**53 + 1, 2**63 + 1, 2**64 - 1]


def test_index_memory_at_a_million_battles() -> None:
    """16 bytes an entry, at most half full: 3 keys a battle, 1,000,000 battles, under 200 MB
    (a dict of Python ints took 387 MB)."""
    import numpy as np

    from arenatok.pipeline.dedup import Table

    table = Table()
    rng = np.random.default_rng(0)
    for _ in range(30):
        keys = rng.integers(1, 2**63, 100_000, dtype=np.uint64)
        table.first_values(keys, keys)
    assert table.size == 3_000_000
    assert table.keys.nbytes + table.values.nbytes <= 2**27  # 128 MiB


def _keys(exact: int, normalized: int, vote: int = 0, any_id: int | None = None) -> Any:
    """One battle's keys with the given digests (any_id: exact + 100 unless given)."""
    import numpy as np

    from arenatok.pipeline.keys import BatchKeys

    any_id = exact + 100 if any_id is None else any_id
    return BatchKeys(["q"], np.array([any_id], np.uint64), None,
                     np.array([exact], np.uint64), np.array([normalized], np.uint64),
                     np.array([vote], np.uint8), [("a", "b")])  # fmt: skip


def test_an_id_digest_that_would_mark_an_empty_slot_is_still_remembered() -> None:
    """0 marks an empty slot of the table; an id whose digest (xor its kind's tag, 4) is 0
    is stored under another value, so that a second source still sees it as used."""
    index = Index()
    assert index.first_sources(_keys(5, 6, any_id=4), source=1) == [1]  # new: its own source
    assert index.first_sources(_keys(5, 6, any_id=4), source=2) == [1]  # seen: the first source
    assert index.first_sources(_keys(7, 8, any_id=6), source=2) == [2]


def test_a_digest_that_would_mark_an_empty_slot_is_still_found_again() -> None:
    """An exact digest of 2 is 0 once xored with its kind's tag (2): 0 marks an empty slot, so
    it is stored under another value; the first battle is new, its copy is found."""
    index = Index()
    assert index.see_batch(_keys(2, 7), source=1, rows=[5]) == [None]
    match = index.see_batch(_keys(2, 8), source=1, rows=[9])[0]
    assert match is not None
    assert (match.kind, match.key, match.source, match.row) == ("same_battle", "exact", 1, 5)


def test_a_match_names_rows_beyond_the_first_hundred() -> None:
    index = Index()
    assert index.see_batch(_keys(1000, 5000), source=3, rows=[123_456_789]) == [None]
    match = index.see_batch(_keys(2000, 5000, vote=1), source=4, rows=[7])[0]
    assert match is not None
    assert (match.kind, match.key, match.source, match.row) == ("same_battle", "normalized", 3,
                                                                 123_456_789)  # fmt: skip
    assert match.votes_differ
    summary = index.summary()
    assert summary["definitions"] == DEFINITIONS
    assert list(summary) == ["definitions", "later_copies", "by_key", "by_source_pair",
                             "votes_differ", "votes_differ_list"]  # fmt: skip
    assert summary["by_key"] == {"exact": 0, "normalized": 1}
    assert summary["votes_differ_list"] == [
        {"first": {"source": 3, "row": 123_456_789, "winner": "a"},
         "later": {"source": 4, "row": 7, "winner": "b"}, "key": "normalized"}
    ]  # fmt: skip


def test_ids_that_are_not_battle_ids_are_no_copies() -> None:
    """Where a release's ids are not battle ids (release None: mt_bench judges one question
    many times), two battles sharing an id are not copies."""
    from arenatok.pipeline.layouts.arena.rows import battle_from_row

    one = battle_from_row(battle("q1", [("a", "b", "c")]))
    two = battle_from_row(battle("q1", [("other", "b", "c")]))
    batch = batch_keys([one, two], None)
    assert batch.same_id is None
    assert Index().see_batch(batch, source=0, rows=[1, 2]) == [None, None]
