"""The linear algebra of the rating fits. The Hessian of Bradley-Terry is a weighted graph
Laplacian (models joined by the battles between them) plus a ridge; with features (the
controlled fits) it gains a border of a few dense rows. Few models: solved dense. Many models:
stored sparse (`Pattern`: the battles' sparsity worked out once per set of battles) and solved
by conjugate gradients (`solve_spd`), whose cost grows with the battles, not with the models
squared; the answers agree with the dense ones to far below what the report prints."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse

DENSE_MODELS = 256
"""Up to this many models (plus features), the fits solve their Newton steps dense: the
numbers of small reports are those of the dense solver, to the last bit."""

CG_TOLERANCE = 1e-10
"""Relative residual at which conjugate gradients stop. The gradient is exact, so Newton still
converges to the same optimum; the steps differ from the dense ones by this share of their
length."""


class Pattern:
    """Where the Laplacian sum_e h_e (u_i - u_j)(u_i - u_j)^T of a fixed set of battles
    e = (i, j) among n models has its entries (every diagonal entry included), so that each
    Newton step only sums its weights into place (`laplacian`)."""

    def __init__(self, n: int, i: np.ndarray, j: np.ndarray) -> None:
        rows = np.concatenate([i, j, i, j, np.arange(n)])
        cols = np.concatenate([j, i, i, j, np.arange(n)])
        keys, self.slot = np.unique(rows * n + cols, return_inverse=True)
        self.n, self.nnz = n, len(keys)
        self.indices = (keys % n).astype(np.int32)
        self.indptr = np.searchsorted(keys // n, np.arange(n + 1)).astype(np.int32)
        self.diagonal = np.searchsorted(keys, np.arange(n) * (n + 1))
        self._padding = np.zeros(n)

    def laplacian(self, h: np.ndarray, ridge: float = 0.0) -> sparse.csr_matrix:
        """The Laplacian of the battles weighted by `h` (CSR), plus `ridge` on the diagonal."""
        weights = np.concatenate([-h, -h, h, h, self._padding])
        data = np.asarray(np.bincount(self.slot, weights, self.nnz), dtype=float)
        data[self.diagonal] += ridge
        return sparse.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))


def dense_laplacian(n: int, i: np.ndarray, j: np.ndarray, h: np.ndarray) -> np.ndarray:
    """sum_e h_e (u_i - u_j)(u_i - u_j)^T over the battles e = (i, j), as a dense array."""
    pairs = np.bincount(i * n + j, h, n * n).reshape(n, n)
    out: np.ndarray = -(pairs + pairs.T)
    out[np.diag_indices(n)] = np.bincount(i, h, n) + np.bincount(j, h, n)
    return out


def forcing(previous: float) -> float:
    """How exactly a Newton step is solved, given the length of the step before it: loosely
    while far from the optimum (a tenth), as exactly as the step is long near it, never past
    CG_TOLERANCE (an inexact Newton method: it converges to the same optimum, in fewer
    conjugate-gradient iterations)."""
    return max(CG_TOLERANCE, min(0.1, previous))


def solve_spd(
    product: Callable[[np.ndarray], np.ndarray],
    diagonal: np.ndarray,
    rhs: np.ndarray,
    rtol: float = CG_TOLERANCE,
) -> np.ndarray:
    """x with A x = rhs for a symmetric positive definite A given by its `product` with a
    vector and its `diagonal`: conjugate gradients preconditioned by the diagonal, to a
    relative residual of `rtol`. (scipy's `cg` does the same through a LinearOperator, whose
    overhead per product was half the cost here.)"""
    inverse = 1.0 / np.where(diagonal > 0, diagonal, 1.0)
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = inverse * r
    p = z.copy()
    rz = float(r @ z)
    goal = (rtol * float(np.linalg.norm(rhs))) ** 2
    for _ in range(10 * len(rhs) + 100):
        if float(r @ r) <= goal:
            break
        q = product(p)
        step = rz / float(p @ q)
        x += step * p
        r -= step * q
        z = inverse * r
        rz, previous = float(r @ z), rz
        p *= rz / previous
        p += z
    return x


FLAT = 1e-9
"""Below this share of what the fit itself expects, a battle's squared residual, or a
parameter's sandwich variance, is taken as zero (see `sandwich_variances`). Where outcomes
vary at all, the share is about that of the decisive votes (a thousandth for one decisive
vote in a thousand ties), far above it."""


def sandwich_variances(hessian: np.ndarray, meat: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The diagonal of H^-1 G H^-1 (the sandwich covariance of an M-estimator: H the
    Hessian of the loss, G the covariance of the per-battle gradients); NaN, not estimable,
    under FLAT times diag(H^-1 E H^-1), E being G with each battle's squared residual
    (s - p)^2 replaced by the variance p (1 - p) the fit expects of a win or a loss: where
    every battle that places a parameter was scored as the fit predicts (ties between models
    rated equal), the gradients do not vary and the sandwich has nothing to estimate a
    variance from."""
    import scipy.linalg

    inverse = scipy.linalg.inv(hessian, check_finite=False)
    out: np.ndarray = np.einsum("ij,ij->i", inverse @ meat, inverse)
    reference = np.einsum("ij,ij->i", inverse @ expected, inverse)
    with np.errstate(invalid="ignore"):
        flat = ~(out > FLAT * reference)
    out[flat] = np.nan
    return out


def singular(meat: np.ndarray, expected: np.ndarray) -> bool:
    """Whether G has a lower rank than E (see `sandwich_variances`; their pivots counted down
    to FLAT times E's largest diagonal entry, by pivoted Cholesky): then the sandwich
    covariance claims to know some combination of the parameters exactly (fewer battles than
    parameters, or battles scored exactly as predicted), and none of its variances holds."""
    from scipy.linalg import lapack

    def rank(matrix: np.ndarray, tol: float) -> int:
        return int(lapack.dpstrf(matrix, tol=tol)[2]) if len(matrix) else 0

    tol = FLAT * float(np.diag(expected).max(initial=0.0))
    return rank(meat, tol) < rank(expected, tol)
