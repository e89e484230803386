"""`bench.run`, `bench.verdicts` and `bench.files`: the predictor (a planted signal, noise),
AUC and log-loss by hand, power and verdicts, three-way outcomes, jobs, the files, real data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from arenatok.bench import auc, in_test_split, run_bench, write_bench
from arenatok.bench.strategies import parse_strategies
from arenatok.cli import cli
from arenatok.dataset.built import read_built
from arenatok.errors import OutputError, SourceError
from arenatok.pipeline.driver import build
from arenatok.sections import as_json
from tests.bench.planted import planted, planted_rows
from tests.helpers import battle, write_jsonl


def test_auc_against_pairs() -> None:
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.9, 0.1, 0.4, 0.4, 0.2])
    # Pairs (pos, neg): (0.9 vs 0.1, 0.4) wins twice; (0.4 vs 0.1) win, (0.4 vs 0.4) half;
    # (0.2 vs 0.1) win, (0.2 vs 0.4) loss: 4.5 of 6.
    assert auc(y, p) == pytest.approx(4.5 / 6)


def test_predictor_learns_a_planted_signal(tmp_path: Path) -> None:
    bench = as_json(
        run_bench(planted(tmp_path, signal=True), parse_strategies(["full"]), rounds=200)
    )
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    assert full["auc"] > 0.95
    assert full["uses_content"] is True


def test_predictor_stays_at_chance_on_noise(tmp_path: Path) -> None:
    bench = as_json(
        run_bench(planted(tmp_path, signal=False), parse_strategies(["full"]), rounds=200)
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


def test_bench_on_a_build_with_no_records(tmp_path: Path) -> None:
    rows = [battle("q1", winner="nobody")]
    out = tmp_path / "empty"
    build(write_jsonl(tmp_path / "e.jsonl", rows), out=out, on_bad_row="reject", allow_empty=True)
    with pytest.raises(SourceError, match="too few decisive votes"):
        as_json(run_bench(out, parse_strategies(["full"]), rounds=100))
    result = CliRunner().invoke(cli, ["bench", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")


def test_power_and_verdicts_are_stated(tmp_path: Path) -> None:
    out = tmp_path / "noisy"
    rows = planted_rows("end", 500, flip=0.25)
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
    rows = planted_rows("end", 500)
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


def test_write_bench_makes_its_out_directory(tmp_path: Path) -> None:
    out = planted(tmp_path, signal=True, n=200)
    target = tmp_path / "new" / "bench"
    bench = write_bench(out, parse_strategies(["full"]), write_to=target, rounds=100)
    assert json.loads((target / "bench.json").read_text()) == as_json(bench)
    assert (target / "bench.html").read_text().startswith("<!DOCTYPE html>")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutputError, match="a-file"):
        write_bench(out, parse_strategies(["full"]), write_to=tmp_path / "a-file" / "x")


def test_a_bench_that_fails_leaves_no_empty_out_directory(tmp_path: Path) -> None:
    out = tmp_path / "o"
    build(write_jsonl(tmp_path / "b.jsonl", [battle(f"q{i}") for i in range(5)]), out=out)
    with pytest.raises(SourceError, match="too few"):
        write_bench(out, parse_strategies(["full"]), write_to=tmp_path / "new" / "bench")
    assert not (tmp_path / "new").exists()


def test_jobs_do_not_change_the_numbers(tmp_path: Path) -> None:
    out = planted(tmp_path, signal=True, n=200)
    specs = [
        "full",
        "truncate_head:4",
        "lowrank:4",
        "recurrent:4@2",
        "extract:8",
        "lowrank:4@1+extract_lead:8",
    ]
    one = as_json(run_bench(out, parse_strategies(specs), rounds=100, jobs=1))
    two = as_json(run_bench(out, parse_strategies(specs), rounds=100, jobs=2))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


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
    out = planted(tmp_path, signal=True, n=200)
    bench = as_json(run_bench(out, parse_strategies(["full"]), rounds=100, outcome="three-way"))
    full = next(r for r in bench["results"] if r["strategy"] == "full")
    assert full["log_loss"] < math.log(3)


def test_bench_numbers_on_a_committed_fixture(tmp_path: Path) -> None:
    """Values a checkout without ../shared still checks, each explained: the planted battles
    (`planted`: 200, the winner's answer starts "good answer", the loser's "bad answer", the
    rest shared filler) split 163 / 37 by the prompt rule."""
    out = planted(tmp_path, signal=True, n=200)
    bench = as_json(
        run_bench(out, parse_strategies(["full", "truncate_tail:2", "lowrank:4"]), rounds=100)
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
