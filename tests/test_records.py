from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from arenatok.records import Battle, record_adapter, schema_json
from arenatok.steps import make_record
from arenatok.write import schema_bytes


def _record() -> dict[str, Any]:
    battle = Battle(
        question_id="q",
        model_a="a",
        model_b="b",
        winner="tie",
        users=("Hi",),
        answers_a=("Hello",),
        answers_b=("Hey",),
    )
    from arenatok.metrics import token_usage

    return dict(make_record(battle, [token_usage([1], [1], [1])], ["cl100k_base"], dataset="d"))


def test_the_shipped_schema_is_generated_from_the_types() -> None:
    assert schema_bytes().decode() == schema_json()


def test_a_made_record_validates_and_unknown_fields_do_not() -> None:
    record = _record()
    record_adapter().validate_python(record, strict=True)
    extra = copy.deepcopy(record)
    extra["context"]["token_usage"]["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        record_adapter().validate_python(extra, strict=True)


def test_record_shape_follows_the_battle() -> None:
    r = _record()
    assert (r["input"], r["output"], r["dataset"]) == ("Hi", "Winner: tie", "d")
    c = r["context"]
    assert (c["response_a"], c["response_b"]) == ("Hello", "Hey")
    assert c["conversation"] == [{"user": "Hi", "response_a": "Hello", "response_b": "Hey"}]
    assert c["api_metadata"] == {
        "question_id": "q",
        "timestamp": None,
        "language": None,
        "judge": None,
        "anony": None,
    }
    assert c["quality_flags"] == []
