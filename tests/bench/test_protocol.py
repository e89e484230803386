"""`bench.protocol`: your own strategy, loaded by `module:Class`; one that breaks the protocol
stops the run with its name and what it returned."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from arenatok.bench.strategies import Side, parse_strategies
from arenatok.cli import cli
from arenatok.errors import ArenatokError
from tests.bench.planted import planted

SIDE = Side(("Hello world", "And then?"), ("one two three four five", "six seven"))


def test_user_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_strategies.py").write_text(
        "from arenatok.bench.strategies import Sent\n"
        "class FirstWord:\n"
        "    name = 'first_word'\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side):\n"
        "        text = side.answers[0].split()[0] if side.answers[0].split() else ''\n"
        "        return Sent(text=text, tokens=1, bytes=len(text.encode()))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    [strategy] = parse_strategies(["my_strategies:FirstWord"])
    assert strategy.send(SIDE).text == "one"
    with pytest.raises(ArenatokError, match="cannot load strategy my_strategies:Nope"):
        parse_strategies(["my_strategies:Nope"])


def test_strategy_that_breaks_the_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_strategies.py").write_text(
        "class Text:\n"
        "    name = 'returns_str'\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side): return side.answers[0]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = planted(tmp_path, signal=True, n=120)
    result = CliRunner().invoke(cli, ["bench", str(out), "--strategy", "broken_strategies:Text"])
    assert (result.exit_code, result.output) == (
        2,
        "Error: strategy 'returns_str' broke the protocol: send() returned str, not Sent\n"
        "Hint: return arenatok.bench.strategies.Sent(text=..., tokens=..., bytes=...) or "
        "Sent(vector=..., bytes=...)\n",
    )
