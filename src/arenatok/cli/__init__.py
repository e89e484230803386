"""The `arenatok` command: a thin layer over the library (`main`: the group, its errors and
exit codes; `build_commands`, `dataset_commands`, `analyses`: the commands; `output`: what they
print; `params`: the option types they share)."""

from arenatok.cli.main import cli, main

__all__ = ["cli", "main"]
