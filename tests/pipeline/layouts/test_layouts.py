"""`pipeline.layouts`: every layout module found by the package, a file's layout told by its
columns or named, and a file no layout fits refused with the known layouts' names. Each
layout's own parsing is tested in test_<layout>.py beside this file."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts import DEFAULT, LAYOUTS, Layout, detect, get
from tests.helpers import TINY, write_parquet


def test_every_layout_module_is_found_in_detection_order() -> None:
    assert list(LAYOUTS) == ["arena-140k", "kaggle-55k", "arena-100k", "arena", "mt-bench"]
    assert all(isinstance(layout, Layout) for layout in LAYOUTS.values())
    orders = [layout.order for layout in LAYOUTS.values()]
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)
    assert DEFAULT in LAYOUTS


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_a_layouts_own_columns_detect_it_and_its_name_gets_it(name: str) -> None:
    layout = LAYOUTS[name]
    assert detect([*layout.required, *layout.markers], "x.parquet") is layout
    assert get(name) is layout


def test_the_default_takes_its_columns_without_any_marker() -> None:
    arena = LAYOUTS[DEFAULT]
    assert detect(list(arena.required), "x.parquet") is arena
    assert detect([*arena.required, "judge"], "x.parquet").name == "mt-bench"


def test_an_unknown_name_lists_the_known_layouts() -> None:
    with pytest.raises(SourceError) as e:
        get("arena-200k")
    assert e.value.message == "unknown layout: 'arena-200k'"
    assert e.value.hint == f"known layouts: {', '.join(LAYOUTS)}"


def test_no_columns_at_all_says_so() -> None:
    with pytest.raises(SourceError, match=r"^x.json: no known layout has these columns: \(none\)$"):
        detect([], "x.json")


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


def test_the_docs_list_every_quality_flag_and_layout() -> None:
    from arenatok.pipeline.records import QUALITY_FLAGS
    from tests.helpers import doc_text

    readme = doc_text("concepts/flags.md", "concepts/layouts.md").replace("\\|", "|")
    for flag, text in QUALITY_FLAGS.items():
        assert f"| `{flag}` | {text} |" in readme, flag
    for name in LAYOUTS:
        assert f"| `{name}` |" in readme, name
