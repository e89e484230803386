"""`report.plots`: which plots the report draws and under which captions, the models they show
(rated, with enough battles, the best rated first, at most PLOT_MAX_MODELS), and the grids of
the heatmaps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from arenatok.dataset.built import Battles
from arenatok.report import plots
from arenatok.report.numbers import PLOT_MIN_BATTLES
from arenatok.report.plots import (
    model_grid,
    pairwise_figure,
    plotted_models,
    report_plots,
    shown_of,
    sound_models,
)
from arenatok.report.results import Report


def captions(sections: list[str]) -> list[str]:
    return [s.split("<figcaption>")[1].split("</figcaption>")[0] for s in sections]


def test_every_section_gets_its_plots(three_models: tuple[Report, Battles]) -> None:
    report, battles = three_models
    figs = report_plots(report, battles)
    assert captions(figs.leaderboard) == ["Ratings with 95% intervals: plain and style-controlled"]
    assert captions(figs.ratings) == [
        "Pairs: observed score minus the score Bradley-Terry predicts (row model against column "
        "model)",
        "Style control: each feature&#x27;s coefficient with its 95% interval",
    ]
    assert captions(figs.pairs) == ["Battles per model pair (models ordered by rating, best first)"]
    assert captions(figs.length_bias) == ["Length bias"]
    assert figs.ratings[0].startswith('<figure class="plot wide">')  # a heatmap keeps its size
    assert captions(figs.tokens[:2]) == ["Tokens per message, by role", "Coordination overhead"]
    assert figs.tokens[2].startswith('<p class="note">What resending the history costs: not drawn')


def test_with_fewer_than_two_sound_models_the_model_plots_are_a_note(
    three_models: tuple[Report, Battles],
) -> None:
    report, battles = three_models
    first, *rest = report.ratings.models
    models = [first, *(dataclasses.replace(m, battles=PLOT_MIN_BATTLES - 1) for m in rest)]
    one = dataclasses.replace(report, ratings=dataclasses.replace(report.ratings, models=models))
    figs = report_plots(one, battles)
    assert figs.leaderboard[-1] == (
        '<p class="note">The rating and pair plots are not drawn: 1 model(s) with a rating have '
        f"{PLOT_MIN_BATTLES} rated battles or more. The tables give every rating.</p>"
    )
    assert figs.pairs == []


def test_the_plots_show_the_sound_models_best_rated_first(
    three_models: tuple[Report, Battles], monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = three_models
    rated = [m.model for m in report.ratings.models]
    assert sound_models(report) == plotted_models(report) == rated
    assert shown_of(report) == ""
    monkeypatch.setattr(plots, "PLOT_MAX_MODELS", 2)
    assert plotted_models(report) == rated[:2]
    assert shown_of(report) == " (the 2 best rated of 3)"
    unrated = dataclasses.replace(report.ratings.models[0], bradley_terry=None)
    rough = dataclasses.replace(report.ratings.models[1], battles=PLOT_MIN_BATTLES - 1)
    models = [unrated, rough, report.ratings.models[2]]
    fewer = dataclasses.replace(report, ratings=dataclasses.replace(report.ratings, models=models))
    assert sound_models(fewer) == rated[2:]


def test_model_grid_sums_repeated_cells_and_leaves_the_rest_blank() -> None:
    grid = model_grid(["a", "b"], [("a", "b", 1.0), ("a", "b", 2.0), ("b", "c", 5.0)])
    assert grid[0, 1] == 3.0
    assert np.isnan(grid[[0, 1, 1], [0, 0, 1]]).all()


def test_the_pairwise_heatmap_is_antisymmetric(three_models: tuple[Report, Battles]) -> None:
    report, _ = three_models
    grid = np.ma.filled(pairwise_figure(report).axes[0].collections[0].get_array(), np.nan)
    n = len(plotted_models(report))
    assert grid.shape == (n, n)
    assert np.isnan(np.diag(grid)).all()  # a model never meets itself
    off = ~np.eye(n, dtype=bool)
    assert grid[off] == pytest.approx(-grid.T[off])
    assert np.abs(grid[off]).max() > 0
