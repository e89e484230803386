"""The report's ratings section (`report.leaderboards`) by value on six battles of three models:
the shape of every row, the pairwise table worked out by hand, and the method as the report
states it."""

from __future__ import annotations

import math

import pytest

from arenatok.dataset.built import Battles
from arenatok.report.leaderboards import leaderboard, pairwise, ratings_section
from arenatok.sections import as_json

# (model_a, model_b, winner): p and q win one each against the other, p ties r and loses to
# it, q beats r, q and r are both bad.
SIX = [
    ("p", "q", "model_a"),
    ("q", "p", "model_a"),
    ("p", "r", "tie"),
    ("r", "q", "model_b"),
    ("r", "p", "model_a"),
    ("q", "r", "tie (bothbad)"),
]


def six() -> Battles:
    n = len(SIX)
    return Battles(
        model_a=[a for a, _, _ in SIX],
        model_b=[b for _, b, _ in SIX],
        winner=[w for _, _, w in SIX],
        timestamp=[float(t) for t in range(n)],
        output_a=[10, 200, 30, 40, 250, 60],
        output_b=[100, 20, 35, 400, 25, 60],
        style_a=[(0, 1, 0), (2, 0, 1), (0, 0, 0), (1, 1, 1), (0, 3, 0), (0, 0, 2)],
        style_b=[(1, 0, 0), (0, 0, 0), (0, 2, 0), (0, 0, 3), (1, 0, 0), (2, 0, 0)],
    )


NAMES = ("bradley_terry", "length_controlled", "style_controlled")


def sixty() -> Battles:
    """SIX ten times: enough battles that no bootstrap draw leaves a model without a loss (or a
    win), whose rating would then be unbounded in that round."""
    return Battles.concat([six()] * 10)


def test_rows_without_a_bootstrap() -> None:
    board = as_json(leaderboard(six(), intervals="bootstrap", rounds=0, seed=1))
    assert board["battles"] == 6
    rows = board["models"]
    assert [list(r) for r in rows] == [["model", "battles", "online_elo", *NAMES]] * 3
    assert {r["model"]: r["battles"] for r in rows} == {"p": 4, "q": 4, "r": 4}
    bt = [r["bradley_terry"] for r in rows]
    assert bt == sorted(bt, reverse=True)  # best first
    assert sum(bt) / 3 == pytest.approx(1000.0)  # the Elo scale's mean
    coefficients = board["coefficients"]
    assert list(coefficients) == ["length_controlled", "style_controlled"]
    assert list(coefficients["style_controlled"]) == [
        "length", "header_count", "list_count", "bold_count"
    ]  # fmt: skip
    for fit in coefficients.values():
        assert all(list(c) == ["estimate"] for c in fit.values())
    # The length-only fit and the full fit are different fits of the same battles.
    assert coefficients["length_controlled"]["length"] != coefficients["style_controlled"]["length"]


def test_rows_with_a_bootstrap_carry_intervals_and_ranks() -> None:
    board = as_json(leaderboard(sixty(), intervals="bootstrap", rounds=30, seed=5))
    for r in board["models"]:
        assert list(r) == [
            "model", "battles", "online_elo",
            *(x for name in NAMES for x in (name, f"{name}_ci95", f"{name}_rank")),
        ]  # fmt: skip
        for name in NAMES:
            lo, hi = r[f"{name}_ci95"]
            assert lo <= hi
            assert r[f"{name}_rank"] in (1, 2, 3)
    for fit, features in (("length_controlled", ["length"]),
                          ("style_controlled", ["length", "header_count", "list_count",
                                                "bold_count"])):  # fmt: skip
        assert list(board["coefficients"][fit]) == features
        for f in features:
            c = board["coefficients"][fit][f]
            assert list(c) == ["estimate", "ci95"]
            assert len(c["ci95"]) == 2
            assert c["ci95"][0] <= c["ci95"][1]
    assert (
        as_json(leaderboard(sixty(), intervals="bootstrap", rounds=30, seed=5)) == board
    )  # the seed fixes the draws
    assert as_json(leaderboard(sixty(), intervals="bootstrap", rounds=30, seed=6)) != board


