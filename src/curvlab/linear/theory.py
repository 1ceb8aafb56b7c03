"""Least-squares theory of §2.2–2.3: the expected training error (N − d)/N · σ².

Model: y = Xβ + ε with X an (N, d) design of full column rank and ε ~ (0, σ²I).
The fitted values are Ay with the hat matrix A = X(XᵀX)⁻¹Xᵀ, so the training residual is
(A − I)y = (A − I)ε (the Xβ part is reproduced exactly) and

    E[‖(A − I)ε‖² / N] = σ²/N · tr(I − A) = (N − d)/N · σ²                    (13)

because A is symmetric and idempotent (A² = A), so (A − I)ᵀ(A − I) = I − A  (12), and
tr(A) = rank(X) = d. (The notes' step "E[εᵀBᵀBε] = tr(BᵀB Σ)" uses E[εεᵀ] = Σ = σ²I.)

§2.3: the expected training error falls linearly in d and reaches 0 at d = N — a larger
model fits the noise, which is why σ̂² = SSR/(N − d), not SSR/N, is the unbiased estimate.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .._validation import as_real_array, check_positive, check_positive_int

__all__ = ["expected_training_error", "hat_matrix", "residual_trace", "training_error"]


def expected_training_error(N: int, d: int, sigma2: float) -> float:
    """(N − d)/N · σ², eq. (13): the expected mean squared training residual of least squares.

    ``d`` is the rank of the design (its number of independent columns).

    >>> expected_training_error(100, 10, 2.0)
    1.8
    """
    N = check_positive_int(N, "N")
    d = check_positive_int(d, "d", minimum=0)
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    if d > N:
        raise ValueError(f"d must be <= N (a rank-d design needs at least d rows); got d={d}, N={N}.")
    return (N - d) / N * sigma2


def hat_matrix(X) -> np.ndarray:
    """A = X(XᵀX)⁻¹Xᵀ, the orthogonal projector onto the column space of X, shape (N, N).

    Computed as QQᵀ from a thin QR factorization (never by inverting XᵀX), so it stays
    accurate when X is ill-conditioned. ``X`` must have full column rank.
    """
    X = as_real_array(X, "X", ndim=2)
    N, d = X.shape
    if d > N:
        raise ValueError(f"X must have at least as many rows as columns; got shape {X.shape}.")
    Q, R, _ = scipy.linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > diag[0] * max(N, d) * np.finfo(float).eps)) if d else 0
    if rank < d:
        raise ValueError(f"X has rank {rank} < {d} columns, so XᵀX is singular; "
                         "drop the collinear columns (the projector onto col(X) is then QQᵀ).")
    return Q @ Q.T


def residual_trace(X) -> float:
    """tr(I − A) for the hat matrix A of X; equals N − rank(X) (the identity used in (13))."""
    A = hat_matrix(X)
    return float(A.shape[0] - np.trace(A))


def training_error(X, y) -> float:
    """The mean squared training residual ‖(A − I)y‖²/N of the least-squares fit of y on X."""
    X = as_real_array(X, "X", ndim=2)
    y = as_real_array(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}.")
    Q, _ = np.linalg.qr(X)                 # thin QR: col(Q) = col(X) for full-rank X
    r = y - Q @ (Q.T @ y)                  # (I − A) y
    return float(r @ r) / X.shape[0]
