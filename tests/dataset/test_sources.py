"""`dataset.sources`: what a card says of each source (its release, license and where that
comes from), the license it declares, and the citations, by value."""

from __future__ import annotations

import pytest

from arenatok.dataset.sources import (
    LICENSES,
    CardSource,
    card_license,
    check_license,
    citation,
    is_unknown,
    joined,
    terms,
)
from arenatok.errors import OptionError
from arenatok.pipeline.layouts import LAYOUTS


def source(index: int, layout: str) -> CardSource:
    license_id, note = LICENSES[layout]
    return CardSource(index, f"local file `{index}.x`", None, "0" * 64, layout, license_id, note, 1)


def test_every_layout_has_a_license_and_says_where_it_comes_from() -> None:
    assert set(LICENSES) == set(LAYOUTS)
    assert LICENSES["arena"][0] == "cc-by-nc-4.0"  # the stricter of the release's two
    assert LICENSES["kaggle-55k"][0] == "apache-2.0"
    assert all(note for _, note in LICENSES.values())


def test_a_card_declares_one_license_when_they_agree_else_each_in_source_order() -> None:
    arena, kaggle = source(0, "arena"), source(1, "kaggle-55k")
    assert card_license([arena, source(2, "arena")], None) == "cc-by-nc-4.0"
    assert card_license([kaggle, arena, source(2, "arena")], None) == [
        "apache-2.0",
        "cc-by-nc-4.0",
    ]
    assert card_license([arena, kaggle], "cc-by-4.0") == "cc-by-4.0"  # --license wins


def test_terms_group_the_sources_under_each_license() -> None:
    got = terms([source(0, "arena"), source(1, "kaggle-55k"), source(2, "arena")])
    assert [(t.license, t.sources) for t in got] == [
        ("cc-by-nc-4.0", "0 and 2"),
        ("apache-2.0", "1"),
    ]
    assert (joined(["a"]), joined(["a", "b"]), joined(["a", "b", "c"])) == (
        "a",
        "a and b",
        "a, b and c",
    )


def test_license_ids_and_unknown() -> None:
    assert check_license("cc-by-nc-4.0") == "cc-by-nc-4.0"
    for bad in ("unknown", "CC-BY-4.0", "cc by", ""):
        with pytest.raises(OptionError, match="is not a license id"):
            check_license(bad)
    assert [is_unknown(x) for x in ("unknown", ["mit", "unknown"], None)] == [True] * 3
    assert not is_unknown(["mit", "apache-2.0"])


def test_citations_once_each_in_source_order() -> None:
    arena = citation([source(0, "arena"), source(1, "arena")])
    assert arena.count("@") == 1
    both = citation([source(0, "kaggle-55k"), source(1, "arena")])
    assert both.count("@") == 2
    assert both.index(citation([source(0, "kaggle-55k")])) == 0