def test_a_model_that_wins_everything_is_unbounded_above_with_ties_between_equals() -> None:
    """a beats b and c every time: no finite rating (it is listed first, unbounded above, with
    no rank), and b and c are rated on their own battles."""
    c = Battles(
        model_a=["a", "a", "b", "c"] * 3, model_b=["b", "c", "c", "b"] * 3,
        winner=["model_a", "model_a", "model_a", "model_a"] * 3, timestamp=[None] * 12,
        output_a=[1] * 12, output_b=[1] * 12, style_a=[(0, 0, 0)] * 12,
        style_b=[(0, 0, 0)] * 12,
    )  # fmt: skip
    rows = as_json(leaderboard(c, intervals="sandwich", rounds=0, seed=1))["models"]
    assert rows[0]["model"] == "a"
    for name in NAMES:
        assert (rows[0][name], rows[0][f"{name}_ci95"], rows[0][f"{name}_rank"]) == (None,) * 3
        assert rows[0]["not_estimable"][name].startswith("unbounded above: ")
    # b and c beat each other equally often: the same rating, listed by name
    assert [r["model"] for r in rows[1:]] == ["b", "c"]
    assert rows[1]["bradley_terry"] == rows[2]["bradley_terry"] == 1000.0
    assert rows[1]["bradley_terry_rank"] == rows[2]["bradley_terry_rank"] == 1


def test_pairwise_by_hand() -> None:
    c = six()
    board = leaderboard(c, intervals="bootstrap", rounds=0, seed=1)
    rating = {r.model: r.bradley_terry for r in board.models}
    rows = as_json(pairwise(c, board))
    # p against q: a win and a loss -> 0.5; p against r: a tie and a loss -> 0.25; q against r:
    # a win and a tie -> 0.75. Each pair met twice.
    observed = {("p", "q"): 0.5, ("p", "r"): 0.25, ("q", "r"): 0.75}
    assert [(r["model"], r["opponent"]) for r in rows] == list(observed)
    for r in rows:
        x, y = r["model"], r["opponent"]
        predicted = 1 / (1 + 10 ** ((rating[y] - rating[x]) / 400))
        assert list(r) == ["model", "opponent", "battles", "observed_score",
                           "predicted_score", "difference", "z"]  # fmt: skip
        assert r["battles"] == 2
        assert r["observed_score"] == observed[(x, y)]
        assert r["predicted_score"] == pytest.approx(predicted)
        assert r["difference"] == pytest.approx(observed[(x, y)] - predicted)
        assert r["z"] == pytest.approx(
            (observed[(x, y)] - predicted) / math.sqrt(predicted * (1 - predicted) / 2)
        )


def test_ratings_section_states_its_method() -> None:
    c = six()
    got = as_json(ratings_section(c, intervals="bootstrap", rounds=7, seed=3))
    typed = leaderboard(c, intervals="bootstrap", rounds=7, seed=3)
    board = as_json(typed)
    assert got["method"] == {
        "scores": "model_a 1, model_b 0, every kind of tie 0.5 (half a win each way)",
        "online_elo": "K=4, base 10, scale 400, initial 1000, battles in arrival order: by "
        "timestamp (stable on ties; a battle without one keeps its source position)",
        "bradley_terry": "maximum likelihood, Elo scale (400 per factor 10 of odds), mean 1000",
        "length_controlled": "Bradley-Terry with one feature, (tokens_a - tokens_b) / "
        "(tokens_a + tokens_b + 1) standardised; L2 penalty 0.5 as the arena's; "
        "rating = 400 r + 1000",
        "style_controlled": "the arena's style control: Bradley-Terry with four features, each "
        "(a - b) / (a + b + 1) standardised, for answer tokens, markdown headers, list items "
        "and bold spans (summed over turns); L2 penalty 0.5 as the arena's; "
        "rating = 400 r + 1000",
        "coefficients": "change in the log-odds of A winning per standard deviation of the feature",
        "rank": "the arena's rank with uncertainty: 1 + the number of models whose 95% "
        "interval lies entirely above this model's",
        "intervals": "bootstrap, 7 rounds, seed 3: for Bradley-Terry each a multinomial draw "
        "of the battles over the (model_a, model_b, outcome) cells, which is what resampling "
        "battles with replacement does to it; for the controlled fits the battles resampled "
        "with replacement, refitted by Newton steps from the full fit; 95% percentile intervals",
        "weights": "none: every battle counts once",
    }
    assert (
        got["length_coefficient"]
        == board["coefficients"]["length_controlled"]["length"]["estimate"]
    )
    assert got["length_coefficient_definition"] == (
        "change in the log-odds of A winning per standard deviation of "
        "(tokens_a - tokens_b) / (tokens_a + tokens_b + 1)"
    )
    assert list(got) == ["method", "length_coefficient", "length_coefficient_definition",
                         "battles", "coefficients", "models", "pairwise"]  # fmt: skip
    assert (got["battles"], got["coefficients"], got["models"]) == (
        board["battles"], board["coefficients"], board["models"],
    )  # fmt: skip
    assert got["pairwise"] == as_json(pairwise(c, typed))


