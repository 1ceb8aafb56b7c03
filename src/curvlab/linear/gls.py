"""Generalized least squares — the notes' §3.3, with the corrected eq. (20).

With Y = Xβ + ε, Var(ε) = σ²Σ:

    β* = (XᵀΣ⁻¹X)⁻¹XᵀΣ⁻¹Y,            Var(β*) = σ²(XᵀΣ⁻¹X)⁻¹
    β̂  = (XᵀX)⁻¹XᵀY (OLS),            Var(β̂) = σ²(XᵀX)⁻¹XᵀΣX(XᵀX)⁻¹

The notes' (20) attaches these two variances to the wrong estimators (it calls B the GLS
matrix) and writes XᵀΣ⁻¹X⁻¹ without parentheses; the forms above are the correct ones
(DESIGN.md), and by Gauss–Markov Var(β̂) − Var(β*) is positive semi-definite.

GLS is OLS on whitened data (WX, WY), WᵀW = Σ⁻¹ (:mod:`curvlab.linear.covariance`), so
the stable solvers and the inference of :class:`~curvlab.linear.ols.OLS` carry over:
σ̂² = ‖W(Y − Xβ*)‖²/(N − rank), the convention of statsmodels' ``GLS``.

Feasible GLS (``sigma="ar1"``) alternates OLS/GLS fits with the lag-1 autocorrelation of
the residuals, ρ̂ = Σ e_t e_{t−1} / Σ e_t², until ρ̂ changes by less than ``tol``
(Cochrane & Orcutt 1949; the Prais–Winsten transform keeps the first observation).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0); X = rng.normal(size=(200, 2))
>>> e = np.zeros(200); u = rng.normal(size=200)
>>> for t in range(200): e[t] = (0.6 * e[t - 1] if t else 0.0) + u[t]
>>> m = GLS(sigma="ar1").fit(X, X @ [1.0, 2.0] + e)
>>> abs(m.rho_ - 0.6) < 0.15            # ρ̂ from 200 observations
True
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np

from .._validation import check_positive, check_positive_int
from . import _dask
from ._base import LinearModel
from ._inference import InferenceMixin
from ._solvers import solve_least_squares
from .covariance import AR1, Covariance, DiagonalCovariance, as_covariance

__all__ = ["GLS"]

log = logging.getLogger(__name__)


class GLS(InferenceMixin, LinearModel):
    """Generalized least squares β* = (XᵀΣ⁻¹X)⁻¹XᵀΣ⁻¹Y with Var(β*) = σ²(XᵀΣ⁻¹X)⁻¹.

    Parameters
    ----------
    sigma : the error covariance Σ, up to the scale σ² (estimated):
        None → identity (OLS); an (N, N) SPD array; an (N,) array → diag(sigma) (WLS);
        ``AR1(rho)`` → Σ_ij = ρ^|i−j|, whitened in O(N); ``"ar1"`` → feasible GLS that
        estimates ρ from the residuals.
    fit_intercept : include an intercept column (whitened like the others).
    solver : "auto" | "cholesky" | "qr" | "svd", applied to the whitened data.
    max_iter, tol : iterations and the tolerance on ρ̂ for ``sigma="ar1"``.

    Attributes
    ----------
    coef_, intercept_, and the inference attributes of :class:`~curvlab.linear.OLS`
    (``params_``, ``bse_`` = √diag σ̂²(XᵀΣ⁻¹X)⁻¹, ...). ``rho_``, ``n_iter_`` for AR(1).
    ``rsquared_`` = 1 − SSR_W/TSS_W with TSS_W the whitened SSR of the intercept-only GLS
    model (as statsmodels).
    """

    def __init__(self, sigma=None, *, fit_intercept: bool = True, solver: str = "auto",
                 max_iter: int = 50, tol: float = 1e-8):
        self.sigma = sigma
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None) -> "GLS":
        """Fit β* by OLS on (WX, WY); ``sample_weight`` only with a diagonal or no ``sigma``."""
        if _dask.any_dask(X, y):  # chunked rows on Dask: one reduction, see linear._dask
            return _dask.fit(self, X, y, sample_weight)
        solver = self._check_solver()
        X, Y, sw, single = self._validate_fit(X, y, sample_weight)
        n = X.shape[0]
        if isinstance(self.sigma, str):
            if self.sigma != "ar1":
                raise ValueError(f"sigma must be an array, AR1(rho), None or 'ar1'; got {self.sigma!r}.")
            if sw is not None:
                raise ValueError("sample_weight cannot be combined with sigma='ar1'; fold the weights "
                                 "into an explicit sigma instead.")
            self._fit_feasible_ar1(X, Y, single, solver)
            return self
        cov = as_covariance(self.sigma, n)
        if isinstance(cov, DiagonalCovariance):
            # WLS: Σ = diag(s) is the same as weights 1/s.
            w = 1.0 / cov.s if sw is None else sw / cov.s
            cov, sw = None, w
        elif cov is not None and sw is not None:
            raise ValueError("sample_weight cannot be combined with a correlated sigma; fold the "
                             "weights into sigma (Σ ← D^{-1/2} Σ D^{-1/2}, D = diag(weights)).")
        self._fit_whitened(X, Y, cov, sw, single, solver)
        self.n_iter_ = 1  # one whitened least-squares solve (max_iter is for sigma="ar1")
        return self

    def _fit_whitened(self, X: np.ndarray, Y: np.ndarray, cov: Covariance | None,
                      sw: np.ndarray | None, single: bool, solver: str) -> None:
        n = X.shape[0]
        if cov is None:
            sol = solve_least_squares(X, Y, fit_intercept=self.fit_intercept, solver=solver,
                                      sample_weight=sw)
            w = np.ones(n) if sw is None else sw
            if self.fit_intercept:
                Yc = Y - (w @ Y) / w.sum()
                tss = w @ (Yc * Yc)
            else:
                tss = w @ (Y * Y)
        else:
            Z = np.hstack([np.ones((n, 1)), X]) if self.fit_intercept else X  # (n, p)
            Zw, Yw = cov.whiten(Z), cov.whiten(Y)
            sol = solve_least_squares(Zw, Yw, fit_intercept=False, solver=solver)
            if self.fit_intercept:
                beta = sol.coef  # (p, k), intercept first
                sol = dataclasses.replace(sol, coef=beta[1:], intercept=beta[0])
                # TSS of the intercept-only GLS model: min_m ‖W(Y − m1)‖² (as statsmodels).
                w1 = Zw[:, 0]
                Ywc = Yw - np.outer(w1, (w1 @ Yw) / (w1 @ w1))
                tss = np.einsum("ij,ij->j", Ywc, Ywc)
            else:
                tss = np.einsum("ij,ij->j", Yw, Yw)
        self._set_coef(sol.coef, sol.intercept, single)
        self.solver_ = sol.solver
        self.rcond_ = sol.rcond
        params = np.vstack([sol.intercept[None, :], sol.coef]) if self.fit_intercept else sol.coef
        self._set_inference(params.T, sol.cov_unscaled, sol.ssr, tss, n, sol.rank, single,
                            cov_scaled=sol.cov_scaled, col_scale=sol.col_scale,
                            ssr_scaled=sol.ssr_scaled, y_scale=sol.y_scale)

    def _fit_feasible_ar1(self, X: np.ndarray, Y: np.ndarray, single: bool, solver: str) -> None:
        """Iterate ρ̂ ← lag-1 autocorrelation of the residuals; β ← GLS with AR1(ρ̂)."""
        if Y.shape[1] != 1:
            raise ValueError("sigma='ar1' estimates one ρ and needs a single target; fit each "
                             "column of y separately.")
        if X.shape[0] < 3:
            raise ValueError(f"sigma='ar1' needs at least 3 observations; got {X.shape[0]}.")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = check_positive(self.tol, "tol")
        cov: Covariance | None = None
        rho = 0.0
        for it in range(1, max_iter + 1):
            self._fit_whitened(X, Y, cov, None, single, solver)
            e = Y[:, 0] - X @ self.coef_ - self.intercept_  # unwhitened residuals
            denom = float(e @ e)
            rho_new = float(e[1:] @ e[:-1]) / denom if denom > 0 else 0.0
            rho_new = float(np.clip(rho_new, -0.999, 0.999))
            log.debug("feasible GLS iteration %d: rho = %.10f", it, rho_new)
            converged = abs(rho_new - rho) < tol
            rho = rho_new
            cov = AR1(rho)
            if converged:
                break
        else:
            warnings.warn(f"feasible GLS did not converge in {max_iter} iterations (last change in "
                          "ρ above tol); increase max_iter.", RuntimeWarning, stacklevel=3)
        self._fit_whitened(X, Y, cov, None, single, solver)
        self.rho_ = rho
        self.n_iter_ = it
