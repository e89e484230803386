"""arenatok: token-usage datasets from Chatbot Arena battles.

This is the public API; everything else may change. Its names load when first used, so that
`import arenatok` (and the command line's start, where Ctrl-C must end quietly) stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from arenatok._version import __version__
from arenatok.errors import ArenatokError

if TYPE_CHECKING:
    from arenatok.pipeline.driver import build
    from arenatok.pipeline.layouts.arena.rows import battle_from_row
    from arenatok.pipeline.metrics import token_usage
    from arenatok.pipeline.sources.local import open_local
    from arenatok.pipeline.steps import make_record
    from arenatok.pipeline.tokens import TokenCounter, count

_PUBLIC = {
    "build": "arenatok.pipeline.driver",
    "battle_from_row": "arenatok.pipeline.layouts.arena.rows",
    "token_usage": "arenatok.pipeline.metrics",
    "open_local": "arenatok.pipeline.sources.local",
    "make_record": "arenatok.pipeline.steps",
    "TokenCounter": "arenatok.pipeline.tokens",
    "count": "arenatok.pipeline.tokens",
}


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'arenatok' has no attribute {name!r}")


__all__ = [
    "ArenatokError",
    "TokenCounter",
    "__version__",
    "battle_from_row",
    "build",
    "count",
    "make_record",
    "open_local",
    "token_usage",
]
