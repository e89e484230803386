"""What every config shares (`base.Config`): rows through Arrow and back, the vote a class
label where it is a column (in the card's features as `datasets` writes them), and every
config of the real battles' card loaded by `datasets` offline, with its rows and features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arenatok.dataset.configs import CONFIGS
from arenatok.dataset.configs.base import features_yaml
from arenatok.pipeline.battle import DECISIVE, VOTES


def test_every_config_round_trips_through_arrow(rows_of: Callable[[Any], list[Any]]) -> None:
    for config in CONFIGS[1:]:
        rows = rows_of(config)
        table = config.table(rows)
        assert table.schema == config.schema()
        assert [config.decoded(r) for r in table.to_pylist()] == rows


def test_the_vote_is_a_class_label_where_it_is_a_column() -> None:
    import datasets

    labels = {c.name: dict(c.labels()) for c in CONFIGS}
    assert labels == {
        "default": {},
        "flat": {"winner": VOTES},
        "turns": {},
        "preference": {"winner": VOTES},
    }
    for config in CONFIGS[1:]:
        features = datasets.Features.from_arrow_schema(config.schema())
        for name in config.labels():
            features[name] = datasets.ClassLabel(names=list(VOTES))
        assert features_yaml(config.schema(), config.labels()) == features._to_yaml_list()


def test_datasets_loads_every_config_offline(
    load: Callable[[str], Any], real_records: list[Any]
) -> None:
    import datasets

    counts = {
        "default": len(real_records),
        "flat": len(real_records),
        "turns": sum(len(r["context"]["token_usage"]["turns"]) for r in real_records),
        "preference": sum(r["context"]["winner"] in DECISIVE for r in real_records),
    }
    assert counts["preference"] == 778 + 655  # the real battles' winners (README)
    for config in CONFIGS:
        data = load(config.name)
        assert data.num_rows == counts[config.name], config.name
        if config.row is not None:
            assert list(data.features) == list(config.row.__annotations__)
    flat = load("flat")
    assert flat.features["winner"] == datasets.ClassLabel(names=list(VOTES))
    assert flat.features["winner"].int2str(flat[0]["winner"]) == "model_b"
    pairs = load("preference")
    assert pairs.features["winner"] == datasets.ClassLabel(names=list(VOTES))
    assert pairs.features["chosen"] == datasets.List(
        {"role": datasets.Value("string"), "content": datasets.Value("string")}
    )
