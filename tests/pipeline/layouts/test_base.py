"""`pipeline.layouts`: each module one `Layout`, found by the package; a file's layout told
from its columns, the most specific first; a name that is no layout is one error listing them."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from arenatok.errors import SourceError
from arenatok.pipeline import layouts
from arenatok.pipeline.battle import ARENA_LABELS, VOTES
from arenatok.pipeline.layouts import DEFAULT, LAYOUTS, SHARED, Layout, detect, get
from arenatok.pipeline.layouts.base import REQUIRED_COLUMNS


def test_every_module_is_one_layout() -> None:
    modules = [m.name for m in pkgutil.iter_modules(layouts.__path__) if m.name not in SHARED]
    found = [importlib.import_module(f"arenatok.pipeline.layouts.{m}").LAYOUT for m in modules]
    assert all(isinstance(x, Layout) for x in found)
    assert sorted(x.name for x in found) == sorted(LAYOUTS)
    assert list(LAYOUTS) == ["arena-140k", "kaggle-55k", "arena-100k", "arena", "mt-bench"]
    assert all(get(name) is layout for name, layout in LAYOUTS.items())
    # Only the arena's own schema has the Arrow fast path (a property test compares the two).
    assert [n for n, x in LAYOUTS.items() if x.parse_arrow is not None] == ["arena"]


def test_every_layout_maps_its_labels_onto_the_one_vocabulary_of_votes() -> None:
    assert {n: (x.labels, x.votes) for n, x in LAYOUTS.items() if x.labels != ARENA_LABELS} == {
        "arena-140k": (
            {"model_a": "model_a", "model_b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"},
            VOTES,
        ),
        "kaggle-55k": (
            {"model_a": "model_a", "model_b": "model_b", "tie": "tie"},
            ("model_a", "model_b", "tie"),
        ),
        "mt-bench": (
            {"model_a": "model_a", "model_b": "model_b", "tie": "tie", "tie (inconsistent)": "tie"},
            ("model_a", "model_b", "tie"),
        ),
    }
    assert all(set(x.labels.values()) <= set(VOTES) for x in LAYOUTS.values())


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_a_layouts_own_columns_detect_it(name: str) -> None:
    layout = LAYOUTS[name]
    columns = [*layout.required, *layout.markers[:1]]
    assert detect(columns, "f").name == name
    assert detect(list(reversed(columns)), "f").name == name  # the order of columns is no matter


def test_the_arena_columns_alone_are_the_default() -> None:
    assert detect(list(REQUIRED_COLUMNS), "f").name == DEFAULT == "arena"


def test_columns_of_no_layout_are_one_error() -> None:
    with pytest.raises(SourceError, match=r"f\.csv: no known layout has these columns: a, b"):
        detect(["a", "b"], "f.csv")
    with pytest.raises(SourceError, match="unknown layout: 'arena-1m'") as caught:
        get("arena-1m")
    assert caught.value.hint == f"known layouts: {', '.join(LAYOUTS)}"


def test_only_flat_layouts_fit_csv() -> None:
    assert [name for name, x in LAYOUTS.items() if x.flat] == ["kaggle-55k"]
