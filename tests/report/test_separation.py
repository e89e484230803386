"""Separation (`report.separation`): a model that never lost (or never won) against the rest
has no maximum-likelihood rating. The report says so, leaves it out of every fit, so that no
other rating moves, and says "not estimable" where an interval has no spread to estimate it
from (all ties, one battle), never a zero width. On the 2,008 real battles with 8 wins of a new
model, on small cases by hand, and as properties of random small battle graphs."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arenatok.cli import cli
from arenatok.dataset.built import Battles, read_built
from arenatok.pipeline.driver import build
from arenatok.report import separation
from arenatok.report.leaderboards import leaderboard
from arenatok.sections import as_json
from tests.helpers import battle, write_jsonl

FITS = ("bradley_terry", "length_controlled", "style_controlled")
OPPONENTS = [
    "vicuna-13b", "koala-13b", "alpaca-13b", "oasst-pythia-12b",
    "stablelm-tuned-alpha-7b", "chatglm-6b", "dolly-v2-12b", "llama-13b",
]  # fmt: skip


def table_row(output: str, model: str) -> list[str]:
    """The cells of a model's row of the terminal's leaderboard, its words joined across the
    lines a cell takes."""
    lines = output.splitlines()
    at = next(k for k, x in enumerate(lines) if x.startswith(f"│ {model} "))
    rows = [[x.strip() for x in lines[at].split("│")[1:-1]]]
    for line in lines[at + 1 :]:
        cells = [x.strip() for x in line.split("│")[1:-1]]
        if not cells or cells[0]:
            break
        rows.append(cells)
    return [" ".join(filter(None, column)) for column in zip(*rows, strict=True)]


def fitted(row: dict[str, Any]) -> dict[str, Any]:
    """What the fits give a model: every rating, interval, rank and reason (not its battles or
    online Elo, which count every battle)."""
    return {k: v for k, v in row.items() if k not in ("battles", "online_elo")}


# ---- the 2,008 real battles and a model that won all of its 8 ---------------------------------


@pytest.fixture(scope="module")
def with_newcomer(arena_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real battles, built as they are (`plain/`) and with 8 more (`newcomer/`): a new
    model beats each of the 8 models once."""
    root = tmp_path_factory.mktemp("separation")
    table = pq.read_table(arena_parquet)
    extra = table.slice(0, 8).to_pylist()
    for k, (row, opponent) in enumerate(zip(extra, OPPONENTS, strict=True)):
        row.update(question_id=f"newcomer-{k}", model_a="newcomer", model_b=opponent)
        row.update(winner="model_a" if k % 2 else "model_b")
        if k % 2 == 0:  # half the wins as model B
            row.update(model_a=opponent, model_b="newcomer")
    both = pa.concat_tables([table, pa.Table.from_pylist(extra, schema=table.schema)])
    pq.write_table(both, root / "newcomer.parquet")
    build(arena_parquet, out=root / "plain", limit=None)
    build(root / "newcomer.parquet", out=root / "newcomer", limit=None)
    return root


@pytest.mark.parametrize(
    "args", [[], ["--reweight"], ["--intervals", "bootstrap", "--rounds", "100"]]
)
def test_a_model_that_won_all_its_battles_moves_no_other_rating(
    with_newcomer: Path, args: list[str]
) -> None:
    reports = {}
    for name in ("plain", "newcomer"):
        result = CliRunner().invoke(cli, ["report", str(with_newcomer / name), *args])
        assert result.exit_code == 0, result.output
        reports[name] = json.loads((with_newcomer / name / "report.json").read_text())
    plain, new = reports["plain"]["ratings"], reports["newcomer"]["ratings"]
    rows = {r["model"]: r for r in new["models"]}
    first = new["models"][0]
    assert first["model"] == "newcomer"  # above every rated model, with no rating
    for fit in FITS:
        assert (first[fit], first[f"{fit}_ci95"], first[f"{fit}_rank"]) == (None, None, None)
        assert first["not_estimable"][fit].startswith(
            "unbounded above: no rated model beat or tied it"
        )
        assert first["not_estimable"][f"{fit}_ci95"] == (
            "unbounded above: no finite rating, so no interval around it"
        )
    # Every other model: the same ratings, intervals and ranks, to the last bit.
    assert [fitted(r) for r in plain["models"]] == [fitted(r) for r in new["models"][1:]]
    assert rows["vicuna-13b"]["bradley_terry_rank"] == 1
    assert new["coefficients"] == plain["coefficients"]
    assert (new["battles"], new["battles_left_out"]) == (2016, 8)
    assert new["method"]["separation"].startswith("a model that never lost (or never won)")
    assert "separation" not in plain["method"]
    pairs = [p for p in new["pairwise"] if "newcomer" not in (p["model"], p["opponent"])]
    assert pairs == plain["pairwise"]
    against = [p for p in new["pairwise"] if "newcomer" in (p["model"], p["opponent"])]
    assert len(against) == 8
    assert all(p["predicted_score"] is p["z"] is None for p in against)
    caveats = reports["newcomer"]["caveats"]
    assert any(
        x.startswith("No finite rating for 1 model: newcomer (unbounded above). A model that")
        and "Its 8 battles are left out of the fits" in x
        for x in caveats
    )


