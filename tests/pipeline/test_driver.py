from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.errors import BadRowError, SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.records import dumps_lines
from arenatok.pipeline.write import cut_strings
from tests.helpers import TINY, battle, write_jsonl, write_parquet

FILES = [
    "artifact_metadata.json",
    "data_out.json",
    "data_out.jsonl",
    "full_data_out.json",
    "mini_data_out.json",
    "preview_data_out.json",
    "record.schema.json",
]


def examples(path: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["examples"]
    return data


def test_build_tiny(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    result = build(src, out=tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == FILES
    ex = examples(out / "data_out.json")
    assert len(ex) == len(TINY)
    two = ex[1]
    assert two["input"] == "What is 2+2?"
    assert two["output"] == "Winner: tie (bothbad)"
    assert two["dataset"] == "b.jsonl"
    assert two["context"]["conversation"] == [
        {"user": "What is 2+2?", "response_a": "4", "response_b": "Four."},
        {"user": "And 3+3?", "response_a": "6", "response_b": "Six, of course."},
    ]
    usage = two["context"]["token_usage"]
    # By hand (cl100k_base): What| is| |2|+|2|? (7), And| |3|+|3|? (6); 4 (1), 6 (1);
    # Four|. (2), Six|,| of| course|. (5).
    assert [t["input_tokens"] for t in usage["turns"]] == [7, 6]
    assert [t["response_a_tokens"] for t in usage["turns"]] == [1, 1]
    assert [t["response_b_tokens"] for t in usage["turns"]] == [2, 5]
    assert usage["total_tokens"] == 22
    # <|endoftext|> is ordinary text: <|endo|ft|ext|>| is| a| special| token (11).
    assert ex[2]["context"]["token_usage"]["total_input_tokens"] == 11
    assert ex[3]["context"]["token_usage"]["total_output_tokens_b"] == 0  # empty answer
    assert result.stats.read == result.stats.written == len(TINY)
    jsonl = [json.loads(line) for line in (out / "data_out.jsonl").read_text().split("\n") if line]
    assert jsonl == ex
    assert (out / "full_data_out.json").read_bytes() == (out / "data_out.json").read_bytes()
    assert examples(out / "mini_data_out.json") == ex[:3]
    assert examples(out / "preview_data_out.json") == cut_strings(ex[:3])


def test_metadata(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    build(src, out=tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "artifact_metadata.json").read_text())
    assert meta["counts"] == {
        "rows_read": 4,
        "rows_written": 4,
        "rows_rejected": 0,
        "rows_dropped": 0,
    }
    assert {w: v["count"] for w, v in meta["winner_distribution"].items()} == {
        "model_a": 1,
        "model_b": 1,
        "tie": 1,
        "tie (bothbad)": 1,
    }
    assert meta["model_pairs"] == {"ordered": 2, "unordered": 2}
    assert meta["means"]["turns"] == 5 / 4
    assert meta["tokenizer"]["bpe_sha256"] == (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    )
    assert meta["source"]["path"] == str(src)
    assert "created" not in meta
    assert set(meta["files"]) == set(FILES) - {"artifact_metadata.json"}
    import hashlib

    for name, info in meta["files"].items():
        data = (tmp_path / "out" / name).read_bytes()
        assert info == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "artifact_metadata.json").read_text())
    assert meta["created"] == "2023-11-14T22:13:20Z"


def test_same_input_same_bytes(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 5)
    build(src, out=tmp_path / "one", batch_size=3)
    build(src, out=tmp_path / "two", batch_size=7)
    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_limit_takes_first_rows(tmp_path: Path) -> None:
    rows = [battle(f"q{i}") for i in range(10)]
    result = build(
        write_jsonl(tmp_path / "b.jsonl", rows), out=tmp_path / "out", limit=7, batch_size=3
    )
    assert result.stats.read == 7
    ids = [
        e["context"]["api_metadata"]["question_id"]
        for e in examples(tmp_path / "out" / "data_out.json")
    ]
    assert ids == [f"q{i}" for i in range(7)]


def _bad_rows() -> list[Any]:
    bad = battle("bad-1", winner="model_c")
    return [TINY[0], bad, TINY[1], "not an object", TINY[2]]


def test_bad_row_is_a_hard_error_and_nothing_is_written(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", _bad_rows())
    build(write_jsonl(tmp_path / "good.jsonl", TINY), out=tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    with pytest.raises(BadRowError) as e:
        build(src, out=tmp_path / "out")
    assert e.value.message == (
        f"{src}: row 2 (question_id 'bad-1'): winner is str 'model_c', expected one of "
        "model_a, model_b, tie, tie (bothbad)"
    )
    assert e.value.exit_code == 2
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert after == before  # the earlier complete run is intact, no temp files are left


def test_reject_mode_writes_rejects(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", _bad_rows())
    result = build(src, out=tmp_path / "out", on_bad_row="reject")
    assert (result.stats.read, result.stats.written, result.stats.rejected) == (5, 3, 2)
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert rejects == [
        {
            "file": str(src),
            "row": 2,
            "question_id": "bad-1",
            "reason": "winner is str 'model_c', expected one of model_a, model_b, tie, "
            "tie (bothbad)",
        },
        {
            "file": str(src),
            "row": 4,
            "question_id": None,
            "reason": "row is not an object: str 'not an object'",
        },
    ]
    meta = json.loads((tmp_path / "out" / "artifact_metadata.json").read_text())
    assert meta["counts"] == {
        "rows_read": 5,
        "rows_written": 3,
        "rows_rejected": 2,
        "rows_dropped": 0,
    }
    assert "rejects.jsonl" in meta["files"]
    # A later run without rejects removes the stale rejects file.
    build(write_jsonl(tmp_path / "good.jsonl", TINY), out=tmp_path / "out")
    assert not (tmp_path / "out" / "rejects.jsonl").exists()


def test_file_without_rows(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY)
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(src).slice(0, 0), src)
    with pytest.raises(SourceError, match="the file has no rows"):
        build(src, out=tmp_path / "out")
    assert not (tmp_path / "out" / "data_out.json").exists()


row_choice = st.sampled_from(
    [*TINY, "junk", None, dict(TINY[0], turn=5), battle("bad", winner="?")]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(row_choice, min_size=1, max_size=12), batch=st.integers(1, 5))
def test_rows_in_equal_rows_out_plus_rejected(rows: list[Any], batch: int, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", rows)
    result = build(
        src,
        out=tmp_path / "out",
        on_bad_row="reject",
        limit=None,
        batch_size=batch,
        allow_empty=True,
    )
    written = len(examples(tmp_path / "out" / "data_out.json"))
    rejected = len((tmp_path / "out" / "rejects.jsonl").read_text().splitlines())
    assert len(rows) == result.stats.read == written + rejected
    assert (written, rejected) == (result.stats.written, result.stats.rejected)


# ---- real data from ../shared -------------------------------------------------------------


def test_real_arena_first_300(arena_parquet: Path, tmp_path: Path) -> None:
    one = build(arena_parquet, out=tmp_path / "one")
    two = build(arena_parquet, out=tmp_path / "two")
    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert (one.stats.read, one.stats.written, one.stats.rejected) == (300, 300, 0)
    ex = examples(tmp_path / "one" / "data_out.json")
    first = ex[0]
    assert first["input"] == "What is the difference between OpenCL and CUDA?"
    assert (first["context"]["model_a"], first["context"]["model_b"]) == ("chatglm-6b", "koala-13b")
    assert first["output"] == "Winner: model_b"
    turn = first["context"]["token_usage"]["turns"][0]
    assert (turn["input_tokens"], turn["response_a_tokens"], turn["response_b_tokens"]) == (
        10,
        171,
        373,
    )
    assert first["context"]["token_usage"]["total_tokens"] == 554
    assert first["context"]["api_metadata"]["question_id"] == "58210e39b3fd4441a2bd4a518bb44c2d"
    assert examples(tmp_path / "one" / "mini_data_out.json") == ex[:3]
    assert two.stats.summary() == one.stats.summary()


def test_real_arena_all_rows(arena_parquet: Path, tmp_path: Path) -> None:
    result = build(arena_parquet, out=tmp_path / "out", limit=None)
    meta = json.loads((tmp_path / "out" / "artifact_metadata.json").read_text())
    assert meta["counts"] == {
        "rows_read": 2008,
        "rows_written": 2008,
        "rows_rejected": 0,
        "rows_dropped": 0,
    }
    # The human votes as written by ../shared/tools/elobench_to_arena.py.
    assert {w: v["count"] for w, v in meta["winner_distribution"].items()} == {
        "model_a": 778,
        "model_b": 655,
        "tie": 251,
        "tie (bothbad)": 324,
    }
    assert result.stats.turns == 2008
    # That script's notes say: "in 77 rows answer_a == answer_b verbatim".
    assert meta["quality_flags"]["identical_responses"] == 77


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    src = write_parquet(tmp_path / "b.parquet", TINY * 5)
    build(
        src,
        out=tmp_path / "out",
        limit=None,
        batch_size=6,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(0, 20), (6, 20), (12, 20), (18, 20), (20, 20)]


def test_worker_processes_write_the_same_bytes(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "b.parquet", TINY * 40)
    build(src, out=tmp_path / "one", limit=None, workers=1, batch_size=16)
    build(src, out=tmp_path / "pool", limit=None, workers=2, batch_size=7)
    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


GOLDEN = {
    # sha256 of a build of tests.helpers.TINY (JSON Lines source, default options). A change
    # here changes every user's output bytes: make it on purpose, and say so in the changelog.
    # 0.2: every record says where it comes from (api_metadata.source).
    # 0.3: every record has its answers' markdown counts (context.style).
    "data_out.json": "2cdd16d6befcdd43977c8c18e11c318196f72eb2e9e4b8dd49ec8d0805687e76",
    "data_out.jsonl": "9cc1d7870837612a6fc1c87707314ae3d2f28d1e9631dcef9ed8b9fcec80d40e",
    "mini_data_out.json": "669aacf3101bce4ed6ade68e069efc6a30f36f86162737e974e79d034bcc78bf",
    "preview_data_out.json": "669aacf3101bce4ed6ade68e069efc6a30f36f86162737e974e79d034bcc78bf",
}


def test_output_bytes_are_pinned(tmp_path: Path) -> None:
    import hashlib

    build(write_jsonl(tmp_path / "b.jsonl", TINY), out=tmp_path / "out")
    got = {n: hashlib.sha256((tmp_path / "out" / n).read_bytes()).hexdigest() for n in GOLDEN}
    assert got == GOLDEN
    # Before context.style (0.3), api_metadata.source (0.2) and quality flags (0.1),
    # data_out.jsonl was these bytes: everything else is unchanged for the default source and
    # options.
    records = [
        orjson.loads(x) for x in (tmp_path / "out" / "data_out.jsonl").read_bytes().splitlines()
    ]
    for r in records:
        del r["context"]["style"]
        del r["context"]["api_metadata"]["source"]
    assert hashlib.sha256(dumps_lines(records) + b"\n").hexdigest() == (
        "494b01b07f1144ecbdce3ebc69b5ba54748cb58752fc59864a0abda670164445"
    )
    for r in records:
        del r["context"]["quality_flags"]
    assert hashlib.sha256(dumps_lines(records) + b"\n").hexdigest() == (
        "a972c4e0342397499c2dffab4a8a403f703cef51e400967ecace4400053eec46"
    )


def test_the_previews_cut_is_pinned(tmp_path: Path) -> None:
    """TINY has no text over 200 characters, so its mini and preview files are the same bytes:
    this build has, and pins the preview's cut."""
    import hashlib

    rows = [
        battle("long", [("Tell me a story. " * 20, "Once upon a time " * 30 + "the end.", "No.")])
    ]
    build(write_jsonl(tmp_path / "l.jsonl", [*rows, *TINY[:2]]), out=tmp_path / "o")
    preview = (tmp_path / "o" / "preview_data_out.json").read_bytes()
    assert hashlib.sha256(preview).hexdigest() == (
        "92ec0030b8547f63c5041c5e5be65c117764f8f8cbecdc57c7af43e388331840"
    )
    first = json.loads(preview)["examples"][0]
    assert first["input"] == "Tell me a story. " * 11 + "Tell me a sto… [cut: 340 chars in all]"
    assert len(first["context"]["response_a"]) == 200 + len("… [cut: 518 chars in all]")


@pytest.mark.parametrize(
    ("option", "value"),
    [("batch_size", 0), ("batch_size", -3), ("workers", 0), ("limit", 0), ("batch_size", 1.5)],
)
def test_every_option_is_checked_before_any_work(tmp_path: Path, option: str, value: Any) -> None:
    from arenatok.errors import OptionError

    src = tmp_path / "b.jsonl"
    src.write_text(json.dumps(TINY[0]) + "\n")
    with pytest.raises(OptionError, match=f"{option.replace('_size', '_size')}|--{option}"):
        build(src, out=tmp_path / "o", **{option: value})
    assert not (tmp_path / "o").exists()
