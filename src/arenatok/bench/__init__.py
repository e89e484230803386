"""`arenatok bench`: how much of the human preference signal survives when each side sends
less (see `arenatok.bench.strategies`), against what it saves.

A preference predictor, trained on one split, sees only what the two sides communicated and
predicts the human winner on the other split. The modules, in the order a run uses them:
`corpus` (the builds read in shards, the split), `represent` and `shared` (token bags, one
vocabulary, one low-rank basis), `compress` (fewer bits, chosen sentences), `strategies` (the
built-ins, one module a family) and `protocol` (yours), `predict` (the predictor and the
references), `verdicts` (bootstrap, verdicts, power, the answer), `costs` (cost by turn),
`results` (the typed result), `bench_page` (bench.html), `run` (the stages), `files`
(bench.json and bench.html written).

The names below are imported on first use, after the `bench` extra is checked
(`errors.need_extra`), so that `import arenatok.bench.strategies` (the command line does)
loads neither numpy nor scikit-learn.
"""

from __future__ import annotations

from typing import Any

from arenatok.errors import need_extra

_PUBLIC = {
    "run_bench": "run",
    "write_bench": "files",
    "BENCH_JSON": "files",
    "BENCH_HTML": "files",
    "in_test_split": "corpus",
    "TEST_SHARE": "corpus",
    "auc": "verdicts",
    "multiclass_log_loss": "verdicts",
    "power_statement": "bench_page",
    "answer_sentences": "bench_page",
    "render_html": "bench_page",
}

NEEDS = {"sklearn": "scikit-learn", "scipy": "scipy", "matplotlib": "matplotlib"}
"""The libraries of the `bench` extra ({module: library})."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'arenatok.bench' has no attribute {name!r}")
    import importlib

    need_extra("arenatok bench", "bench", NEEDS)
    return getattr(importlib.import_module(f"arenatok.bench.{_PUBLIC[name]}"), name)