def test_the_page_and_the_terminal_say_unbounded(with_newcomer: Path) -> None:
    out = with_newcomer / "newcomer"
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert table_row(result.output, "newcomer") == [
        "newcomer", "8", "unbounded above", "unbounded above", "", "unbounded above",
        "unbounded above", "", "unbounded above", "1016",
    ]  # fmt: skip
    assert "│ unbounded │" in result.output  # a word a line: the columns stay narrow
    assert "note: No finite rating for 1 model: newcomer (unbounded above)." in " ".join(
        result.output.split()
    )
    page = (out / "report.html").read_text()
    row = page[page.index('<td class="w">newcomer</td>') :].split("</tr>")[0]
    assert row.count("<td>unbounded above</td>") == 6  # three ratings, three intervals
    assert "No finite rating for 1 model: newcomer (unbounded above)." in page


def test_a_model_whose_only_battle_is_a_tie_with_an_equal_has_no_interval(
    with_newcomer: Path,
) -> None:
    """echo's one battle is a tie with vicuna-13b: it is rated vicuna's equal, scored exactly as
    predicted, so the sandwich cannot say how far from vicuna it could be (it gave vicuna's
    interval); the other models keep theirs."""
    real = read_built(with_newcomer / "plain").battles
    games = [*zip(real.model_a, real.model_b, real.winner, strict=True)]
    rows = {
        r["model"]: r
        for r in as_json(leaderboard(battles([*games, ("echo", "vicuna-13b", "tie")]), rounds=0,
                                     seed=0))["models"]
    }  # fmt: skip
    echo = rows.pop("echo")
    vicuna = rows["vicuna-13b"]["bradley_terry"]
    assert echo["bradley_terry"] == pytest.approx(vicuna, abs=1e-2)  # to the vanishing ridge
    assert (echo["bradley_terry_ci95"], echo["bradley_terry_rank"]) == (None, None)
    assert echo["not_estimable"]["bradley_terry_ci95"].startswith(
        "not estimable: the sandwich has no spread of outcomes"
    )
    assert all(r["bradley_terry_ci95"][1] - r["bradley_terry_ci95"][0] > 30 for r in rows.values())


# ---- by hand ----------------------------------------------------------------------------------


def battles(games: list[tuple[str, str, str]]) -> Battles:
    n = len(games)
    return Battles(
        model_a=[a for a, _, _ in games], model_b=[b for _, b, _ in games],
        winner=[w for _, _, w in games], timestamp=[None] * n,
        output_a=[10 + k % 7 for k in range(n)], output_b=[12 + k % 5 for k in range(n)],
        style_a=[(k % 2, 0, 0) for k in range(n)], style_b=[(0, k % 3, 0) for k in range(n)],
    )  # fmt: skip


