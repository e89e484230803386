"""Takes per-battle features out of a build, to time what each costs (bench_build.py's
`build-without-keys`, `build-without-markdown`). Python imports this module at the start of
every process whose PYTHONPATH holds this folder: the command, its fork server and its workers.

ARENATOK_BENCH_WITHOUT is a comma-separated list:

- `keys`: each battle gets distinct stand-in duplicate keys (no text is normalized or hashed;
  no battle is a duplicate), sent back and matched as real ones are;
- `markdown`: each answer's markdown counts are those of an empty answer (no pattern runs).

The records keep their shape; their values change, so such a build's output is for timing only.
"""

from __future__ import annotations

import os

_WITHOUT = set(filter(None, os.environ.get("ARENATOK_BENCH_WITHOUT", "").split(",")))

_UNKNOWN = _WITHOUT - {"keys", "markdown"}
if _UNKNOWN:
    raise SystemExit(f"ARENATOK_BENCH_WITHOUT: unknown {sorted(_UNKNOWN)}")

if _WITHOUT:
    import itertools
    from typing import Any

    from arenatok.pipeline import steps
    from arenatok.pipeline.battle import Battle
    from arenatok.pipeline.keys import BatchKeys
    from arenatok.pipeline.records import Style
    from arenatok.pipeline.style import battle_style

    if "keys" in _WITHOUT:
        _serial = itertools.count(1)

        def _stand_in_keys(battles: list[Battle], release: str | None) -> BatchKeys:
            import numpy as np

            # distinct in every process: the process id above the count, four digests apart
            base = np.array([(os.getpid() << 34) + 4 * next(_serial) for _ in battles], np.uint64)
            return BatchKeys(
                [b.question_id for b in battles],
                base,
                None if release is None else base + np.uint64(1),
                base + np.uint64(2),
                base + np.uint64(3),
                np.full(len(battles), 2, np.uint8),
                [(b.model_a, b.model_b) for b in battles],
            )

        steps.batch_keys = _stand_in_keys  # type: ignore[assignment]

    if "markdown" in _WITHOUT:
        _empty: dict[int, Style] = {}

        def _empty_style(answers_a: Any, answers_b: Any) -> Style:
            n = len(answers_a)
            if n not in _empty:
                _empty[n] = battle_style(("",) * n, ("",) * n)
            return _empty[n]

        steps.battle_style = _empty_style  # type: ignore[assignment]
