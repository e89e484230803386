from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from arenatok.bench import TEST_SHARE, auc, in_test_split, run_bench, write_bench
from arenatok.bench.strategies import Full, LastTurn, Side, Truncate, parse_strategies
from arenatok.cli import cli
from arenatok.dataset.built import read_built
from arenatok.errors import ArenatokError, OptionError, OutputError, SourceError
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.helpers import battle, write_jsonl

SIDE = Side(("Hello world", "And then?"), ("one two three four five", "six seven"))
# Tokens by hand (cl100k_base): Hello| world (2), one| two| three| four| five (5),
# And| then|? (3), six| seven (2).


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


def test_split_is_pinned() -> None:
    """Which prompts are held out, pinned: a change of the rule (or of its hash) moves them."""
    prompts = [
        "What is the difference between OpenCL and CUDA?",
        "Hi there",
        "prompt 1",
        "prompt 2",
        "prompt 3",
        "",
        "Write a haiku",
    ]
    assert [in_test_split(p, seed=0) for p in prompts] == [0, 0, 1, 1, 0, 0, 0]
    assert [in_test_split(p, seed=1) for p in prompts] == [0, 1, 0, 0, 0, 0, 1]


@given(st.text(max_size=30), st.integers(0, 10))
def test_split_depends_on_the_prompt_and_seed_only(prompt: str, seed: int) -> None:
    assert in_test_split(prompt, seed=seed) == in_test_split(str(prompt), seed=int(seed))
    assert isinstance(in_test_split(prompt, seed=seed), bool)


def test_split_share_and_seed() -> None:
    prompts = [f"prompt {i}" for i in range(20_000)]
    shares = [np.mean([in_test_split(p, seed=s) for p in prompts]) for s in (0, 1)]
    assert all(abs(x - TEST_SHARE) < 0.01 for x in shares)
    first, second = ([in_test_split(p, seed=s) for p in prompts] for s in (0, 1))
    assert 0.25 < np.mean(np.array(first) != np.array(second)) < 0.40  # seeds re-split


def test_auc_against_pairs() -> None:
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.1, 0.4, 0.4, 0.2])
    # Pairs (pos, neg): (0.9 vs 0.1, 0.4) wins twice; (0.4 vs 0.1) win, (0.4 vs 0.4) half;
    # (0.2 vs 0.1) win, (0.2 vs 0.4) loss: 4.5 of 6.
    assert auc(y, p) == pytest.approx(4.5 / 6)


def _planted(tmp_path: Path, *, signal: bool, n: int = 400) -> Path:
    rng = random.Random(1)
    rows = []
    topics = [f"topic{i}" for i in range(60)]
    for i in range(n):
        prompt = f"Tell me about {rng.choice(topics)} number {i}"
        filler = " ".join(rng.choices(topics, k=6))
        # The same number of tokens either way: only the words tell the winner.
        good, bad = f"good answer {filler}", f"bad answer {filler}"
        a_wins = rng.random() < 0.5
        if signal:
            a, b = (good, bad) if a_wins else (bad, good)
        else:
            a, b = (good, bad) if rng.random() < 0.5 else (bad, good)
        rows.append(
            battle(
                f"q{i}",
                [(prompt, a, b)],
                winner="model_a" if a_wins else "model_b",
                model_a=rng.choice(["m1", "m2"]),
                model_b="m3",
            )
        )
    out = tmp_path / ("signal" if signal else "noise")
    build(write_jsonl(tmp_path / f"{out.name}.jsonl", rows), out=out, limit=None)
    return out


def test_predictor_learns_a_planted_signal(tmp_path: Path) -> None:
    bench = as_json(
        run_bench(_planted(tmp_path, signal=True), parse_strategies(["full"]), rounds=200)
    )
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    assert full["auc"] > 0.95
    assert full["uses_content"] is True


def test_predictor_stays_at_chance_on_noise(tmp_path: Path) -> None:
    bench = as_json(
        run_bench(_planted(tmp_path, signal=False), parse_strategies(["full"]), rounds=200)
    )
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    lo, hi = full["auc_ci95"]
    assert lo < 0.5 < hi
    assert full["uses_content"] is False