def test_standings_by_hand() -> None:
    def place(games: list[tuple[int, int, float]], n: int) -> list[str]:
        i, j, s = (np.array(x) for x in zip(*games, strict=True))
        return separation.standings(n, i, j, s.astype(float)).place

    assert place([(0, 1, 1.0)], 2) == ["open", "open"]  # one battle only orders them
    assert place([(0, 1, 0.5)], 2) == ["rated", "rated"]  # a tie is half a win each way
    # 2 beat 0, 1 beat 3, and 0 and 1 beat each other: 2 above, 3 below.
    assert place([(0, 1, 1), (1, 0, 1), (2, 0, 1), (1, 3, 1)], 4) == [
        "rated", "rated", "above", "below"
    ]  # fmt: skip
    # 2 beat 4, whose tie with 3 makes a second rated set (no chain of wins joins {0, 1} and
    # {3, 4}): 2 is above {0, 1}, and {3, 4} is on a scale of its own.
    got = separation.standings(
        5, np.array([0, 1, 2, 2, 3]), np.array([1, 0, 0, 4, 4]), np.array([1, 1, 1, 1, 0.5])
    )
    assert (got.place, got.sets) == (
        ["rated", "rated", "above", "rated", "rated"],
        [[0, 1], [3, 4]],
    )


@settings(max_examples=200, deadline=None)
@given(
    games=st.lists(
        st.tuples(st.integers(0, 5), st.integers(1, 5), st.sampled_from([0.0, 0.5, 1.0])),
        max_size=12,
    ),
    drawn=st.lists(st.integers(0, 2), min_size=12, max_size=12),
)
def test_the_quick_test_agrees_with_the_standings(
    games: list[tuple[int, int, float]], drawn: list[int]
) -> None:
    """`all_rated` (each bootstrap round's quick test) is `standings` finding every model
    rated, whatever the cells and how many battles each drew (0: none)."""
    i = np.array([a for a, _, _ in games], dtype=np.int64)
    j = np.array([(a + b) % 6 for a, b, _ in games], dtype=np.int64)
    s = np.array([x for _, _, x in games])
    counts = np.array(drawn[: len(games)], dtype=float)
    place = separation.standings(6, i, j, s, counts).place
    assert separation.all_rated(6, i, j, s, counts) == (set(place) == {"rated"})


@pytest.mark.parametrize("intervals", ["sandwich", "bootstrap"])
def test_all_ties_give_ratings_but_no_intervals(intervals: str) -> None:
    """200 ties among three models: each rated 1000 (every score equation holds there), but
    no interval: the outcomes never differ from the fit's prediction, so nothing estimates a
    spread (it was "1000 to 1000")."""
    c = battles([(a, b, "tie" if k % 3 else "tie (bothbad)")
                 for k, (a, b) in enumerate(itertools.islice(
                     itertools.cycle([("x", "y"), ("y", "z"), ("z", "x")]), 200))])  # fmt: skip
    board = as_json(leaderboard(c, intervals=intervals, rounds=30, seed=0))
    why = {
        "sandwich": "not estimable: the sandwich has no spread of outcomes to estimate a "
        "variance from: the battles that place it were scored exactly as the fit predicts "
        "(ties between models rated equal), or are fewer than the fit's parameters",
        "bootstrap": "not estimable: every bootstrap round gave the same value (zero width)",
    }[intervals]
    for row in board["models"]:
        for fit in FITS:
            assert row[fit] == 1000.0
            assert (row[f"{fit}_ci95"], row[f"{fit}_rank"]) == (None, None)
            assert row["not_estimable"][f"{fit}_ci95"] == why
    for features in board["coefficients"].values():
        for coefficient in features.values():
            assert coefficient == {"estimate": 0.0, "ci95": None, "not_estimable": why}


