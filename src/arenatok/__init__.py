"""arenatok: token-usage datasets from Chatbot Arena battles.

This is the public API; everything else may change.
"""

from arenatok.check import battle_from_row
from arenatok.errors import ArenatokError
from arenatok.load import open_local
from arenatok.metrics import token_usage
from arenatok.pipeline import build
from arenatok.steps import make_record
from arenatok.tokens import TokenCounter, count

__version__ = "0.1.0"

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
