"""Whether a card's configs agree with the build it names (`disagreements`, for `validate`):
each config's Parquet files, as the directory's list of derived files names them, hold the
rows that the build's records make (`configs.CONFIGS`), in order, and no other. Reads
data_out.jsonl once and every Parquet file in batches, side by side."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from arenatok.dataset.check import lines_of
from arenatok.dataset.configs import CONFIGS, DEFAULT
from arenatok.dataset.configs.base import Config
from arenatok.pipeline.records import loads
from arenatok.pipeline.write import JSONL
from arenatok.runtime.derived import CARD_DATA
from arenatok.runtime.files import is_regular, open_owned

BATCH_ROWS = 1024
"""Rows of a Parquet file read at a time."""


def shard_names(config: Config[Any], listed: Mapping[str, object]) -> list[str]:
    """A config's Parquet files among `listed` (names), in order."""
    prefix = f"{config.folder}/train-"
    return sorted(n for n in listed if n.startswith(prefix) and CARD_DATA.fullmatch(n))


def _parquet_rows(out: Path, config: Config[Any], names: list[str]) -> Iterator[Any]:
    """The rows of a config's files, in order, as `Config.rows` makes them (class labels as
    their values)."""
    import pyarrow.parquet as pq

    for name in names:
        with open_owned(out / name, within=out) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
                yield from (config.decoded(row) for row in batch.to_pylist())


def _files(config: Config[Any]) -> str:
    """A config's files, as a problem names them."""
    return f"{config.folder}/train-*.parquet ({config.name})"


def _present(value: Any) -> Any:
    """A value with every null field left out (Arrow gives a field that a record lacks as
    null: the default config's rows are compared so)."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    return [_present(v) for v in value] if isinstance(value, list) else value


def _differs(expected: Mapping[str, object], found: Mapping[str, object]) -> str | None:
    """Where a row found differs from the row expected (a column's name), or None."""
    if expected == found:
        return None
    keys = list(dict.fromkeys([*expected, *found]))
    return next(k for k in keys if expected.get(k) != found.get(k))


def disagreements(out: Path, listed: Mapping[str, object]) -> list[str]:
    """Every config whose Parquet files (those `listed` names) disagree with data_out.jsonl:
    files missing, or the first row that differs, or a count of rows; each one line that
    says to run `card` again."""
    again = f"run arenatok card {out} again"
    problems: list[str] = []
    found: dict[str, Iterator[Any]] = {}
    for config in CONFIGS:
        names = shard_names(config, listed)
        count = {n.rsplit("-of-", 1)[1] for n in names}
        whole = all(is_regular(out / n) for n in names)
        if not names or not whole or len(count) != 1 or int(min(count)[:5]) != len(names):
            problems.append(f"{_files(config)}: missing, or not as the card listed them: {again}")
        else:
            found[config.name] = _parquet_rows(out, config, names)
    rows = dict.fromkeys(found, 0)
    try:
        for battle, line in enumerate(lines_of(out / JSONL)):
            record = loads(line)
            for config in [c for c in CONFIGS if c.name in found]:
                for expected in config.rows(battle, record):
                    got = next(found[config.name], None)
                    if config is DEFAULT:
                        expected, got = _present(expected), got and _present(got)
                    where = "no row" if got is None else _differs(expected, got)
                    if where is not None:
                        problems.append(
                            f"{_files(config)}: row {rows[config.name] + 1} is not what "
                            f"{JSONL} line {battle + 1} makes ({where}): {again}"
                        )
                        del found[config.name]
                        break
                    rows[config.name] += 1
        for name, rest in found.items():
            if next(rest, None) is not None:
                config = next(c for c in CONFIGS if c.name == name)
                problems.append(
                    f"{_files(config)}: more rows than the {rows[name]} that {JSONL} makes: {again}"
                )
    except (OSError, ValueError) as e:
        problems.append(f"the card's Parquet files cannot be read ({e}): {again}")
    return problems
