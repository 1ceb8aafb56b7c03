"""Least-squares and ridge solvers that stay exact when the design is ill conditioned.

All solvers minimise ‖Y − 1b₀ᵀ − Xβ‖² (+ α‖β‖² for ridge), the objective of the notes'
eqs. (14) and (17), whose minimisers are the closed forms

    β̂ = (XᵀX)⁻¹XᵀY              (16)        β̂_ridge = (XᵀX + αI)⁻¹XᵀY      (19)

(with X, Y centred when an unpenalised intercept b₀ is fitted). Solving (16) literally —
forming XᵀX and inverting it — squares the condition number κ(X): on the Longley data
(κ ≈ 10⁸ after centring) that leaves ~0 correct digits. So:

``"cholesky"``  the normal equations, but with column scaling (Jacobi preconditioning,
                 van der Sluis 1969): G = D⁻¹[1 X]ᵀ[1 X]D⁻¹, D = column norms. One BLAS
                 ``syrk`` over the data — the cost floor of any normal-equations solver.
                 Relative error ~ κ(XD⁻¹)²·ε.
``"qr"``         Householder QR with column pivoting of the centred, column-scaled X
                 (Golub 1965). Relative error ~ κ·ε (+ κ²·ε·‖r‖/‖Y‖).
``"svd"``        SVD of the centred, column-scaled X; the most robust, and the one that
                 yields the minimum-norm solution on rank-deficient designs.
``"auto"``       Cholesky when the scaled Gram matrix is well conditioned (its reciprocal
                 condition number, estimated by LAPACK ``dpocon`` in O(d²), is ≥
                 ``AUTO_RCOND``, i.e. κ(XD⁻¹)² ≤ 10⁶, so the normal equations lose at most
                 six of sixteen digits), QR otherwise.

A design whose (scaled) rank is below its number of columns triggers a
:class:`RankDeficiencyWarning` and the minimum-norm solution β = X⁺Y, like
``numpy.linalg.lstsq`` and statsmodels' ``pinv``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

__all__ = ["AUTO_RCOND", "RankDeficiencyWarning", "LstsqSolution", "SOLVERS",
           "solve_least_squares", "solve_ridge", "gram_solve"]

SOLVERS = ("auto", "cholesky", "qr", "svd")
AUTO_RCOND = 1e-6  # auto takes the normal equations only when rcond(scaled Gram) ≥ this
_EPS = np.finfo(np.float64).eps


class RankDeficiencyWarning(UserWarning):
    """The design matrix is (numerically) rank deficient; the minimum-norm solution is returned."""


@dataclass(frozen=True)
class LstsqSolution:
    """What a least-squares solve returns.

    coef : (d, k) slopes.   intercept : (k,) (zeros without an intercept).
    rank : numerical rank of [1 X] (or X).   solver : the solver actually used.
    cov_unscaled : (p, p) (ZᵀZ)⁻¹ (a pseudo-inverse when rank deficient) for the design
        Z = [1 X] (intercept first) or Z = X; multiply by σ̂² for Var(β̂). None for ridge.
    ssr : (k,) residual sum of squares ‖Y − Ŷ‖² (weighted when weights are given).
    rcond : reciprocal condition number of the column-scaled Gram matrix (NaN if unknown).
    """

    coef: np.ndarray
    intercept: np.ndarray
    rank: int
    solver: str
    cov_unscaled: np.ndarray | None
    ssr: np.ndarray
    rcond: float


# --------------------------------------------------------------------------- helpers
def _weighted_center(X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None):
    """Weighted means x̄ = Σwᵢxᵢ/Σwᵢ, ȳ and √w-scaled centred copies (X − x̄)√w, (Y − ȳ)√w."""
    if sw is None:
        x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
        return X - x_mean, Y - y_mean, x_mean, y_mean
    w_sum = sw.sum()
    x_mean = sw @ X / w_sum
    y_mean = sw @ Y / w_sum
    sqrt_w = np.sqrt(sw)[:, None]  # (n, 1)
    return (X - x_mean) * sqrt_w, (Y - y_mean) * sqrt_w, x_mean, y_mean


def _column_norms(X: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->j", X, X))


def _rcond_chol(G: np.ndarray, c: np.ndarray) -> float:
    """Reciprocal 1-norm condition number of SPD G, given its upper Cholesky factor c (LAPACK dpocon)."""
    anorm = float(np.max(np.sum(np.abs(G), axis=0)))
    rcond, info = lapack.dpocon(c, anorm)
    return float(rcond) if info == 0 else 0.0


def _intercept_covariance(cov_c: np.ndarray, x_mean: np.ndarray, w_sum: float) -> np.ndarray:
    """(ZᵀZ)⁻¹ for Z = [1 X] from (X_cᵀX_c)⁻¹ of the centred X_c (intercept first).

    Var(b₀) = 1/Σw + x̄ᵀC x̄,  Cov(b₀, β) = −C x̄,  Var(β) = C   (C = (X_cᵀX_c)⁻¹).
    """
    Cx = cov_c @ x_mean
    d = cov_c.shape[0]
    out = np.empty((d + 1, d + 1))
    out[0, 0] = 1.0 / w_sum + x_mean @ Cx
    out[0, 1:] = out[1:, 0] = -Cx
    out[1:, 1:] = cov_c
    return out


def _warn_rank(rank: int, d: int) -> None:
    warnings.warn(
        f"the design matrix is rank deficient (numerical rank {rank} < {d} columns); returning "
        "the minimum-norm least-squares solution. Drop collinear columns, or use Ridge, for a "
        "unique estimate.", RankDeficiencyWarning, stacklevel=4)


# --------------------------------------------------------------------------- solvers
def _solve_qr(Xc: np.ndarray, Yc: np.ndarray, want_cov: bool):
    """β for centred data by pivoted QR of the column-scaled X; None if rank deficient."""
    n, d = Xc.shape
    D = _column_norms(Xc)
    if np.any(D == 0) or n < d:
        return None
    Q, R, perm = scipy.linalg.qr(Xc / D, mode="economic", pivoting=True, check_finite=False)
    diag = np.abs(np.diag(R))
    tol = max(n, d) * _EPS * diag[0]
    rank = int(np.sum(diag > tol))
    if rank < d:
        return None
    # XD⁻¹P = QR  ⇒  β = D⁻¹ P R⁻¹ Qᵀ Y
    Xs = Xc / D
    beta_p = scipy.linalg.solve_triangular(R, Q.T @ Yc, check_finite=False)
    # One step of iterative refinement (Björck 1967): β ← β + R⁻¹Qᵀ(Y − XD⁻¹Pβ). It recovers
    # digits lost to rounding in QᵀY when the residual is small relative to Y.
    resid = Yc - Xs[:, perm] @ beta_p
    beta_p += scipy.linalg.solve_triangular(R, Q.T @ resid, check_finite=False)
    beta = np.empty_like(beta_p)
    beta[perm] = beta_p
    beta /= D[:, None]
    cov = None
    if want_cov:
        R_inv = scipy.linalg.solve_triangular(R, np.eye(d), check_finite=False)
        C_p = R_inv @ R_inv.T  # (RᵀR)⁻¹ in pivoted order
        C = np.empty_like(C_p)
        C[np.ix_(perm, perm)] = C_p
        cov = C / np.outer(D, D)
    rcond = float((diag[-1] / diag[0]) ** 2)
    return beta, cov, rank, rcond


def _solve_svd(Xc: np.ndarray, Yc: np.ndarray, want_cov: bool, warn: bool = True):
    """β by SVD of the column-scaled X; minimum-norm (in the original scale) if rank deficient."""
    n, d = Xc.shape
    D = _column_norms(Xc)
    D_safe = np.where(D > 0, D, 1.0)
    U, s, Vt = scipy.linalg.svd(Xc / D_safe, full_matrices=False, check_finite=False,
                                lapack_driver="gesdd")
    s_max = s[0] if s.size else 0.0
    rank = int(np.sum(s > max(n, d) * _EPS * s_max)) if s_max > 0 else 0
    if rank == d:
        beta = (Vt.T / s) @ (U.T @ Yc) / D_safe[:, None]
        cov = ((Vt.T / s**2) @ Vt) / np.outer(D_safe, D_safe) if want_cov else None
        return beta, cov, rank, float((s[-1] / s_max) ** 2)
    if warn:
        _warn_rank(rank, d)
    # Minimum-norm solution in the user's coordinates: X⁺Y, truncated to the same rank.
    U, s, Vt = scipy.linalg.svd(Xc, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    U, s, Vt = U[:, :rank], s[:rank], Vt[:rank]
    beta = (Vt.T / s) @ (U.T @ Yc)
    cov = (Vt.T / s**2) @ Vt if want_cov else None
    return beta, cov, rank, 0.0


def _solve_cholesky_gram(G: np.ndarray, b: np.ndarray):
    """Solve G β = b for SPD G with column scaling; (β, G⁻¹, rcond) or None if not PD."""
    D = np.sqrt(np.diag(G))
    if np.any(D == 0) or not np.all(np.isfinite(D)):
        return None
    Gs = G / np.outer(D, D)
    c, info = lapack.dpotrf(Gs, lower=0, clean=1)
    if info != 0:
        return None
    rcond = _rcond_chol(Gs, c)
    beta_s, _ = lapack.dpotrs(c, b / D[:, None], lower=0)
    # (dpotri is pathologically slow in some OpenBLAS builds; two triangular solves are not)
    G_inv_s, _ = lapack.dpotrs(c, np.eye(G.shape[0]), lower=0)
    G_inv_s = (G_inv_s + G_inv_s.T) / 2
    return beta_s / D[:, None], G_inv_s / np.outer(D, D), rcond


def gram_solve(G: np.ndarray, b: np.ndarray, yy: np.ndarray, n: float, *,
               fit_intercept: bool, col_sum: np.ndarray | None = None,
               y_sum: np.ndarray | None = None, min_rcond: float = AUTO_RCOND) -> LstsqSolution | None:
    """OLS from sufficient statistics (for chunked/streamed data): G = XᵀX, b = XᵀY, yy = diag(YᵀY).

    With an intercept, also ``col_sum`` = Xᵀ1, ``y_sum`` = Yᵀ1 and ``n``; the Gram matrix of
    [1 X] is assembled from them. Returns None if the scaled Gram matrix is not positive
    definite or ill conditioned (rcond < ``min_rcond``): the caller must then use QR on the data.
    """
    if fit_intercept:
        d = G.shape[0]
        Ga = np.empty((d + 1, d + 1))
        Ga[0, 0] = n
        Ga[0, 1:] = Ga[1:, 0] = col_sum
        Ga[1:, 1:] = G
        ba = np.vstack([y_sum[None, :], b])
    else:
        Ga, ba = G, b
    out = _solve_cholesky_gram(Ga, ba)
    if out is None or out[2] < min_rcond:
        return None
    beta_a, cov, rcond = out
    # ‖Y − Zβ‖² = YᵀY − 2βᵀZᵀY + βᵀZᵀZβ = YᵀY − βᵀZᵀY at the solution (ZᵀZβ = ZᵀY).
    ssr = np.maximum(yy - np.einsum("ij,ij->j", beta_a, ba), 0.0)
    coef, intercept = (beta_a[1:], beta_a[0]) if fit_intercept else (beta_a, np.zeros(b.shape[1]))
    return LstsqSolution(coef, intercept, Ga.shape[0], "cholesky", cov, ssr, rcond)



def _weighted_design(X: np.ndarray, Y: np.ndarray, fit_intercept: bool,
                     sample_weight: np.ndarray | None):
    """(Xc, Yc, x_mean, y_mean): the centred (with intercept) or √w-scaled design and targets
    whose plain least-squares problem is the weighted one; the means are None without intercept."""
    if fit_intercept:
        return _weighted_center(X, Y, sample_weight)
    if sample_weight is not None:
        sqrt_w = np.sqrt(sample_weight)[:, None]  # (n, 1)
        return X * sqrt_w, Y * sqrt_w, None, None
    return X, Y, None, None

def solve_least_squares(X: np.ndarray, Y: np.ndarray, *, fit_intercept: bool = True,
                        solver: str = "auto", sample_weight: np.ndarray | None = None,
                        want_cov: bool = True, x_col_sum: np.ndarray | None = None) -> LstsqSolution:
    """Weighted least squares  min Σᵢ wᵢ‖yᵢ − b₀ − βᵀxᵢ‖²  — eq. (16) solved stably.

    Parameters
    ----------
    X : (n, d) finite float64.   Y : (n, k).   sample_weight : (n,) non-negative or None.
    solver : "auto" | "cholesky" | "qr" | "svd" (see the module docstring).
    x_col_sum : Xᵀ1 if the caller already has it (saves a pass over X).

    Example
    -------
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(50, 3))
    >>> sol = solve_least_squares(X, X @ np.array([[1.0], [2.0], [3.0]]) + 4.0)
    >>> np.round(sol.coef.ravel(), 10).tolist(), float(np.round(sol.intercept[0], 10))
    ([1.0, 2.0, 3.0], 4.0)
    """
    n, d = X.shape
    w_sum = float(n if sample_weight is None else sample_weight.sum())
    if solver in ("auto", "cholesky"):
        # Fast path: one syrk over the data for [1 X]ᵀ[1 X] (numpy dispatches X.T @ X to syrk).
        if sample_weight is None:
            Xw, Yw, ones_w = X, Y, None
        else:
            sqrt_w = np.sqrt(sample_weight)  # (n,)
            Xw, Yw, ones_w = X * sqrt_w[:, None], Y * sqrt_w[:, None], sqrt_w
        G = Xw.T @ Xw
        # XᵀY and the column sums by einsum: streaming, unlike BLAS gemv/gemm on skinny operands
        b = (np.stack([np.einsum("ij,i->j", Xw, Yw[:, t]) for t in range(Yw.shape[1])], axis=1)
             if Yw.shape[1] <= 8 else Xw.T @ Yw)
        if fit_intercept:
            if ones_w is None:
                col_sum = X.sum(axis=0) if x_col_sum is None else x_col_sum
                y_sum = Yw.sum(axis=0)
            else:
                col_sum, y_sum = np.einsum("ij,i->j", Xw, ones_w), ones_w @ Yw
        else:
            col_sum = y_sum = None
        yy = np.einsum("ij,ij->j", Yw, Yw)
        sol = gram_solve(G, b, yy, w_sum, fit_intercept=fit_intercept, col_sum=col_sum,
                         y_sum=y_sum, min_rcond=AUTO_RCOND if solver == "auto" else 0.0)
        if sol is not None:
            ssr_floor = 1e-8 * float(np.max(yy)) if yy.size else 0.0
            if np.any(sol.ssr < ssr_floor):
                # YᵀY − βᵀZᵀY cancelled badly (near-perfect fit): recompute from residuals.
                R = Yw - Xw @ sol.coef - (sol.intercept if ones_w is None
                                          else np.outer(ones_w, sol.intercept))
                sol = LstsqSolution(sol.coef, sol.intercept, sol.rank, sol.solver,
                                    sol.cov_unscaled, np.einsum("ij,ij->j", R, R), sol.rcond)
            return sol
        # not positive definite or ill conditioned: fall through to QR / SVD
    Xc, Yc, x_mean, y_mean = _weighted_design(X, Y, fit_intercept, sample_weight)
    used = solver
    out = None
    if solver in ("auto", "cholesky", "qr"):
        out = _solve_qr(Xc, Yc, want_cov)
        used = "qr"
    if out is None:
        out = _solve_svd(Xc, Yc, want_cov)
        used = "svd"
    beta, cov_c, rank, rcond = out
    R = Yc - Xc @ beta
    ssr = np.einsum("ij,ij->j", R, R)
    if fit_intercept:
        intercept = y_mean - x_mean @ beta
        cov = _intercept_covariance(cov_c, x_mean, w_sum) if want_cov else None
        rank += 1
    else:
        intercept = np.zeros(Y.shape[1])
        cov = cov_c
    return LstsqSolution(beta, intercept, rank, used, cov, ssr, rcond)


def solve_ridge(X: np.ndarray, Y: np.ndarray, alpha: float, *, fit_intercept: bool = True,
                solver: str = "auto", sample_weight: np.ndarray | None = None) -> LstsqSolution:
    """Ridge regression  min Σᵢ wᵢ‖yᵢ − b₀ − βᵀxᵢ‖² + α‖β‖²  — eq. (19), b₀ unpenalised.

    ``"cholesky"`` solves (XᵀX + αI)β = XᵀY (19); ``"svd"`` uses X = USVᵀ,
    β = V diag(s/(s² + α)) UᵀY; ``"qr"`` factors the augmented matrix [X; √α I] of the
    notes' eq. (25), whose normal equations are exactly (19); ``"auto"`` is Cholesky when
    rcond(XᵀX + αI) ≥ AUTO_RCOND and SVD otherwise.
    """
    n, d = X.shape
    Xc, Yc, x_mean, y_mean = _weighted_design(X, Y, fit_intercept, sample_weight)
    beta = None
    used = solver
    rcond = float("nan")
    if solver in ("auto", "cholesky") and alpha > 0:
        # β = (XᵀX + αI)⁻¹ XᵀY   (19)
        G = Xc.T @ Xc
        G[np.diag_indices_from(G)] += alpha
        c, info = lapack.dpotrf(G, lower=0, clean=1)
        if info == 0:
            rcond = _rcond_chol(G, c)
            if solver == "cholesky" or rcond >= AUTO_RCOND:
                beta, _ = lapack.dpotrs(c, Xc.T @ Yc, lower=0)
                used = "cholesky"
    if beta is None and solver == "qr" and alpha > 0:
        X_aug = np.vstack([Xc, np.sqrt(alpha) * np.eye(d)])  # (n + d, d), eq. (25)
        Y_aug = np.vstack([Yc, np.zeros((d, Yc.shape[1]))])
        Q, R = scipy.linalg.qr(X_aug, mode="economic", check_finite=False)
        beta = scipy.linalg.solve_triangular(R, Q.T @ Y_aug, check_finite=False)
    if beta is None:
        if alpha == 0:
            return solve_least_squares(X, Y, fit_intercept=fit_intercept, solver=solver,
                                       sample_weight=sample_weight, want_cov=False)
        U, s, Vt = scipy.linalg.svd(Xc, full_matrices=False, check_finite=False)
        beta = (Vt.T * (s / (s**2 + alpha))) @ (U.T @ Yc)  # V diag(s/(s²+α)) UᵀY
        used = "svd"
    R = Yc - Xc @ beta
    ssr = np.einsum("ij,ij->j", R, R)
    intercept = y_mean - x_mean @ beta if fit_intercept else np.zeros(Y.shape[1])
    return LstsqSolution(beta, intercept, min(n, d) + int(fit_intercept), used, None, ssr, rcond)