def test_one_bootstrap_round_has_no_spread_and_the_seed_moves_the_intervals() -> None:
    """`rounds` and `seed` reach every bootstrap: one round gives intervals of one draw, of
    zero width: not estimable; another seed, other intervals for Bradley-Terry itself."""
    one = as_json(leaderboard(sixty(), intervals="bootstrap", rounds=1, seed=5))
    for r in one["models"]:
        for name in NAMES:
            assert r[f"{name}_ci95"] is None
            assert r["not_estimable"][f"{name}_ci95"] == (
                "not estimable: every bootstrap round gave the same value (zero width)"
            )
    a, b = (
        as_json(leaderboard(sixty(), intervals="bootstrap", rounds=30, seed=s))["models"]
        for s in (5, 6)
    )
    assert [r["bradley_terry_ci95"] for r in a] != [r["bradley_terry_ci95"] for r in b]


def test_ranks_count_only_intervals_entirely_above() -> None:
    """a beats b and c 19 times in 20; b and c beat each other as often: a is first, and b and
    c share the second rank (their intervals overlap)."""
    won = ["model_a"] * 4
    c = Battles(
        model_a=["a", "a", "b", "c"] * 20, model_b=["b", "c", "c", "b"] * 20,
        winner=won * 19 + ["model_b", "model_b", "model_a", "model_a"],
        timestamp=[None] * 80, output_a=[1] * 80, output_b=[1] * 80,
        style_a=[(0, 0, 0)] * 80, style_b=[(0, 0, 0)] * 80,
    )  # fmt: skip
    rows = as_json(leaderboard(c, intervals="sandwich", rounds=0, seed=1))["models"]
    assert [(r["model"], r["bradley_terry_rank"]) for r in rows] == [("a", 1), ("b", 2), ("c", 2)]


def test_a_planted_bold_effect_lands_on_the_bold_coefficient() -> None:
    """Four equal models; the side with more bold spans wins 9 times in 10. The style fit's bold
    coefficient carries it (with its interval around it); the others stay near 0."""
    import random

    rng = random.Random(7)
    models = ["m0", "m1", "m2", "m3"]
    rows: list[tuple[str, str, str, int, int]] = []
    for _ in range(800):
        a, b = rng.sample(models, 2)
        bold_a, bold_b = rng.randint(0, 6), rng.randint(0, 6)
        if bold_a == bold_b:
            winner = rng.choice(["model_a", "model_b"])
        else:
            more_a = bold_a > bold_b
            winner = "model_a" if more_a == (rng.random() < 0.9) else "model_b"
        rows.append((a, b, winner, bold_a, bold_b))
    c = Battles(
        model_a=[r[0] for r in rows], model_b=[r[1] for r in rows],
        winner=[r[2] for r in rows], timestamp=[None] * len(rows),
        output_a=[rng.randint(50, 60) for _ in rows], output_b=[rng.randint(50, 60) for _ in rows],
        style_a=[(rng.randint(0, 1), rng.randint(0, 1), r[3]) for r in rows],
        style_b=[(rng.randint(0, 1), rng.randint(0, 1), r[4]) for r in rows],
    )  # fmt: skip
    coef = as_json(leaderboard(c, intervals="bootstrap", rounds=20, seed=2))["coefficients"][
        "style_controlled"
    ]
    assert coef["bold_count"]["estimate"] > 1.0
    lo, hi = coef["bold_count"]["ci95"]
    assert lo <= coef["bold_count"]["estimate"] <= hi
    for f in ("length", "header_count", "list_count"):
        assert abs(coef[f]["estimate"]) < 0.3
