"""The configs of the card, in the order the card lists them (the default first, so that the
Hub's viewer opens on it); one module each under `base.Config`."""

from __future__ import annotations

from typing import Any

from arenatok.dataset.configs import default, flat, preference, turns
from arenatok.dataset.configs.base import Config

CONFIGS: tuple[Config[Any], ...] = (default.CONFIG, flat.CONFIG, turns.CONFIG, preference.CONFIG)
DEFAULT = default.CONFIG
