"""End to end, the command line's edges: options out of range and broken plug-ins (a tokenizer
or strategy module) are one line naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.e2e.commands import cli_run
from tests.helpers import battle, write_jsonl

PLUGINS = {
    "RaisesInInit": ("def __init__(self): raise ValueError('no config')", "making it without"),
    "RaisesInFit": ("def fit(self, sides): raise RuntimeError('fit broke')", "fit() raised"),
    "RaisesInSend": ("def send(self, side): raise KeyError('x')", "send() raised KeyError"),
    "ExitsInSend": ("def send(self, side): raise SystemExit(0)", "send() raised SystemExit"),
    "NanVector": (
        "def send(self, side): return Sent(vector=np.array([np.nan, 1.0]), bytes=4)",
        "Sent.vector holds NaN or infinity",
    ),
    "InfVector": (
        "def send(self, side): return Sent(vector=np.array([np.inf]), bytes=2)",
        "Sent.vector holds NaN or infinity",
    ),
    "TwoDVector": (
        "def send(self, side): return Sent(vector=np.ones((2, 2)), bytes=8)",
        "Sent.vector is of shape (2, 2), not one row of numbers",
    ),
    "NegativeTokens": (
        "def send(self, side): return Sent(text='x', tokens=-1, bytes=1)",
        "Sent.tokens is -1, not a whole number, 0 or more",
    ),
    "NanTokens": (
        "def send(self, side): return Sent(text='x', tokens=float('nan'), bytes=1)",
        "Sent.tokens is nan, not a whole number, 0 or more",
    ),
    "NumberName": ("name = 7", "its name is 7, not a text"),
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "{out}", "--seed", "-1"], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--seed", "-3"], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--seed", str(2**70)], "--seed must be a whole number from 0 to"),
        (["bench", "{out}", "--margin", "nan"], "--margin must be a number above 0 and at most"),
        (["bench", "{out}", "--margin", "inf"], "--margin must be a number above 0 and at most"),
        (["bench", "{out}", "--strategy", "full", "--strategy", "full"], "strategy full given"),
    ],
)
def test_options_out_of_range_are_one_line(tiny_build: Path, args: list[str], message: str) -> None:
    code, _, err = cli_run(*[a.format(out=tiny_build) for a in args])
    assert code == 2
    assert err.startswith(f"Error: {message}")
    assert not (tiny_build / "bench.json").exists()
    assert not (tiny_build / "report.json").exists()


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_a_broken_plugin_is_one_line_naming_it(
    plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, message = PLUGINS[plugin]
    module = f"hostile_{plugin.lower()}"  # one module each: an imported module is kept
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\nfrom arenatok.bench.strategies import Sent\n"
        f"class {plugin}:\n"
        "    name = 'mine'\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side): return Sent(text='x', tokens=1, bytes=1)\n"
        f"    {body}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "o"
    rows = [
        battle(f"q{i}", [(f"p{i}", f"a{i}", "b")], winner=("model_a", "model_b")[i % 2])
        for i in range(200)
    ]
    build(write_jsonl(tmp_path / "b.jsonl", rows), out=out)
    code, _, err = cli_run("bench", str(out), "--strategy", f"{module}:{plugin}")
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert "mine" in lines[0] or module in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith("Hint: ")
    assert not (out / "bench.json").exists()


def test_a_plugin_module_that_fails_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_import.py").write_text("import a_module_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli_run("bench", str(tmp_path), "--strategy", "broken_import:X")
    assert code == 2
    assert err.startswith(
        "Error: cannot load strategy broken_import:X (No module named 'a_module_that_is_not_"
    )
