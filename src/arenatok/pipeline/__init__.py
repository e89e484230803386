"""The build: sources read in batches, each battle checked, counted and measured, duplicates
found, the dataset written. `driver.build` runs it (`from arenatok.pipeline import build`);
`plan` checks every option first; `engine` runs the per-batch step (`steps`) here or on Ray;
`write` writes the files. Its sources (the Hub, local files of each file type, the row checks)
are in `sources`, the releases' layouts in `layouts`."""

from arenatok.pipeline.driver import DEFAULT_LIMIT, BuildResult, build, run

__all__ = ["DEFAULT_LIMIT", "BuildResult", "build", "run"]
