"""What a config of the card is (`Config`): its name, what one row is, the TypedDict of its rows
and how a battle's record becomes them. The Arrow schema, the card's features and the class
labels of a config's columns are all read from that TypedDict (`arrow_type`): `int` is int64,
`float` float64, `str` string, `bool` bool, `X | None` a nullable X, `list[X]` a list, a
TypedDict a struct, and a `Literal` of strings a class label: int64, the index of its value."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from typing_extensions import get_type_hints, is_typeddict

from arenatok.pipeline.records import Record

R = TypeVar("R")

Labels = Mapping[str, tuple[str, ...]]
"""The class labels of a config's columns: column -> its values, in the order of their
indices."""


@dataclass(frozen=True)
class Config(Generic[R]):
    """One config of the card: a name, what one row is (`summary`, for the card and the
    Croissant file), the TypedDict of its rows (None: the record itself, whose schema is read
    from the data), and `rows`: a battle's rows, from its place in data_out.jsonl (from 0) and
    its record."""

    name: str
    summary: str
    row: type | None
    rows: Callable[[int, Record], Iterable[R]]

    @property
    def folder(self) -> str:
        """Where its Parquet files are: data/ for the default config, data/NAME/ for the
        others."""
        return "data" if self.name == "default" else f"data/{self.name}"

    def shard(self, index: int, count: int) -> str:
        """The name of shard `index` (from 0) of `count`."""
        return f"{self.folder}/train-{index:05d}-of-{count:05d}.parquet"

    def schema(self) -> Any:
        """Its Arrow schema (a config with a row type only)."""
        import pyarrow as pa

        assert self.row is not None
        return pa.schema([pa.field(n, arrow_type(h)) for n, h in _hints(self.row).items()])

    def labels(self) -> Labels:
        """Its columns that are class labels, with their values."""
        hints = _hints(self.row) if self.row is not None else {}
        return {n: _literal(h) for n, h in hints.items() if _literal(h)}

    def table(self, rows: Sequence[R]) -> Any:
        """`rows` as an Arrow table of its schema, each class label as its index."""
        import pyarrow as pa

        schema = self.schema()
        labels = {n: {v: i for i, v in enumerate(names)} for n, names in self.labels().items()}
        columns = {}
        table: Sequence[Any] = rows  # TypedDicts, read by their keys
        for name in schema.names:
            values = [r[name] for r in table]
            if name in labels:
                values = [None if v is None else labels[name][v] for v in values]
            columns[name] = values
        return pa.Table.from_pydict(columns, schema=schema)

    def decoded(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as Arrow gives it back (`to_pylist`), each class label as its value."""
        labels = self.labels()
        return {k: labels[k][v] if k in labels and v is not None else v for k, v in row.items()}


def _hints(row: type) -> dict[str, Any]:
    return get_type_hints(row)


def _literal(hint: Any) -> tuple[str, ...]:
    """The values of a `Literal` (or of an optional one); () for any other type."""
    if get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    return tuple(get_args(hint)) if get_origin(hint) is Literal else ()


def arrow_type(hint: Any) -> Any:
    """The Arrow type of a row's field, from its annotation (the module's docstring)."""
    import pyarrow as pa

    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        [inner] = [a for a in get_args(hint) if a is not type(None)]
        return arrow_type(inner)
    if origin is Literal:
        return pa.int64()
    if origin is list:
        return pa.list_(arrow_type(get_args(hint)[0]))
    if is_typeddict(hint):
        return pa.struct([pa.field(n, arrow_type(h)) for n, h in _hints(hint).items()])
    scalars = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}
    return scalars[hint]


FEATURE_NAMES = {
    "string": "string",
    "large_string": "large_string",
    "int64": "int64",
    "int32": "int32",
    "double": "float64",
    "float": "float32",
    "bool": "bool",
}
"""Arrow's names of the scalar types, to the `datasets` dtypes."""


def features_yaml(schema: Any, labels: Labels | None = None) -> list[dict[str, Any]]:
    """The `dataset_info.features` of a card for an Arrow schema (the `datasets` YAML form);
    `labels`: the top-level columns that are class labels, with their values."""
    import pyarrow as pa

    labels = labels or {}

    def feature(name: str, t: Any) -> dict[str, Any]:
        if pa.types.is_struct(t):
            return {"name": name, "struct": [feature(f.name, f.type) for f in t]}
        if pa.types.is_list(t):
            inner = t.value_type
            if pa.types.is_struct(inner):
                return {"name": name, "list": [feature(f.name, f.type) for f in inner]}
            return {"name": name, "list": FEATURE_NAMES[str(inner)]}
        return {"name": name, "dtype": FEATURE_NAMES[str(t)]}

    def top(name: str, t: Any) -> dict[str, Any]:
        if name in labels:
            names = {str(i): v for i, v in enumerate(labels[name])}
            return {"name": name, "dtype": {"class_label": {"names": names}}}
        return feature(name, t)

    return [top(f.name, f.type) for f in schema]
