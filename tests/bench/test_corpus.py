"""`bench.corpus`: the split (pinned, by prompt and seed), pooled builds (one split, copies
counted once, the same build twice refused)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from arenatok.bench import TEST_SHARE, in_test_split
from arenatok.cli import cli
from arenatok.pipeline.driver import build
from tests.bench.planted import planted, planted_rows
from tests.helpers import write_jsonl


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


def test_pooled_builds_share_one_split(tmp_path: Path) -> None:
    rows = planted_rows("end", 400)
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
            "100",
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


def test_the_same_build_twice_is_refused(tmp_path: Path) -> None:
    """Pooling a build with itself (or with a copy of it) would count its votes twice."""
    import shutil

    out = planted(tmp_path, signal=True, n=120)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for args in ([str(out), str(out)], [str(out), str(copy)]):
        result = CliRunner().invoke(cli, ["bench", *args, "--strategy", "full", "--rounds", "100"])
        assert result.exit_code == 2, result.output
        assert "is the same build as" in result.output
        assert "Hint: give each build once" in result.output


def test_copies_across_pooled_builds_count_once(tmp_path: Path) -> None:
    """Two builds that share 50 battles: pooled, the later copies are left out and said so;
    the rest of each build stays (copies within one build are the build's to flag)."""
    rows = planted_rows("end", 300)
    one, two = tmp_path / "one", tmp_path / "two"
    build(write_jsonl(tmp_path / "1.jsonl", rows[:200]), out=one, limit=None)
    build(write_jsonl(tmp_path / "2.jsonl", rows[150:]), out=two, limit=None)
    args = ["bench", str(one), str(two), "--strategy", "full", "--rounds", "100"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "pooled")])
    assert result.exit_code == 0, result.output
    assert "300 battles from 2 builds (50 copies of battles of an earlier build left out)" in (
        result.output
    )
    bench = json.loads((tmp_path / "pooled" / "bench.json").read_text())
    assert bench["battles"] == 300
    assert [b["battles"] for b in bench["builds"]] == [200, 150]
    assert [b["left_out_as_copies_of_an_earlier_build"] for b in bench["builds"]] == [0, 50]
