"""`cli.analyses`: `arenatok report` and `arenatok bench`: their options refused in one line
(too few rounds, an unknown strategy), a missing extra named, a directory that cannot be
written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from arenatok.pipeline.driver import build
from tests.cli.commands import run
from tests.helpers import TINY, write_jsonl


@pytest.mark.parametrize("rounds", ["1", "99", "-1"])
def test_too_few_rounds_are_the_same_one_line_in_report_and_bench(
    rounds: str, tmp_path: Path
) -> None:
    """One rule: a 95% interval needs 100 resamples (0: none); report (whatever its
    intervals) and bench refuse fewer with the same two lines."""
    src = write_jsonl(tmp_path / "b.jsonl", TINY)
    run("build", "--source", str(src), "--out", str(tmp_path / "o"))
    refused = [
        run(*command, str(tmp_path / "o"), "--rounds", rounds)
        for command in (["report", "--intervals", "bootstrap"], ["report"], ["bench"])
    ]
    assert refused == [(2, "", refused[0][2])] * 3
    assert refused[0][2] == (
        f"Error: --rounds must be 0 (no intervals) or a whole number, 100 or more, got {rounds}\n"
        "Hint: a 95% interval's ends are the 2.5th and 97.5th percentiles of the resamples, "
        "which fewer than 100 place too roughly; for example --rounds 1000\n"
    )
    assert not (tmp_path / "o" / "report.json").exists()


def test_unknown_strategy_is_an_option_error(src: Path, tmp_path: Path) -> None:
    build(src, out=tmp_path / "o")
    code, _, err = run("bench", str(tmp_path / "o"), "--strategy", "gzip")
    assert code == 2
    assert err.startswith("Error: unknown strategy: 'gzip'\nHint: built in: ")


def test_a_missing_extra_names_it(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(src, out=tmp_path / "o")
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    code, _, err = run("bench", str(tmp_path / "o"))
    assert (code, err) == (
        4,
        "Error: arenatok bench needs scikit-learn, which is not installed\n"
        "Hint: pip install 'arenatok[bench]'\n",
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, _, err = run("report", str(tmp_path / "o"), "--rounds", "0")
    assert (code, err) == (
        4,
        "Error: arenatok report needs matplotlib, which is not installed\n"
        "Hint: pip install 'arenatok[report]'\n",
    )


def test_report_in_an_unwritable_directory_gives_no_out_hint(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import deny

    out = tmp_path / "o"
    build(src, out=out)
    deny(monkeypatch, out)
    code, _, err = run("report", str(out), "--rounds", "0")
    out.chmod(0o755)
    assert code == 3
    assert "--out" not in err
    assert err.endswith("Hint: make the directory writable, or copy the build elsewhere\n")


def test_the_reports_filters_come_from_its_options(tmp_path: Path) -> None:
    """TINY three times: vicuna-13b against koala-13b 9 times, alpaca-13b against
    dolly-v2-12b 3 times."""
    build(write_jsonl(tmp_path / "b.jsonl", TINY * 3), out=tmp_path / "o", duplicates="flag")
    out = tmp_path / "o"
    kept = {"anony_only": True, "battles_before": 12, "battles_after": 9}
    for options, excluded, below in (
        (["--exclude-model", "alpaca-13b", "--min-battles", "2"], ["alpaca-13b"], []),
        (["--min-battles", "4"], [], ["alpaca-13b", "dolly-v2-12b"]),
    ):
        code, text, err = run("report", str(out), "--rounds", "0", "--anony-only", *options)
        assert (code, err) == (0, "")
        assert text.splitlines()[-1] == f"wrote {out}/report.json, {out}/report.html"
        assert json.loads((out / "report.json").read_text())["ratings"]["filters"] == {
            **kept,
            "min_battles": int(options[-1]),
            "excluded_models": excluded,
            "models_below_min_battles": below,
        }
