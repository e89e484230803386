from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.sources.local import open_local
from tests.helpers import TINY, battle, write_jsonl, write_parquet

# ---- files --------------------------------------------------------------------------------


def rows_of(path: Path) -> list[Any]:
    return [r for batch in open_local(path).row_batches(batch_size=3) for r in batch]


def test_jsonl_splits_on_newline_only(tmp_path: Path) -> None:
    row = battle(turns=[("line\u2028separator\u2029and\x85next", "a", "b")])
    path = write_jsonl(tmp_path / "b.jsonl", [row, *TINY])
    rows = rows_of(path)
    assert len(rows) == 1 + len(TINY)
    assert battle_from_row(rows[0]).users == ("line\u2028separator\u2029and\x85next",)


def test_jsonl_bad_lines_become_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    good = json.dumps(TINY[0]).encode()
    path.write_bytes(good + b"\n{broken\n\n" + b'{"a": "\xff"}\n' + good + b"\n")
    rows = rows_of(path)
    assert [str(r) if isinstance(r, RowProblem) else "ok" for r in rows] == [
        "ok",
        "line 2 is not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "line 3 is empty",
        "line 4 is not valid UTF-8 (byte 7)",
        "ok",
    ]


def test_json_list_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(TINY, indent=1), encoding="utf-8")
    f = open_local(path)
    assert f.filetype == "json"
    assert [battle_from_row(r) for r in rows_of(path)] == [battle_from_row(r) for r in TINY]


def test_json_file_with_one_object_per_line_is_jsonl(tmp_path: Path) -> None:
    # `datasets`' to_json writes JSON Lines under a .json name.
    path = write_jsonl(tmp_path / "export.json", TINY)
    assert open_local(path).filetype == "jsonl"
    assert len(rows_of(path)) == len(TINY)


def test_parquet_reads_in_batches(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "b.parquet", TINY * 3)
    batches = list(open_local(path).row_batches(batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    assert battle_from_row(batches[0][1]) == battle_from_row(TINY[1])


def _error(path: Path) -> str:
    with pytest.raises(SourceError) as e:
        rows_of(path)
    return e.value.message


def test_missing_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.parquet") == f"{tmp_path}/nope.parquet: no such file"


def test_directory(tmp_path: Path) -> None:
    assert _error(tmp_path) == f"{tmp_path}: is a directory, expected a file"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").touch()
    assert _error(tmp_path / "e.jsonl") == f"{tmp_path}/e.jsonl: the file is empty"


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("hello")
    assert _error(tmp_path / "b.txt") == (
        f"{tmp_path}/b.txt: cannot tell the file type from its name or first bytes"
    )


def test_not_parquet(tmp_path: Path) -> None:
    (tmp_path / "b.parquet").write_text("this is not parquet")
    assert _error(tmp_path / "b.parquet").startswith(
        f"{tmp_path}/b.parquet: not a readable Parquet file ("
    )


def test_parquet_missing_columns(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k not in ("winner", "turn")} for r in TINY]
    path = write_parquet(tmp_path / "b.parquet", rows)
    assert _error(path) == (
        f"{path}: no known layout has these columns: question_id, model_a, model_b, judge, "
        "conversation_a, conversation_b, anony, language, tstamp, openai_moderation, "
        "toxic_chat_tag"
    )


def test_broken_json_list(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(TINY)[:-40])
    assert _error(path).startswith(f"{path}: not a valid JSON list of records (")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", TINY)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: fail the open at the OS boundary
        real_open = Path.open

        def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    assert _error(path) == f"{path}: permission denied"


def test_json_list_items_and_depth_limit(tmp_path: Path) -> None:
    deep = "[" * 70 + "]" * 70
    path = tmp_path / "b.json"
    path.write_text(f'[1, {{"a": {deep}}}, {{"b": [2, {{"c": null}}]}}, "x"]')
    items = rows_of_json(path)
    assert items[0] == 1
    assert str(items[1]) == "record 2 is nested more than 64 levels deep"
    assert items[2:] == [{"b": [2, {"c": None}]}, "x"]


def rows_of_json(path: Path) -> list[Any]:
    return [r for batch in open_local(path).row_batches(batch_size=2) for r in batch]


def test_an_error_keeps_its_cause_and_debug_shows_it(tmp_path: Path) -> None:
    """The one-line error says what to do; the library's own exception stays its cause, which
    `--debug` prints with the traceback."""
    import pyarrow as pa
    from click.testing import CliRunner

    from arenatok.cli import cli

    (tmp_path / "b.parquet").write_text("this is not parquet")
    with pytest.raises(SourceError) as e:
        open_local(tmp_path / "b.parquet")
    assert isinstance(e.value.__cause__, pa.ArrowException)
    args = ["build", "--source", str(tmp_path / "b.parquet"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, ["--debug", *args])
    assert isinstance(result.exception, SourceError)
    assert isinstance(result.exception.__cause__, pa.ArrowException)
    plain = CliRunner().invoke(cli, args)
    assert plain.exit_code == 2
    assert "Traceback" not in plain.output


def test_the_metadata_names_a_local_sources_file_type(tmp_path: Path) -> None:
    """`file_type` (Parquet, CSV, JSON Lines or JSON), beside its layout: the word `format`
    is the layout's (--layout)."""
    from arenatok.pipeline.driver import build

    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    meta = build(src, out=tmp_path / "o").metadata
    assert meta["source"]["file_type"] == "jsonl"
    assert meta["source"]["layout"] == "arena"
    assert "format" not in meta["source"]


def test_the_source_path_is_recorded_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    monkeypatch.chdir(src.parent)
    build("b.jsonl", out=tmp_path / "one")
    build("./b.jsonl", out=tmp_path / "two")
    one, two = ((tmp_path / d / "artifact_metadata.json").read_bytes() for d in ("one", "two"))
    assert one == two
    assert json.loads(one)["source"]["path"] == str(src.resolve())
