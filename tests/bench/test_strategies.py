"""`bench.strategies` and `bench.protocol`: the built-in strategies by hand, your own
strategies (and one that breaks the protocol), the embed strategies, planted signals found where
they are kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from arenatok.bench import run_bench
from arenatok.bench.strategies import Full, LastTurn, Side, Truncate, parse_strategies
from arenatok.cli import cli
from arenatok.errors import ArenatokError, OptionError
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.bench.planted import planted, planted_rows
from tests.helpers import write_jsonl

SIDE = Side(("Hello world", "And then?"), ("one two three four five", "six seven"))


def _bench_planted(tmp_path: Path, kind: str, specs: list[str]) -> dict[str, dict[str, object]]:
    out = tmp_path / kind
    build(write_jsonl(tmp_path / f"{kind}.jsonl", planted_rows(kind, 500)), out=out, limit=None)
    bench = as_json(run_bench(out, parse_strategies(specs), rounds=200))
    return {r["strategy"]: r for r in bench["results"]}


def test_full_sends_everything() -> None:
    sent = Full().send(SIDE)
    assert sent.text == "Hello world\n\none two three four five\n\nAnd then?\n\nsix seven"
    assert sent.tokens == 2 + 5 + 3 + 2
    assert sent.bytes == 58  # 11 + 23 + 9 + 9 characters of ASCII, 3 separators of 2 bytes


def test_last_turn() -> None:
    sent = LastTurn().send(SIDE)
    assert sent.text == "And then?\n\nsix seven"
    assert (sent.tokens, sent.bytes) == (3 + 2, 20)


def test_truncate_head_and_tail() -> None:
    head = Truncate(2).send(SIDE)
    assert head.text == "Hello world\n\none two\n\nAnd then\n\nsix seven"
    assert head.tokens == 8
    tail = Truncate(2, tail=True).send(SIDE)
    assert tail.text == "Hello world\n\n four five\n\n then?\n\nsix seven"
    assert tail.tokens == 8
    assert Truncate(2).name == "truncate_head:2"
    assert Truncate(3, tail=True).name == "truncate_tail:3"


def test_parse_strategies_sweeps_and_errors() -> None:
    names = [s.name for s in parse_strategies(["full", "truncate_head:32,64", "lowrank:8"])]
    assert names == ["full", "truncate_head:32", "truncate_head:64", "lowrank:8"]
    with pytest.raises(ArenatokError, match=r"unknown strategy: 'gzip'"):
        parse_strategies(["gzip"])
    with pytest.raises(ArenatokError, match=r"say how much, e\.g\. truncate_tail:64"):
        parse_strategies(["truncate_tail"])


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


def test_unknown_strategy_is_an_option_error() -> None:
    with pytest.raises(OptionError):
        parse_strategies(["gzip"])


def test_a_signal_at_the_end_of_long_answers(tmp_path: Path) -> None:
    got = _bench_planted(
        tmp_path, "end", ["full", "truncate_tail:16", "truncate_head:16", "lowrank_learned:8"]
    )
    assert got["full"]["uses_content"] is True
    assert got["truncate_tail:16"]["uses_content"] is True  # keeps the end
    assert got["truncate_tail:16"]["non_inferior_to_full"] is True
    assert got["truncate_head:16"]["uses_content"] is False  # drops it
    assert got["truncate_head:16"]["non_inferior_to_full"] is False
    assert got["lowrank_learned:8"]["uses_content"] is True  # the supervised map finds it


def test_a_turn_1_signal_survives_in_a_recurrent_state(tmp_path: Path) -> None:
    got = _bench_planted(tmp_path, "turn1", ["full", "last_turn", "recurrent:8", "lowrank:8"])
    assert got["full"]["uses_content"] is True
    assert got["last_turn"]["uses_content"] is False  # turn 2 has no signal
    assert got["recurrent:8"]["uses_content"] is True  # carried from turn 1 in the state
    # Every battle has two turns: the recurrent side sends 8 float16 numbers per turn.
    assert got["recurrent:8"]["bytes_per_side"] == 2 * 8 * 2
    by_turn = got["recurrent:8"]["cost_by_turn"]
    assert [(c["turn"], c["bytes"]) for c in by_turn] == [(1, 16.0), (2, 32.0)]  # type: ignore[index, union-attr]


def test_the_recurrent_state_hand_checked() -> None:
    """s_1 = tanh(x_1), s_2 = tanh(s_1 + x_2): the state carries turn 1 into what is sent."""
    from arenatok.bench.corpus import Corpus
    from arenatok.bench.shared import Shared

    # One battle of two turns (6 messages), one of one turn (3 messages).
    corpus = Corpus(
        vote=np.array([1, 0], np.int8),
        test=np.array([False, False]),
        turns=np.array([2, 1], np.int32),
        model_a=["m1", "m1"],
        model_b=["m2", "m2"],
        style_a=np.zeros((2, 4)),
        style_b=np.zeros((2, 4)),
        lengths=np.ones(9, np.int64),
        sizes=np.ones(9, np.int64),
        ids=np.arange(9, dtype=np.int32),
        key=np.arange(2, dtype=np.uint64),
    )
    shared = Shared(corpus, np.array([0, 1]), np.array([0, 1]), np.array([1.0, 0.0]), 0)
    projected = np.arange(9, dtype=float)[:, None] / 10  # message m -> m / 10
    sent = shared.recurrent(projected)
    # Rows: side A of battles 1 and 2, then side B. Messages: user 1 (0), answer A 1 (1),
    # answer B 1 (2), user 2 (3), answer A 2 (4), answer B 2 (5); battle 2: 6, 7, 8.
    assert sent.vectors is not None
    assert sent.vectors[:, 0] == pytest.approx(
        [
            np.tanh(np.tanh(0.0 + 0.1) + 0.3 + 0.4),
            np.tanh(0.6 + 0.7),
            np.tanh(np.tanh(0.0 + 0.2) + 0.3 + 0.5),
            np.tanh(0.6 + 0.8),
        ]
    )
    # One float16 number a turn: by turn, cumulative; per side, the sum over its turns.
    assert list(sent.bytes) == [4, 2, 4, 2]
    assert list(sent.by_turn_bytes) == [2, 4, 2, 2, 4, 2]
    summed = shared.summed(projected)
    assert summed.vectors is not None
    assert summed.vectors[0, 0] == pytest.approx(0.0 + 0.1 + 0.3 + 0.4)
    assert list(summed.bytes) == [8, 4, 8, 4]  # one number a message


def test_embed_strategy_offline(tmp_path: Path) -> None:
    pytest.importorskip("wordllama", reason="the embed extra is not installed")
    got = _bench_planted(tmp_path, "end", ["embed:64", "embed:64@2"])
    row = got["embed:64"]
    assert row["bytes_per_side"] == 2 * 64 * 2  # two messages, 64 float16 numbers each
    assert got["embed:64@2"]["bytes_per_side"] == 2 * 64 * 2 / 8  # 2 bits a number
    [strategy] = parse_strategies(["embed"])
    assert strategy.name == "embed"


def test_embed_without_its_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "wordllama" else real(name, *a),
    )
    result = CliRunner().invoke(cli, ["bench", "nowhere", "--strategy", "embed:64"])
    assert result.exit_code == 4
    assert result.output == (
        "Error: the embed strategies need wordllama, which is not installed\n"
        "Hint: pip install 'arenatok[embed]'\n"
    )