def test_bench_end_to_end_on_real_data(arena_parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(arena_parquet, out=out, limit=None)
    args = [
        "bench",
        str(out),
        "--strategy",
        "full",
        "--strategy",
        "truncate_head:32",
        "--strategy",
        "lowrank:16",
        "--rounds",
        "100",
    ]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    saved = (out / "bench.json").read_bytes()
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert (out / "bench.json").read_bytes() == saved  # deterministic for a seed
    bench = json.loads(saved)
    assert [r["strategy"] for r in bench["results"]] == [
        "reference: length only",
        "reference: style (length, markdown)",
        "reference: model identity (Bradley-Terry)",
        "full",
        "truncate_head:32",
        "lowrank:16",
    ]
    data = read_built(out).battles
    test = [in_test_split(u[0], seed=0) for u in data.users]
    decisive = [w in ("model_a", "model_b") for w in data.winner]
    assert bench["split"] == {
        **bench["split"],
        "test_decisive": sum(t and d for t, d in zip(test, decisive, strict=True)),
        "train_decisive": sum(not t and d for t, d in zip(test, decisive, strict=True)),
        "test_ties": sum(t and not d for t, d in zip(test, decisive, strict=True)),
        "train_ties": sum(not t and not d for t, d in zip(test, decisive, strict=True)),
    }
    assert "<svg" in (out / "bench.html").read_text()


def test_strategy_that_breaks_the_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_strategies.py").write_text(
        "class Text:\n"
        "    name = 'returns_str'\n"
        "    def fit(self, sides): pass\n"
        "    def send(self, side): return side.answers[0]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = _planted(tmp_path, signal=True, n=120)
    result = CliRunner().invoke(cli, ["bench", str(out), "--strategy", "broken_strategies:Text"])
    assert (result.exit_code, result.output) == (
        2,
        "Error: strategy 'returns_str' broke the protocol: send() returned str, not Sent\n"
        "Hint: return arenatok.bench.strategies.Sent(text=..., tokens=..., bytes=...) or "
        "Sent(vector=..., bytes=...)\n",
    )


def test_bench_on_a_build_with_no_records(tmp_path: Path) -> None:
    rows = [battle("q1", winner="nobody")]
    out = tmp_path / "empty"
    build(write_jsonl(tmp_path / "e.jsonl", rows), out=out, on_bad_row="reject", allow_empty=True)
    with pytest.raises(SourceError, match="too few decisive votes"):
        as_json(run_bench(out, parse_strategies(["full"]), rounds=10))
    result = CliRunner().invoke(cli, ["bench", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")


def test_unknown_strategy_is_an_option_error() -> None:
    with pytest.raises(OptionError):
        parse_strategies(["gzip"])


# ---- the instrument is valid: planted signals are found where they are kept -------------------


def _planted_rows(kind: str, n: int, seed: int = 2, flip: float = 0.0) -> list[dict[str, object]]:
    """Battles whose vote depends only on a planted word. `end`: the last word of a long answer
    (the same length either way). `turn1`: the first answer of a two-turn battle; the second
    turn carries no signal. `flip`: the share of votes that go against the signal."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    rows = []
    for i in range(n):
        a_wins = rng.random() < 0.5
        win, lose = "good", "bad"  # one token each, at the start or after a space

        def filler(k: int) -> str:
            return " ".join(rng.choices(words, k=k))

        if kind == "end":
            a = f"{filler(150)} {win if a_wins else lose}"
            b = f"{filler(150)} {lose if a_wins else win}"
            turns = [(f"question {i} {filler(3)}", a, b)]
        else:
            a = f"{win if a_wins else lose} {filler(20)}"
            b = f"{lose if a_wins else win} {filler(20)}"
            turns = [
                (f"question {i} {filler(3)}", a, b),
                (f"and then {filler(3)}", filler(20), filler(20)),
            ]
        if rng.random() < flip:
            a_wins = not a_wins
        rows.append(
            battle(
                f"q{i}",
                turns,
                winner="model_a" if a_wins else "model_b",
                model_a="m1",
                model_b="m2",
            )
        )
    return rows


def _bench_planted(tmp_path: Path, kind: str, specs: list[str]) -> dict[str, dict[str, object]]:
    out = tmp_path / kind
    build(write_jsonl(tmp_path / f"{kind}.jsonl", _planted_rows(kind, 500)), out=out, limit=None)
    bench = as_json(run_bench(out, parse_strategies(specs), rounds=200))
    return {r["strategy"]: r for r in bench["results"]}


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


def test_power_and_verdicts_are_stated(tmp_path: Path) -> None:
    out = tmp_path / "noisy"
    rows = _planted_rows("end", 500, flip=0.25)
    build(write_jsonl(tmp_path / "noisy.jsonl", rows), out=out, limit=None)
    bench = as_json(
        run_bench(out, parse_strategies(["full", "truncate_tail:8"]), rounds=200, margin=0.05)
    )
    power = bench["power"]
    assert power["test_votes"] == bench["split"]["test_decisive"]
    # Against the interval, an independent estimate of the same standard error: a 95%
    # percentile interval is about 2 x 1.96 standard errors wide, the detectable difference
    # 2.80 of them.
    tail = next(r for r in bench["results"] if r["strategy"] == "truncate_tail:8")
    lo, hi = tail["auc_minus_full_ci95"]
    assert power["detectable_difference"] == pytest.approx(2.80 * (hi - lo) / 3.92, rel=0.2)
    assert bench["margin"] == 0.05
    assert "lies above -0.05" in bench["verdicts"]["non_inferior_to_full"]


def test_three_way_outcome_predicts_ties(tmp_path: Path) -> None:
    rows = _planted_rows("end", 500)
    for k, r in enumerate(rows):
        if k % 4 == 0:  # a quarter are ties, with the same last word on both sides
            r["winner"] = "tie"
    out = tmp_path / "three"
    build(write_jsonl(tmp_path / "three.jsonl", rows), out=out, limit=None)
    bench = as_json(run_bench(out, parse_strategies(["full"]), rounds=100, outcome="three-way"))
    assert bench["compared_on"] == "log_loss"
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    uniform = math.log(3)
    assert full["log_loss"] < uniform
    assert full["uses_content"] is True  # lower log-loss than the length-only reference
    assert bench["split"]["ties"] == "predicted as a third class"


def test_multiclass_log_loss_hand_checked() -> None:
    from arenatok.bench import multiclass_log_loss

    p = np.array([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    assert multiclass_log_loss(np.array([1, 2]), p) == pytest.approx(
        -(math.log(0.5) + math.log(1 / 3)) / 2
    )


def test_pooled_builds_share_one_split(tmp_path: Path) -> None:
    rows = _planted_rows("end", 400)
    one, two = tmp_path / "one", tmp_path / "two"
    build(write_jsonl(tmp_path / "1.jsonl", rows[:200]), out=one, limit=None)
    build(write_jsonl(tmp_path / "2.jsonl", rows[200:]), out=two, limit=None)
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            str(one),
            str(two),
            "--strategy",
            "full",
            "--rounds",
            "50",
            "--out",
            str(tmp_path / "pooled"),
        ],
    )
    assert result.exit_code == 0, result.output
    bench = json.loads((tmp_path / "pooled" / "bench.json").read_text())
    assert [b["battles"] for b in bench["builds"]] == [200, 200]
    assert [b["build"] for b in bench["builds"]] == [
        json.loads((d / "artifact_metadata.json").read_text())["files"]["data_out.jsonl"]["sha256"]
        for d in (one, two)
    ]
    assert bench["battles"] == 400
    assert "power" in bench
    assert "run time" in result.output


def test_write_bench_makes_its_out_directory(tmp_path: Path) -> None:
    out = _planted(tmp_path, signal=True, n=200)
    target = tmp_path / "new" / "bench"
    bench = write_bench(out, parse_strategies(["full"]), write_to=target, rounds=20)
    assert json.loads((target / "bench.json").read_text()) == as_json(bench)
    assert (target / "bench.html").read_text().startswith("<!DOCTYPE html>")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutputError, match="a-file"):
        write_bench(out, parse_strategies(["full"]), write_to=tmp_path / "a-file" / "x")


def test_jobs_do_not_change_the_numbers(tmp_path: Path) -> None:
    out = _planted(tmp_path, signal=True, n=200)
    specs = [
        "full",
        "truncate_head:4",
        "lowrank:4",
        "recurrent:4@2",
        "extract:8",
        "lowrank:4@1+extract_lead:8",
    ]
    one = as_json(run_bench(out, parse_strategies(specs), rounds=50, jobs=1))
    two = as_json(run_bench(out, parse_strategies(specs), rounds=50, jobs=2))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_embed_strategy_offline(tmp_path: Path) -> None:
    pytest.importorskip("wordllama", reason="the embed extra is not installed")
    got = _bench_planted(tmp_path, "end", ["embed:64", "embed:64@2"])
    row = got["embed:64"]
    assert row["bytes_per_side"] == 2 * 64 * 2  # two messages, 64 float16 numbers each
    assert got["embed:64@2"]["bytes_per_side"] == 2 * 64 * 2 / 8  # 2 bits a number
    [strategy] = parse_strategies(["embed"])
    assert strategy.name == "embed"


def test_bench_on_a_55k_layout_build_three_way(tmp_path: Path) -> None:
    """The Kaggle 55k layout (999 real rows, 131 multi-turn): the three-way outcome, a
    recurrent strategy over real multi-turn battles, cost by turn beside the full-state
    resend, and quality by turn count."""
    from tests.helpers import need_shared

    src = need_shared() / "data" / "khaaliswooden-max_llm-kaggle-comp" / "train_sample.csv"
    out = tmp_path / "o"
    build(src, out=out, limit=None, allow_null_turns=True, on_bad_row="reject")
    bench = as_json(
        run_bench(
            out,
            parse_strategies(["full", "last_turn", "recurrent:8"]),
            rounds=100,
            outcome="three-way",
        )
    )
    rows = {r["strategy"]: r for r in bench["results"]}
    assert bench["split"]["test_votes"] == bench["power"]["test_votes"] > 100
    full_state = bench["cost_by_turn_full_state"]
    assert len(full_state) > 2
    for r in ("full", "recurrent:8"):
        by_turn = rows[r]["cost_by_turn"]
        assert [c["turn"] for c in by_turn] == [c["turn"] for c in full_state]
    assert rows["recurrent:8"]["cost_by_turn"][2]["bytes"] == 3 * 2 * 8  # 8 float16s a turn
    # Resending the history grows faster than sending each message once.
    assert full_state[2]["bytes"] > rows["full"]["cost_by_turn"][2]["bytes"]
    assert set(rows["full"]["by_turns"]) == {"single-turn", "multi-turn"}
    assert all(0 < r["log_loss"] < 2 for r in bench["results"])


def test_three_way_without_ties_in_training(tmp_path: Path) -> None:
    """No tie anywhere: three-way still runs; the tie class gets probability 0."""
    out = _planted(tmp_path, signal=True, n=200)
    bench = as_json(run_bench(out, parse_strategies(["full"]), rounds=20, outcome="three-way"))
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    assert full["log_loss"] < math.log(3)


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
    assert "pip install 'arenatok[embed]'" in result.output


def test_the_same_build_twice_is_refused(tmp_path: Path) -> None:
    """Pooling a build with itself (or with a copy of it) would count its votes twice."""
    import shutil

    out = _planted(tmp_path, signal=True, n=120)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for args in ([str(out), str(out)], [str(out), str(copy)]):
        result = CliRunner().invoke(cli, ["bench", *args, "--strategy", "full", "--rounds", "10"])
        assert result.exit_code == 2, result.output
        assert "is the same build as" in result.output
        assert "Hint: give each build once" in result.output


def test_copies_across_pooled_builds_count_once(tmp_path: Path) -> None:
    """Two builds that share 50 battles: pooled, the later copies are left out and said so;
    the rest of each build stays (copies within one build are the build's to flag)."""
    rows = _planted_rows("end", 300)
    one, two = tmp_path / "one", tmp_path / "two"
    build(write_jsonl(tmp_path / "1.jsonl", rows[:200]), out=one, limit=None)
    build(write_jsonl(tmp_path / "2.jsonl", rows[150:]), out=two, limit=None)
    args = ["bench", str(one), str(two), "--strategy", "full", "--rounds", "20"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "pooled")])
    assert result.exit_code == 0, result.output
    assert "300 battles from 2 builds (50 copies of battles of an earlier build left out)" in (
        result.output
    )
    bench = json.loads((tmp_path / "pooled" / "bench.json").read_text())
    assert bench["battles"] == 300
    assert [b["battles"] for b in bench["builds"]] == [200, 150]
    assert [b["left_out_as_copies_of_an_earlier_build"] for b in bench["builds"]] == [0, 50]


def test_bench_numbers_on_a_committed_fixture(tmp_path: Path) -> None:
    """Values a checkout without ../shared still checks, each explained: the planted battles
    (`_planted`: 200, the winner's answer starts "good answer", the loser's "bad answer", the
    rest shared filler) split 163 / 37 by the prompt rule."""
    out = _planted(tmp_path, signal=True, n=200)
    bench = as_json(
        run_bench(out, parse_strategies(["full", "truncate_tail:2", "lowrank:4"]), rounds=50)
    )
    rows = {r["strategy"]: r for r in bench["results"]}
    assert (bench["split"]["train_votes"], bench["split"]["test_votes"]) == (163, 37)
    # full reads "good"/"bad": perfect; the last 2 tokens of each message are filler: chance.
    assert (rows["full"]["auc"], rows["full"]["auc_ci95"]) == (1.0, [1.0, 1.0])
    assert rows["truncate_tail:2"]["auc"] == 0.5
    # Cost: 2 tokens of each of the 2 messages; 4 float16 numbers for each message.
    assert rows["truncate_tail:2"]["tokens_per_side"] == 4.0
    assert rows["lowrank:4"]["bytes_per_side"] == 2 * 4 * 2
    assert rows["full"]["tokens_per_side"] == 22.0
    # Both answers have the same number of tokens: length alone knows nothing.
    assert rows["reference: length only"]["auc"] == 0.5
