"""CSV: the flat layouts only (a CSV cannot hold the arena layouts' conversation lists); read
in Arrow record batches, every column as bytes made text (a value that is not UTF-8 is its
row's problem), quoted values may hold newlines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline.battle import RowProblem
from arenatok.pipeline.sources.filetypes.base import FileType, Payload, open_data


def open_csv(path: Path, compression: str | None = None) -> Any:
    """A streaming CSV reader: every column read as bytes (made text in `csv_batches`, the
    layout's parser converts), quoted values may hold newlines."""
    import pyarrow as pa
    import pyarrow.csv as csv

    def data() -> Any:
        return path if compression is None else open_data(path, compression)

    options = csv.ParseOptions(newlines_in_values=True)
    names = csv.open_csv(data(), parse_options=options).schema
    return csv.open_csv(
        data(),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(column_types={n: pa.binary() for n in names.names}),
        read_options=csv.ReadOptions(block_size=1 << 22),
    )


def _as_text(batch: Any) -> Payload:
    """A batch of byte columns as text; where a value is not valid UTF-8, the rows as a list
    in which each such row is a RowProblem (rejected like any bad row)."""
    import pyarrow as pa

    try:
        return pa.RecordBatch.from_arrays(
            [c.cast(pa.string()) for c in batch.columns], names=batch.schema.names
        )
    except pa.ArrowInvalid:
        pass
    rows: list[Any] = []
    for raw in batch.to_pylist():
        row: Any = {}
        for name, value in raw.items():
            try:
                row[name] = None if value is None else value.decode("utf-8")
            except UnicodeDecodeError as e:
                row = RowProblem(f"column {name} is not valid UTF-8 (byte {e.start})")
                break
        rows.append(row)
    return rows


class Csv(FileType):
    name = "csv"
    suffixes = (".csv",)
    order = 40
    has_columns = True
    flat = True

    def columns(self, path: Path, compression: str | None) -> tuple[list[str], Any]:
        import pyarrow as pa

        try:
            return list(open_csv(path, compression).schema.names), None
        except (pa.ArrowException, OSError) as e:
            raise resource_error(e) or SourceError(
                f"{path}: not a readable CSV file ({first_line(e)})",
                hint="check its header and quoting; the file must be UTF-8 text",
            ) from e

    def payloads(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        import pyarrow as pa

        try:
            for batch in open_csv(path, compression):
                for offset in range(0, batch.num_rows, size):
                    yield _as_text(batch.slice(offset, size))
        except (pa.ArrowException, OSError, EOFError) as e:
            raise resource_error(e) or SourceError(
                f"{path}: the CSV data is malformed ({first_line(e)})",
                hint="check its quoting (values with commas or newlines need double quotes)",
            ) from e


FILE_TYPE = Csv()