def test_all_ties_and_one_battle_through_the_command(tmp_path: Path) -> None:
    """The report of 200 ties, of one decisive battle and of one tie: the terminal and the
    page say "not estimable" where there is no interval (or no rating)."""
    cases = {
        "ties": [battle(f"t{k}", winner="tie") for k in range(200)],
        "one": [battle("o", winner="model_a")],
        "one-tie": [battle("o", winner="tie")],
    }
    for name, rows in cases.items():
        out = tmp_path / name
        build(write_jsonl(tmp_path / f"{name}.jsonl", rows), out=out)
        result = CliRunner().invoke(cli, ["report", str(out)])
        assert result.exit_code == 0, result.output
        report = json.loads((out / "report.json").read_text())
        models = {r["model"]: r for r in report["ratings"]["models"]}
        assert set(models) == {"vicuna-13b", "koala-13b"}
        if name == "ties":  # the caveat gives each model's own reason, not a fixed one
            why = models["vicuna-13b"]["not_estimable"]["bradley_terry_ci95"]
            why = why.split(": ", 1)[1]
            assert (
                "A 95% interval is not estimable for 2 rated models: koala-13b, vicuna-13b "
                f"({why})." in report["caveats"]
            )
        cells = table_row(result.output, "vicuna-13b")
        page = (out / "report.html").read_text()
        if name == "one":  # one win: the battle orders them, no rating exists
            for row in models.values():
                assert row["bradley_terry"] is None
                assert row["not_estimable"]["bradley_terry"].startswith(
                    "not estimable: no model both beat (or tied) it and lost to (or tied) it"
                )
            coefficient = report["ratings"]["coefficients"]["style_controlled"]["length"]
            assert coefficient == {
                "estimate": None,
                "not_estimable": "not estimable: no battle is between two models with a "
                "finite rating",
            }
            assert report["ratings"]["length_coefficient"] is None
            assert cells[2:9] == ["not estimable"] * 2 + [""] + ["not estimable"] * 2 + [
                "",
                "not estimable",
            ]
        else:
            for row in models.values():
                assert row["bradley_terry"] == 1000.0
                assert row["bradley_terry_ci95"] is None
            assert "1000–1000" not in result.output
            assert cells[2:9] == ["1000", "not estimable", "", "1000", "not estimable", "", "1000"]
        assert "not estimable" in page
        assert "1,000.0 to 1,000.0" not in page
        estimate = '<td class="n">0.000</td>' if name != "one" else "<td>not estimable</td>"
        coefficient_row = f"<td>style_controlled</td><td>length</td>{estimate}<td>not estimable"
        assert coefficient_row in page


# ---- properties of small battle graphs ------------------------------------------------------


OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")

games_of = st.integers(2, 8).flatmap(
    lambda n: st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(1, n - 1), st.sampled_from(OUTCOMES)).map(
            lambda g: (f"m{g[0]}", f"m{(g[0] + g[1]) % n}", g[2])
        ),
        min_size=1,
        max_size=24,
    )
)


def zermelo(games: list[tuple[str, str, str]], models: set[str]) -> bool:
    """Whether the battles among `models` have a finite maximum-likelihood rating, by brute
    force: in each group of models that met, every split into two sets has each set scoring
    (a win or a tie) against the other."""
    scored = set()
    for a, b, w in games:
        if a in models and b in models:
            scored |= (
                {(a, b)} if w == "model_a" else {(b, a)} if w == "model_b" else {(a, b), (b, a)}
            )
    met = {frozenset(p) for p in scored}
    for group in _groups(models, met):
        for k in range(1, len(group)):
            for part in itertools.combinations(sorted(group), k):
                inside = set(part)
                if not any(a not in inside and b in inside for a, b in scored):
                    return False
    return True


def _groups(models: set[str], met: set[frozenset[str]]) -> list[set[str]]:
    groups: list[set[str]] = []
    for m in sorted(models):
        joined = [g for g in groups if any(frozenset((m, x)) in met for x in g)]
        groups = [g for g in groups if g not in joined] + [{m}.union(*joined)]
    return groups


def check_intervals(board: dict[str, Any]) -> None:
    """No zero-width interval: each is wide, or null with its reason."""
    for row in board["models"]:
        why = row.get("not_estimable") or {}
        for fit in FITS:
            ci = row.get(f"{fit}_ci95")
            if ci is None:
                assert why.get(f"{fit}_ci95", "").split(":")[0] in (
                    "not estimable", "unbounded above", "unbounded below"
                )  # fmt: skip
            else:
                assert ci[1] - ci[0] > 1.0, (row["model"], fit, ci)
    for features in board["coefficients"].values():
        for x in features.values():
            if x.get("ci95") is None:
                assert x["not_estimable"].startswith("not estimable: ")
            else:
                assert x["ci95"][1] - x["ci95"][0] > 1e-3


PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(games=games_of, intervals=st.sampled_from(["sandwich", "bootstrap"]))
def test_no_zero_width_interval_and_no_rating_without_a_maximum(
    games: list[tuple[str, str, str]], intervals: str
) -> None:
    board = as_json(leaderboard(battles(games), intervals=intervals, rounds=25, seed=1))
    check_intervals(board)
    rated = {r["model"] for r in board["models"] if r["bradley_terry"] is not None}
    assert zermelo(games, rated)  # every finite rating is a maximum of the likelihood
    for row in board["models"]:
        mine = [w if a == row["model"] else {"model_a": "model_b", "model_b": "model_a"}.get(w, w)
                for a, b, w in games if row["model"] in (a, b)]  # fmt: skip
        if set(mine) in ({"model_a"}, {"model_b"}):  # won every battle, or lost every one
            assert row["model"] not in rated
            assert all(row[fit] is None for fit in FITS)
    # The rated models' ratings hold the score equations of the battles among them: observed
    # score = expected score, model by model (to the vanishing ridge).
    rating = {r["model"]: r["bradley_terry"] for r in board["models"]}
    gap = dict.fromkeys(rated, 0.0)
    for a, b, w in games:
        if a in rated and b in rated:
            s = {"model_a": 1.0, "model_b": 0.0}.get(w, 0.5)
            p = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
            gap[a] += s - p
            gap[b] -= s - p
    assert all(abs(g) < 1e-4 for g in gap.values()), gap


@PROPERTY
@given(
    games=games_of,
    beaten=st.lists(st.integers(0, 7), min_size=1, max_size=4),
    wins=st.booleans(),
    intervals=st.sampled_from(["sandwich", "bootstrap"]),
)
def test_a_model_that_wins_or_loses_everything_moves_no_other_rating(
    games: list[tuple[str, str, str]], beaten: list[int], wins: bool, intervals: str
) -> None:
    models = sorted({m for a, b, _ in games for m in (a, b)})
    extra = [
        ("new", models[k % len(models)], "model_a" if wins else "model_b")
        if k % 2
        else (models[k % len(models)], "new", "model_b" if wins else "model_a")
        for k in beaten
    ]
    before = as_json(leaderboard(battles(games), intervals=intervals, rounds=25, seed=4))
    after = as_json(leaderboard(battles(games + extra), intervals=intervals, rounds=25, seed=4))
    new = next(r for r in after["models"] if r["model"] == "new")
    side = "above" if wins else "below"
    assert all(new[fit] is None for fit in FITS)
    assert new["not_estimable"]["bradley_terry"].startswith(
        (f"unbounded {side}: ", "not estimable: ")  # in a group without a rated set
    )
    assert after["coefficients"] == before["coefficients"]
    assert [fitted(r) for r in after["models"] if r["model"] != "new"] == [
        fitted(r) for r in before["models"]
    ]
    check_intervals(after)
    assert math.isfinite(new["online_elo"])  # online Elo rates every model, from its battles


def test_a_rank_compares_only_models_of_one_rated_set() -> None:
    """Two groups that never met are rated on separate scales: adding a second group moves no
    rank of the first, and each model of the second is ranked among its own (the hostile
    case: two newcomers who only played each other took rank 3 among models they never met)."""
    strong = [("a", "b", "model_a")] * 30 + [("a", "b", "model_b")] * 6
    strong += [("b", "c", "model_a")] * 30 + [("b", "c", "model_b")] * 6
    strong += [("a", "c", "model_a")] * 30 + [("a", "c", "model_b")] * 3
    pair = [("d", "e", "model_a")] * 12 + [("d", "e", "model_b")] * 8
    ranks = {}
    for name, games in (("alone", strong), ("with d, e", strong + pair)):
        board = as_json(leaderboard(battles(games), rounds=0, seed=0))
        ranks[name] = {r["model"]: r["bradley_terry_rank"] for r in board["models"]}
    assert ranks["alone"] == {"a": 1, "b": 2, "c": 3}
    assert ranks["with d, e"] == {"a": 1, "b": 2, "c": 3, "d": 1, "e": 1}
