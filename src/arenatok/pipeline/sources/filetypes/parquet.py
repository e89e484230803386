"""Parquet: read in Arrow record batches, only the columns the layout needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arenatok.errors import SourceError, first_line, resource_error
from arenatok.pipeline.sources.filetypes.base import AGAIN, FileType, Payload


class Parquet(FileType):
    name = "parquet"
    suffixes = (".parquet", ".pq")
    order = 10
    compressible = False  # it compresses its own columns
    has_columns = True

    def starts(self, start: bytes) -> bool:
        return start.startswith(b"PAR1")

    def columns(self, path: Path, compression: str | None) -> tuple[list[str], Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.ParquetFile(path).schema_arrow
        except (pa.ArrowException, OSError) as e:
            raise resource_error(e) or SourceError(
                f"{path}: not a readable Parquet file ({first_line(e)})", hint=AGAIN
            ) from e
        return list(schema.names), schema

    def rows(self, path: Path) -> int | None:
        """Its number of rows, from its footer."""
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)

    def payloads(
        self,
        path: Path,
        size: int,
        *,
        columns: tuple[str, ...] = (),
        compression: str | None = None,
    ) -> Iterator[Payload]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            # pre_buffer=False: with it, pyarrow keeps every column chunk read so far, and memory
            # grows with the file. use_threads=False: decoding on Arrow's threads took a third
            # more CPU for the same wall time, CPU that the worker processes need.
            parquet = pq.ParquetFile(path, pre_buffer=False)
            yield from parquet.iter_batches(
                batch_size=size, columns=list(columns), use_threads=False
            )
        except (pa.ArrowException, OSError) as e:
            raise resource_error(e) or SourceError(
                f"{path}: the Parquet data is corrupt ({first_line(e)})", hint=AGAIN
            ) from e


FILE_TYPE = Parquet()
