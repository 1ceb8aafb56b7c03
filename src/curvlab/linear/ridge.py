"""Ridge regression — the notes' eqs. (17)–(19).

    β̂ = argmin_β ‖Y − Xβ‖² + α‖β‖²  =  (XᵀX + αI)⁻¹XᵀY                              (19)

The penalty is on the slopes only: with ``fit_intercept`` X and Y are centred first, so
the intercept is unpenalised (as in scikit-learn's ``Ridge``, whose objective is the same).
Eq. (25) of the notes — ridge is OLS on the augmented data [X; √α I], [Y; 0] — is the
``solver="qr"`` path.

Example
-------
>>> import numpy as np
>>> X = np.eye(3); y = np.array([1.0, 2.0, 3.0])
>>> Ridge(alpha=1.0, fit_intercept=False).fit(X, y).coef_.round(12).tolist()   # y / (1 + α)
[0.5, 1.0, 1.5]
"""

from __future__ import annotations

from . import _dask
from ._base import LinearModel
from ._solvers import solve_ridge

__all__ = ["Ridge"]


class Ridge(LinearModel):
    """Ridge regression (19): β̂ = (XᵀX + αI)⁻¹XᵀY, unpenalised intercept.

    Parameters
    ----------
    alpha : α ≥ 0, the L2 penalty (α = 0 is OLS, solved stably).
    fit_intercept : centre X and y and fit b₀.
    solver : "auto" | "cholesky" | "qr" (augmented data, eq. (25)) | "svd".

    Attributes
    ----------
    coef_ (d,) or (k, d), intercept_, solver_ (the solver used).
    """

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True, solver: str = "auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y, sample_weight=None) -> "Ridge":
        """Fit β̂ = (XᵀWX + αI)⁻¹XᵀWY on the (weighted-)centred data."""
        if _dask.any_dask(X, y):  # chunked rows on Dask: one reduction, see linear._dask
            return _dask.fit(self, X, y, sample_weight)
        solver = self._check_solver()
        alpha = self._check_penalty(self.alpha, "alpha")
        X, Y, sw, single = self._validate_fit(X, y, sample_weight)
        sol = solve_ridge(X, Y, alpha, fit_intercept=self.fit_intercept, solver=solver,
                          sample_weight=sw)
        self._set_coef(sol.coef, sol.intercept, single)
        self.solver_ = sol.solver
        return self
