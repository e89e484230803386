"""The option types the commands share: a count or a word (`CountOr`), a directory
(`OutDir`), and a choice of one of `options`' vocabularies (`choice`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from arenatok.options import choices


def choice(vocabulary: object) -> click.Choice:  # type: ignore[type-arg]
    """A click choice of a vocabulary's words (`options.Engine`, ...)."""
    return click.Choice(choices(vocabulary))


class CountOr(click.ParamType):  # type: ignore[type-arg]
    """A positive whole number, or a word that means None ('all', 'auto')."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.name = f"N|{word}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, int):
            return value
        if str(value).lower() == self.word:
            return None
        try:
            n = int(value)
        except ValueError:
            self.fail(f"{value!r} is not a whole number or {self.word!r}", param, ctx)
        if n < 1:
            option = param.opts[0] if param is not None and param.opts else "it"
            meaning = "no limit" if self.word == "all" else "one per core"
            self.fail(f"{n} is not a positive number ({option} {self.word}: {meaning})", param, ctx)
        return n


class OutDir(click.ParamType):  # type: ignore[type-arg]
    """A directory: not an empty path, a file or a link to nothing (`atomic.out_dir`)."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from arenatok.errors import OptionError
        from arenatok.runtime.atomic import out_dir

        if isinstance(value, Path):
            return value
        if Path(value).is_file():  # as click.Path(file_okay=False) says it
            self.fail(f"Directory {str(value)!r} is a file.", param, ctx)
        option = param.opts[0] if param and param.opts[0].startswith("-") else "DIR"
        try:
            return out_dir(value, option)
        except OptionError as e:
            self.fail(e.message, param, ctx)
