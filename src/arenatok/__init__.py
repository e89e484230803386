"""arenatok: token-usage datasets from Chatbot Arena battles.

This is the public API; everything else may change.
"""

from arenatok._version import __version__
from arenatok.errors import ArenatokError
from arenatok.pipeline.driver import build
from arenatok.pipeline.layouts.arena.rows import battle_from_row
from arenatok.pipeline.metrics import token_usage
from arenatok.pipeline.sources.local import open_local
from arenatok.pipeline.steps import make_record
from arenatok.pipeline.tokens import TokenCounter, count

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
