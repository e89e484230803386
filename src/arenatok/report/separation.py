"""Where a rating exists. Bradley-Terry's log-likelihood, a tie scored half a win each way, is
sum_ij W_ij log sigmoid(t_i - t_j), W_ij being i's score against j (its wins plus half the
ties, on either side, over their battles). Its maximum is finite (and unique up to a common
shift) exactly when every split of models that met into two sets has each set scoring
against the other (Zermelo 1929, Ford 1957, Hunter 2004): when the directed graph with an
edge i -> j for W_ij > 0 (i beat or tied j at least once) is strongly connected.

Otherwise the models fall into strongly connected sets. Inside one, rating differences are
finite. Between two, every battle went the same way (a tie would join them), and the
likelihood keeps rising as the winning set moves away: that gap is unbounded. Those battles'
probabilities then go to 1 whatever the ratings inside each set, so the likelihood's supremum
is the product of each set's own maximum: the battles between sets carry no information about
the ratings inside one (the controlled fits' coefficients stay finite, so the same holds for
them). Separation is this: a model, or a set of models, that never lost (or never won)
against the rest.

A *rated set* is a strongly connected set of two or more models that is neither above nor
below another rated set: the sets are taken largest first (among sets of one size, the one
with the most battles among its models, then the first by name), each unless a chain of wins
or ties joins it to a set already taken. The fits rate the rated sets, each on its own scale
(no battle joins two of them). Every other model stands above a rated set (a chain of wins or
ties leads from it into the set, none back: no rated model beat or tied it, even through
others), below one, or neither: open (its battles fix no place on a rated scale; in a group of
models that met without a rated set, they only order the models).
Adding a model that won (or lost) every battle changes none of this for the others: no chain
of wins or ties passes through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

RATED, ABOVE, BELOW, OPEN = "rated", "above", "below", "open"
"""Where a model stands (`Standings`): in a rated set; above or below one; neither."""

REASONS = {
    ABOVE: "unbounded above: no rated model beat or tied it, not even through other models, "
    "and it beat some, directly or through others (separation), so the likelihood rises "
    "without end as its rating grows",
    BELOW: "unbounded below: it never beat or tied a rated model, not even through other "
    "models, and some beat it, directly or through others (separation), so the likelihood "
    "rises without end as its rating falls",
    OPEN: "not estimable: no model both beat (or tied) it and lost to (or tied) it, not even "
    "through other models, and it is neither above nor below a rated model, so its battles fix "
    "no place on a rated scale",
}
"""Why a model has no rating, by its standing; the words before the colon are what the
tables show."""


def beat_or_tied(n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray) -> sparse.csr_matrix:
    """The directed graph of n models with an edge a -> b when a beat or tied b in a battle
    (model A i, model B j, A's score s: 1, 0.5 or 0)."""
    scored = np.concatenate([i[s > 0], j[s < 1]])
    conceded = np.concatenate([j[s > 0], i[s < 1]])
    return sparse.csr_matrix(
        (np.ones(len(scored)), (scored, conceded)), shape=(n, n), dtype=np.int8
    )


def all_rated(n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray, counts: np.ndarray) -> bool:
    """Whether every one of n models is rated (`standings`, quickly): each group of models
    that met is strongly connected, and every model has a battle (cells with `counts`)."""
    from scipy.sparse.csgraph import connected_components

    drawn = counts > 0
    graph = beat_or_tied(n, i[drawn], j[drawn], s[drawn])
    sets, label = connected_components(graph, directed=True, connection="strong")
    groups = connected_components(graph, directed=True, connection="weak")[0]
    return bool(sets == groups and np.bincount(label).min(initial=2) >= 2)


@dataclass(frozen=True)
class Standings:
    """Where each model stands (`place`, in the models' order: RATED, ABOVE, BELOW, OPEN)
    and the rated sets (`sets`: model indices, largest first)."""

    place: list[str]
    sets: list[list[int]]


def standings(
    n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray, counts: np.ndarray | None = None
) -> Standings:
    """Where each of n models stands (see the module), from the battles: model A `i`, model B
    `j`, A's score `s`, `counts` battles each (cells; those with no battle are left out)."""
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    if counts is not None:
        keep = counts > 0
        i, j, s, counts = i[keep], j[keep], s[keep], counts[keep]
    counts = np.ones(len(i)) if counts is None else counts
    graph = beat_or_tied(n, i, j, s)
    reverse = graph.T.tocsr()
    _, sets = connected_components(graph, directed=True, connection="strong")
    inside = sets[i] == sets[j]
    within = np.bincount(sets[i[inside]], counts[inside], n)
    size = np.bincount(sets, minlength=n)
    first = np.full(n, n)
    np.minimum.at(first, sets, np.arange(n))
    place: list[str | None] = [None] * n
    rated: list[list[int]] = []
    for k in np.lexsort((first, -within, -size)):
        if size[k] < 2 or place[first[k]] is not None:
            continue  # one model, or above or below a rated set
        for ways, mark in ((graph, BELOW), (reverse, ABOVE)):
            for m in breadth_first_order(ways, first[k], return_predecessors=False):
                place[m] = place[m] or mark
        members = np.flatnonzero(sets == k).tolist()
        for m in members:
            place[m] = RATED
        rated.append(members)
    return Standings([p or OPEN for p in place], rated)
