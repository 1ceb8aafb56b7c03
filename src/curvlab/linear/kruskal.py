"""When does OLS equal GLS? Kruskal's condition — the notes' §3.3, eqs. (21)–(23).

For every Y, β̂_OLS = β*_GLS iff the column space of X is invariant under Σ:

    ΣX = XF   for some d×d matrix F                                              (23)

(Kruskal 1968). Then (XᵀΣ⁻¹X)⁻¹ = F(XᵀX)⁻¹ (21) and both estimators have the same variance
(22). We test (23) numerically: with X = QR (thin QR), the part of ΣX outside span(X) is
(I − QQᵀ)ΣX, and

    distance = ‖(I − QQᵀ)ΣX‖_F / ‖ΣX‖_F ∈ [0, 1]

is 0 exactly when the condition holds; F solves XF = ΣX in the least-squares sense.

Example
-------
>>> import numpy as np
>>> X = np.ones((5, 1))                     # the mean: invariant under an equicorrelated Σ
>>> Sigma = 0.5 * np.eye(5) + 0.5
>>> ols_equals_gls(X, Sigma).holds
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .._validation import as_real_array, check_positive
from .covariance import Covariance, as_covariance

__all__ = ["KruskalResult", "ols_equals_gls"]


@dataclass(frozen=True)
class KruskalResult:
    """holds : distance ≤ tol.   distance : ‖(I − P_X)ΣX‖_F / ‖ΣX‖_F.
    F : (d, d) least-squares solution of XF = ΣX.   tol : the tolerance used."""

    holds: bool
    distance: float
    F: np.ndarray
    tol: float

    def __bool__(self) -> bool:
        return self.holds


def ols_equals_gls(X, Sigma, *, tol: float = 1e-10) -> KruskalResult:
    """Test Kruskal's condition ΣX = XF (23): whether OLS and GLS coincide for every Y.

    Parameters
    ----------
    X : (N, d) design of full column rank (include the intercept column if the models have one).
    Sigma : (N, N) SPD matrix, (N,) diagonal, or a :class:`~curvlab.linear.covariance.Covariance`
        such as ``AR1(rho)`` (applied in O(N)).
    tol : the relative distance below which the condition is declared to hold; round-off
        alone gives ~1e-15·κ(X).
    """
    X = as_real_array(X, "X", ndim=2)
    tol = check_positive(tol, "tol")
    n, d = X.shape
    if isinstance(Sigma, Covariance):
        cov = as_covariance(Sigma, n, "Sigma")
    else:
        cov = as_covariance(as_real_array(Sigma, "Sigma", ndim=(1, 2)), n, "Sigma")
    SX = cov.matvec(X)  # ΣX, (N, d)
    Q, R = scipy.linalg.qr(X, mode="economic", check_finite=False)
    diag = np.abs(np.diag(R))
    if diag.size == 0 or np.min(diag) <= max(n, d) * np.finfo(float).eps * np.max(diag):
        raise ValueError("X must have full column rank for the OLS/GLS comparison; drop collinear "
                         "columns.")
    QtSX = Q.T @ SX
    outside = SX - Q @ QtSX  # (I − QQᵀ)ΣX
    norm = float(np.linalg.norm(SX))
    distance = float(np.linalg.norm(outside)) / norm if norm > 0 else 0.0
    F = scipy.linalg.solve_triangular(R, QtSX, check_finite=False)  # XF ≈ ΣX
    return KruskalResult(holds=distance <= tol, distance=distance, F=F, tol=tol)

