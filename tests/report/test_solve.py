"""`report.solve`: the linear algebra of the rating fits: the sparse Laplacian equal to the
dense one, conjugate gradients solving, the sandwich's variances by hand and where they are not
estimable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arenatok.report import solve


def test_solve_spd_solves() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(30, 30))
    matrix = a @ a.T + 30 * np.eye(30)
    rhs = rng.normal(size=30)
    x = solve.solve_spd(lambda v: matrix @ v, np.diag(matrix).copy(), rhs)
    assert x == pytest.approx(np.linalg.solve(matrix, rhs), rel=1e-8)


battles = st.integers(2, 12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(1, n - 1), st.floats(0.01, 10)),
            min_size=1,
            max_size=40,
        ),
    )
)


@given(battles, st.floats(0, 1))
def test_the_sparse_laplacian_is_the_dense_one(
    drawn: tuple[int, list[tuple[int, int, float]]], ridge: float
) -> None:
    n, edges = drawn
    i = np.array([a for a, _, _ in edges])
    j = (i + np.array([d for _, d, _ in edges])) % n  # never a model against itself
    h = np.array([w for _, _, w in edges])
    dense = solve.dense_laplacian(n, i, j, h)
    assert solve.Pattern(n, i, j).laplacian(h, ridge).toarray() == pytest.approx(
        dense + ridge * np.eye(n), abs=1e-12
    )
    assert dense.sum(axis=1) == pytest.approx(np.zeros(n), abs=1e-9)  # a Laplacian's rows
    assert np.allclose(dense, dense.T)


def test_the_dense_laplacian_by_hand() -> None:
    # Battles 0-1 (weight 2), 1-0 (weight 1), 1-2 (weight 0.5).
    got = solve.dense_laplacian(3, np.array([0, 1, 1]), np.array([1, 0, 2]), np.array([2, 1, 0.5]))
    assert got.tolist() == [[3.0, -3.0, 0.0], [-3.0, 3.5, -0.5], [0.0, -0.5, 0.5]]


def test_forcing_is_loose_far_from_the_optimum_and_exact_near_it() -> None:
    assert solve.forcing(5.0) == 0.1
    assert solve.forcing(1e-3) == 1e-3
    assert solve.forcing(0.0) == solve.CG_TOLERANCE


def test_the_sandwich_is_h_inverse_g_h_inverse_and_flat_where_g_says_nothing() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4, 4))
    hessian = a @ a.T + 4 * np.eye(4)
    g = rng.normal(size=(6, 4))
    meat = g.T @ g
    inverse = np.linalg.inv(hessian)
    want = np.diag(inverse @ meat @ inverse)
    assert solve.sandwich_variances(hessian, meat, meat) == pytest.approx(want, rel=1e-10)
    assert not solve.singular(meat, meat)
    # The gradients never vary: no variance can be estimated, and G has a lower rank than E.
    flat = solve.sandwich_variances(hessian, np.zeros((4, 4)), meat)
    assert np.isnan(flat).all()
    assert solve.singular(np.zeros((4, 4)), meat)
    # Fewer battles than parameters: G of rank 2 against E of rank 4.
    thin = g[:2].T @ g[:2]
    assert solve.singular(thin, meat)
    assert not solve.singular(np.zeros((0, 0)), np.zeros((0, 0)))
