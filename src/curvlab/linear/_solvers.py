"""Least-squares and ridge solvers that stay exact when the design is ill conditioned.

All solvers minimise ‖Y − 1b₀ᵀ − Xβ‖² (+ α‖β‖² for ridge), the objective of the notes'
eqs. (14) and (17), whose minimisers are the closed forms

    β̂ = (XᵀX)⁻¹XᵀY              (16)        β̂_ridge = (XᵀX + αI)⁻¹XᵀY      (19)

(b₀ an explicit column of ones in Z = [1 X] for least squares; X, Y centred for ridge).
Solving (16) literally — forming XᵀX and inverting it — squares the condition number
κ(X): on the Longley data (κ ≈ 10⁸ after centring) that leaves ~0 correct digits. So:

``"cholesky"``  the normal equations, but with column scaling (Jacobi preconditioning,
                 van der Sluis 1969): G = D⁻¹[1 X]ᵀ[1 X]D⁻¹, D = column norms. One BLAS
                 ``syrk`` over the data — the cost floor of any normal-equations solver.
                 Relative error ~ κ(XD⁻¹)²·ε.
``"qr"``         Householder QR with column pivoting of the equilibrated [1 X] (Golub 1965)
                 and iterative refinement (below): the exact least-squares solution of the
                 float64 data whenever κ·ε < 1.
``"svd"``        SVD of the centred, column-scaled X; the most robust, and the one that
                 yields the minimum-norm solution on rank-deficient designs.
``"auto"``       the refined QR for small problems; for large ones Cholesky when the scaled
                 Gram matrix is well conditioned (its reciprocal condition number, estimated
                 by LAPACK ``dpocon`` in O(d²), says ≥ 13 correct digits: ε·κ ≤
                 ``REFINE_TOL``), the corrected semi-normal equations otherwise (below).

A design whose (scaled) rank is below its number of columns triggers a
:class:`RankDeficiencyWarning` and the minimum-norm solution β = X⁺Y, like
``numpy.linalg.lstsq`` and statsmodels' ``pinv``.

Every certified digit (the ``"qr"`` path, and ``"auto"`` where a condition estimate asks)
----------------------------------------------------------------------------------------
:func:`solve_refined` is the accurate path. On the explicit design Z = [1 X] (no centring:
centring a column of x¹⁰ already loses the digits of Filip's problem):

1. *Equilibration* by powers of two, Zs = Z D⁻¹ with D_j = 2^round(log₂‖z_j‖): exact (no
   rounding), and overflow-safe, so X·1e200 or X·1e-200 solve like X.
2. *Householder QR with column pivoting*, Zs P = QR; the numerical rank is the number of
   |R_jj| > max(n, p)·ε·|R_11| (``numpy.linalg.lstsq``'s default cut-off).
3. *Iterative refinement of the augmented system* (Björck 1967)

       [ I   Zs ] [r]   [y]
       [ Zsᵀ  0 ] [x] = [0],

   whose solution is the least-squares x and its residual r = y − Zs x. The residuals
   f = y − r − Zs x and g = −Zsᵀr are computed in doubled precision (Dekker's exact products
   and Knuth's TwoSum, as in Ogita–Rump–Oishi's Dot2) and each correction is solved with the
   same QR. (``np.longdouble`` lost: its 64-bit significand left Wampler5 at 12.4 digits,
   compensated sums reach 15, at about the same cost; and it is plain float64 on Windows and
   macOS arm64.) Refining
   (r, x) together, not x alone, removes the κ²ε‖r‖ term of large-residual problems
   (Wampler4/5); the iteration converges to the exact least-squares solution of the
   float64 data whenever κ(Zs)·ε < 1.
4. *Standard errors from the same factorization*: (ZsᵀZs)⁻¹ is the x-part of the same
   augmented system with right-hand side [0; −I], refined the same way.

``"auto"`` and ``"qr"`` take it for small problems (n·p ≤ ``SMALL_WORK``, where it costs at
most a few tens of milliseconds; step 4 only when n·p² ≤ ``SMALL_COV_WORK``, else (ZsᵀZs)⁻¹ =
R⁻¹R⁻ᵀ, relative accuracy ~κε). Large designs keep the one-``syrk`` Cholesky path unless its condition
estimate predicts fewer than 13 correct digits (ε·κ₁(Gs) > ``REFINE_TOL``); then
:func:`solve_csne` (QR's R, corrected semi-normal equations with float64 residuals: the
accuracy of a backward-stable QR solve at about the cost of numpy.linalg.lstsq), since the
doubled-precision refinement costs ~10× lstsq at n = 2·10⁵, d = 50.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

__all__ = ["AUTO_RCOND", "RankDeficiencyWarning", "LstsqSolution", "SOLVERS",
           "solve_least_squares", "solve_ridge", "gram_solve", "solve_refined", "lstsq_from_r",
           "pow2_column_scale", "refine_augmented", "residual_ext", "solve_csne", "tall_r"]

SOLVERS = ("auto", "cholesky", "qr", "svd")
AUTO_RCOND = 1e-6  # fit_chunks takes the normal equations only when rcond(scaled Gram) ≥ this
# auto (in memory) refines when ε·κ₁(scaled Gram) > REFINE_TOL, i.e. when the normal equations
# may leave fewer than 13 correct digits; and always when n·p ≤ SMALL_WORK (≲ 30 ms of
# doubled-precision refinement). (ZᵀZ)⁻¹ is refined too when n·p² ≤ SMALL_COV_WORK (≲ 0.1 s;
# its p right-hand sides make it the costly part: 1.6 s at n = 1300, p = 100).
REFINE_TOL = 1e-13
SMALL_WORK = 2**17
SMALL_COV_WORK = 2**16
_EPS = np.finfo(np.float64).eps
_EXT_BLOCK = 65536  # elements per block of the doubled-precision Zᵀr


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
    # Optional overflow-safe form of cov_unscaled = D⁻¹ cov_scaled D⁻¹ (col_scale = D, (p,)):
    # with X·1e200, (ZᵀZ)⁻¹ underflows to 0 while cov_scaled and D are representable.
    cov_scaled: np.ndarray | None = None
    col_scale: np.ndarray | None = None
    # Likewise ssr = ssr_scaled · y_scale² (k,), which may overflow when y does (y·1e200).
    ssr_scaled: np.ndarray | None = None
    y_scale: np.ndarray | None = None
    refine_iter: int = 0  # refinement steps taken (0 when the solution was not refined)


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
    """Column 2-norms, overflow- and underflow-safe (scaled by the column's largest entry)."""
    with np.errstate(over="ignore", under="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    if np.all((norms > 1e-140) & (norms < 1e140)):  # no square under- or overflowed
        return norms
    amax = np.max(np.abs(X), axis=0) if X.shape[0] else np.zeros(X.shape[1])
    s = np.where((amax > 0) & np.isfinite(amax), amax, 1.0)
    Xs = X / s
    return np.sqrt(np.einsum("ij,ij->j", Xs, Xs)) * s


def pow2_column_scale(Z: np.ndarray) -> np.ndarray:
    """D (p,): powers of two nearest the column 2-norms of Z (1 for a zero column).

    Dividing by a power of two is exact in binary floating point, so Zs = Z D⁻¹ is the same
    problem as Z, only better scaled (van der Sluis 1969: near-optimal for κ among diagonal
    scalings), and the norms are computed without overflow for any finite Z.
    """
    norms = _column_norms(Z)
    ok = (norms > 0) & np.isfinite(norms)
    return np.where(ok, np.exp2(np.round(np.log2(np.where(ok, norms, 1.0)))), 1.0)


# ------------------------------------------------------------------ extended-precision residuals
def _two_sum(a, b):
    """s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    """a = hi + lo with 26-bit halves (Dekker), so products of halves are exact."""
    c = 134217729.0 * a  # 2^27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b, a_split=None):
    """p + e = a·b exactly (Dekker; |a·b| must not overflow). ``a_split``: _split(a) if known."""
    p = a * b
    a1, a2 = _split(a) if a_split is None else a_split
    b1, b2 = _split(b)
    return p, a2 * b2 - (((p - a1 * b1) - a2 * b1) - a1 * b2)


def residual_ext(Z: np.ndarray, x: np.ndarray, b: np.ndarray,
                 r: np.ndarray | None = None, Z_split=None) -> np.ndarray:
    """f = b − r − Z x  (n, k) in doubled precision, rounded once to float64.

    Z (n, p), x (p, k), b (n, k), r (n, k) or None. The cancellation in b − Zx is what costs
    digits in least squares; here every product is exact (Dekker) and the sums carry their
    rounding errors (TwoSum), so the result is as if computed with a ~106-bit significand
    (Ogita, Rump & Oishi 2005, Dot2). ``Z_split`` = _split(Z), when reused across calls.
    """
    Z_hi, Z_lo = _split(Z) if Z_split is None else Z_split
    acc = b.astype(np.float64, copy=True)
    comp = np.zeros_like(acc)
    if r is not None:
        acc, e = _two_sum(acc, -r)
        comp += e
    for j in range(Z.shape[1]):
        P, E = _two_prod(Z[:, j:j + 1], x[j:j + 1, :], (Z_hi[:, j:j + 1], Z_lo[:, j:j + 1]))
        acc, e = _two_sum(acc, -P)
        comp += e - E
    return acc + comp


def _gram_residual_ext(Z: np.ndarray, r: np.ndarray, c: np.ndarray, Z_split=None) -> np.ndarray:
    """g = c − Zᵀ r  (p, k) in doubled precision (exact products, TwoSum tree over rows)."""
    Z_hi, Z_lo = _split(Z) if Z_split is None else Z_split
    s_acc, e_acc = c.astype(np.float64, copy=True), np.zeros(c.shape)
    block = max(1, _EXT_BLOCK * 8 // max(1, Z.shape[1] * r.shape[1]))
    for s0 in range(0, Z.shape[0], block):
        rows = slice(s0, s0 + block)
        P, E = _two_prod(Z[rows, :, None], -r[rows, None, :],
                         (Z_hi[rows, :, None], Z_lo[rows, :, None]))  # (m, p, k)
        while P.shape[0] > 1:
            if P.shape[0] % 2:
                P = np.concatenate([P, np.zeros((1,) + P.shape[1:])])
                E = np.concatenate([E, np.zeros((1,) + E.shape[1:])])
            P, err = _two_sum(P[0::2], P[1::2])
            E = E[0::2] + E[1::2] + err
        s_acc, err = _two_sum(s_acc, P[0])
        e_acc += E[0] + err
    return s_acc + e_acc


def refine_augmented(Zs: np.ndarray, Q: np.ndarray, R: np.ndarray, perm: np.ndarray,
                     b: np.ndarray, c: np.ndarray, *, max_iter: int = 10) -> tuple[np.ndarray, np.ndarray, int]:
    """Solve [[I, Zs], [Zsᵀ, 0]] [r; x] = [b; c] by iterative refinement (Björck 1967).

    Zs (n, p) of full column rank, with Zs[:, perm] = Q R (economic, Q (n, p)); b (n, k),
    c (p, k). Each step computes the residuals f = b − r − Zs x, g = c − Zsᵀr in extended
    precision and solves the correction with the QR factors:

        h = R⁻ᵀ(Pᵀg),   δx = P R⁻¹(Qᵀf − h),   δr = f − Q(Qᵀf − h).

    b = y, c = 0 gives the least-squares solution and residual; b = 0, c = −I gives
    x = (ZsᵀZs)⁻¹. Stops when the correction no longer changes x in float64 (or stops
    shrinking). Returns (x (p, k), r (n, k), steps taken).
    """
    n, p = Zs.shape
    k = b.shape[1]
    x = np.zeros((p, k))
    r = np.zeros((n, k))
    f, g = b.astype(np.float64, copy=True), c.astype(np.float64, copy=True)
    Zs = np.asfortranarray(Zs)  # the products below run column by column
    Z_split = tuple(np.asfortranarray(a) for a in _split(Zs))  # Zs is fixed: split it once
    prev = np.inf
    steps = 0
    for steps in range(1, max_iter + 1):
        h = scipy.linalg.solve_triangular(R, g[perm], trans="T", check_finite=False)
        d = Q.T @ f - h  # (p, k)
        dx = np.empty((p, k))
        dx[perm] = scipy.linalg.solve_triangular(R, d, check_finite=False)
        dr = f - Q @ d
        x_new = np.abs(x + dx)
        floor = np.maximum(_EPS * np.max(x_new, axis=0, keepdims=True), np.finfo(float).tiny)
        size = float(np.max(np.abs(dx) / np.maximum(x_new, floor)))  # componentwise change
        if steps > 2 and size > 0.5 * prev:  # no longer contracting: keep the last iterate
            break
        x += dx
        r += dr
        if size <= _EPS:
            break
        prev = size
        f = residual_ext(Zs, x, b, r, Z_split)
        g = _gram_residual_ext(Zs, r, c, Z_split)
    return x, r, steps


def solve_refined(Z: np.ndarray, Y: np.ndarray, *, want_cov: bool = True, refine_cov: bool = True):
    """Least squares on an explicit design Z (n, p) (intercept column included), refined.

    Returns (beta (p, k), cov_scaled (p, p) or None, D (p,), rank, rcond, ssr (k,), steps,
    ssr_scaled (k,), y_scale (k,)), with (ZᵀZ)⁻¹ = D⁻¹ cov_scaled D⁻¹ and
    ssr = ssr_scaled·y_scale²; or None when Z is numerically rank deficient (the caller
    then takes the SVD's minimum-norm solution). ``refine_cov=False`` takes (ZsᵀZs)⁻¹ =
    R⁻¹R⁻ᵀ without refinement (O(p³) instead of O(np²) extended-precision work).
    """
    n, p = Z.shape
    if n < p:
        return None
    D = pow2_column_scale(Z)
    Zs = Z / D  # exact: D holds powers of two
    ys_scale = pow2_column_scale(Y)  # targets too, so that no residual square overflows
    Ys = Y / ys_scale
    Q, R, perm = scipy.linalg.qr(Zs, mode="economic", pivoting=True, check_finite=False)
    diag = np.abs(np.diag(R))
    if diag[0] == 0 or np.sum(diag > max(n, p) * _EPS * diag[0]) < p:
        return None
    xs, rs, steps = refine_augmented(Zs, Q, R, perm, Ys, np.zeros((p, Ys.shape[1])))
    ssr_s = np.einsum("ij,ij->j", rs, rs)
    with np.errstate(over="ignore"):
        beta = xs / D[:, None] * ys_scale  # (p, k)
        ssr = ssr_s * ys_scale**2
    cov_s = None
    if want_cov:
        if refine_cov:
            cov_s = refine_augmented(Zs, Q, R, perm, np.zeros((n, p)), -np.eye(p))[0]
        else:
            R_inv = scipy.linalg.solve_triangular(R, np.eye(p), check_finite=False)
            cov_s = np.empty((p, p))
            cov_s[np.ix_(perm, perm)] = R_inv @ R_inv.T
        cov_s = (cov_s + cov_s.T) / 2
    rcond = float((diag[-1] / diag[0]) ** 2)
    return beta, cov_s, D, p, rcond, ssr, steps, ssr_s, ys_scale


def tall_r(Z: np.ndarray, block: int = 2048) -> np.ndarray:
    """The (p, p) R factor of a tall Z (n, p), by Householder QR over row blocks (TSQR).

    R ← R-factor of [R; Z_block] block after block: each QR stays in cache, which for
    p ≲ 100 is several times faster than one LAPACK geqrf on all n rows (whose panel
    factorization is then BLAS-2 over memory). Backward stable like a plain QR.
    """
    n, p = Z.shape
    R = None
    for start in range(0, n, block):
        part = Z[start:start + block] if R is None else np.vstack([R, Z[start:start + block]])
        R = scipy.linalg.qr(part, mode="r", check_finite=False)[0][:p]
    if R.shape[0] < p:
        R = np.vstack([R, np.zeros((p - R.shape[0], p))])
    return np.triu(R)


def solve_csne(Z: np.ndarray, Y: np.ndarray, *, want_cov: bool = True, max_iter: int = 4):
    """Large designs: corrected semi-normal equations on the R of an unpivoted QR (Björck 1987).

    Zs = Z D⁻¹ (powers of two), Zs = QR (R only, :func:`tall_r`; Q never formed), then
    x = R⁻¹R⁻ᵀZsᵀy corrected by x ← x + R⁻¹R⁻ᵀZsᵀ(y − Zs x) with BLAS residuals, until the
    correction stalls. Its error is that of a backward-stable QR solve (κε + κ²ε‖r‖/‖Zs‖‖x‖)
    at a fraction of the cost of pivoted QR with doubled-precision refinement, which is what
    :func:`solve_refined` spends on small problems. Same return value as :func:`solve_refined`.
    """
    n, p = Z.shape
    if n < p:
        return None
    D = pow2_column_scale(Z)
    Zs = Z / D
    ys_scale = pow2_column_scale(Y)
    Ys = Y / ys_scale
    R = tall_r(Zs)
    diag = np.abs(np.diag(R))
    if diag.max() == 0 or np.any(diag <= max(n, p) * _EPS * diag.max()):
        return None  # (nearly) rank deficient: the caller's pivoted / SVD path decides

    def gram_solve_r(b):  # (RᵀR)⁻¹ b = (ZsᵀZs)⁻¹ b
        return scipy.linalg.solve_triangular(
            R, scipy.linalg.solve_triangular(R, b, trans="T", check_finite=False), check_finite=False)

    x = gram_solve_r(Zs.T @ Ys)
    prev, steps = np.inf, 0
    for steps in range(1, max_iter + 1):
        resid = Ys - Zs @ x
        dx = gram_solve_r(Zs.T @ resid)
        size = float(np.max(np.abs(dx)) / max(np.max(np.abs(x)), np.finfo(float).tiny))
        if size > 0.5 * prev:
            break
        x += dx
        prev = size
        if size <= _EPS:
            break
    resid = Ys - Zs @ x
    ssr_s = np.einsum("ij,ij->j", resid, resid)
    with np.errstate(over="ignore"):
        beta = x / D[:, None] * ys_scale
        ssr = ssr_s * ys_scale**2
    cov_s = None
    if want_cov:
        R_inv = scipy.linalg.solve_triangular(R, np.eye(p), check_finite=False)
        cov_s = R_inv @ R_inv.T
    return beta, cov_s, D, p, float((diag.min() / diag.max()) ** 2), ssr, steps, ssr_s, ys_scale


def lstsq_from_r(R: np.ndarray, p: int, n: int, *, fit_intercept: bool) -> "LstsqSolution":
    """The least-squares solution from the R factor of [Z Y] (Z = [1 X] or X, p columns).

    R ((p + k), (p + k)) upper triangular, e.g. accumulated by a streaming / tree QR
    (TSQR) over row blocks: [Z Y] = Q R  ⇒  β = R_zz⁻¹ R_zy,  (ZᵀZ)⁻¹ = R_zz⁻¹R_zz⁻ᵀ,
    SSR_t = ‖R_yy[:, t]‖². The triangular solves run on the column-equilibrated R_zz
    (R_zz D⁻¹, D = column norms as powers of two), which is what Householder QR of the
    equilibrated data would have produced. Raises ValueError if Z is rank deficient.
    """
    k = R.shape[1] - p
    R_zz, R_zy, R_yy = R[:p, :p], R[:p, p:], R[p:p + k, p:]
    D = pow2_column_scale(R_zz)
    Rs = R_zz / D
    diag = np.abs(np.diag(Rs))
    if diag.size == 0 or np.max(diag) == 0 or np.any(diag <= max(n, p) * _EPS * np.max(diag)):
        raise ValueError("the design is rank deficient (collinear columns); drop collinear "
                         "columns, or load the data and use fit(), which returns the "
                         "minimum-norm solution.")
    # R_zz = Rs D  ⇒  β = D⁻¹ Rs⁻¹ R_zy,  (ZᵀZ)⁻¹ = D⁻¹ (RsᵀRs)⁻¹ D⁻¹
    beta = scipy.linalg.solve_triangular(Rs, R_zy, check_finite=False) / D[:, None]
    Rs_inv = scipy.linalg.solve_triangular(Rs, np.eye(p), check_finite=False)
    cov_s = Rs_inv @ Rs_inv.T
    with np.errstate(under="ignore", over="ignore"):
        cov = cov_s / D[:, None] / D[None, :]
    ssr = np.einsum("ij,ij->j", R_yy, R_yy)
    coef, intercept = (beta[1:], beta[0]) if fit_intercept else (beta, np.zeros(k))
    return LstsqSolution(coef, intercept, p, "qr", cov, ssr, float((np.min(diag) / np.max(diag)) ** 2),
                         cov_scaled=cov_s, col_scale=D)


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
    p = d + int(fit_intercept)
    small = n * p <= SMALL_WORK
    if solver == "cholesky" or (solver == "auto" and not small):
        sol = _solve_normal(X, Y, fit_intercept=fit_intercept, sample_weight=sample_weight,
                            w_sum=w_sum, x_col_sum=x_col_sum, checked=solver == "auto")
        if sol is not None:
            return sol
        # not positive definite, badly scaled, or (auto) fewer than 13 digits predicted
    if solver in ("auto", "cholesky", "qr"):
        sqrt_w = None if sample_weight is None else np.sqrt(sample_weight)[:, None]  # (n, 1)
        Z = X if sqrt_w is None else X * sqrt_w
        if fit_intercept:
            Z = np.hstack([np.ones((n, 1)) if sqrt_w is None else sqrt_w, Z])  # (n, p) = [1 X]
        Yw = Y if sqrt_w is None else Y * sqrt_w
        out = (solve_refined(Z, Yw, want_cov=want_cov, refine_cov=n * p * p <= SMALL_COV_WORK)
               if small else solve_csne(Z, Yw, want_cov=want_cov))
        if out is None and not small:  # rank doubtful: the pivoted QR decides
            out = solve_refined(Z, Yw, want_cov=want_cov, refine_cov=False)
        if out is not None:
            beta, cov_s, D, rank, rcond, ssr, steps, ssr_s, y_scale = out
            cov = None
            if cov_s is not None:
                with np.errstate(under="ignore", over="ignore"):  # 1e±400 is not representable
                    cov = cov_s / D[:, None] / D[None, :]
            coef, intercept = (beta[1:], beta[0]) if fit_intercept else (beta, np.zeros(Y.shape[1]))
            return LstsqSolution(coef, intercept, rank, "qr", cov, ssr, rcond,
                                 cov_scaled=cov_s, col_scale=D, refine_iter=steps,
                                 ssr_scaled=ssr_s, y_scale=y_scale)
    Xc, Yc, x_mean, y_mean = _weighted_design(X, Y, fit_intercept, sample_weight)
    out = _solve_svd(Xc, Yc, want_cov)
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
    return LstsqSolution(beta, intercept, rank, "svd", cov, ssr, rcond)


def _solve_normal(X, Y, *, fit_intercept, sample_weight, w_sum, x_col_sum, checked):
    """The normal equations of [1 X] by one syrk and a column-scaled Cholesky (eq. (16)).

    Returns None when the Gram matrix is not positive definite or not representable (entries
    outside float64's comfortable range: X·1e200), and, when ``checked``, when the condition
    estimate predicts fewer than 13 correct digits: ε·κ₁(Gs) > REFINE_TOL.
    """
    # Fast path: one syrk over the data for [1 X]ᵀ[1 X] (numpy dispatches X.T @ X to syrk).
    if sample_weight is None:
        Xw, Yw, ones_w = X, Y, None
    else:
        sqrt_w = np.sqrt(sample_weight)  # (n,)
        Xw, Yw, ones_w = X * sqrt_w[:, None], Y * sqrt_w[:, None], sqrt_w
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        G = Xw.T @ Xw
        g_diag = np.diag(G)
        if not (np.all(np.isfinite(G)) and np.all(g_diag > 1e-250) and np.all(g_diag < 1e250)):
            return None
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
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(yy))):
        return None
    sol = gram_solve(G, b, yy, w_sum, fit_intercept=fit_intercept, col_sum=col_sum,
                     y_sum=y_sum, min_rcond=_EPS / REFINE_TOL if checked else 0.0)
    if sol is None:
        return None
    with np.errstate(divide="ignore"):
        cancel = _EPS * yy / sol.ssr  # relative error of SSR = YᵀY − βᵀZᵀY
    if np.any(~(cancel <= REFINE_TOL)):
        # YᵀY − βᵀZᵀY cancelled (near-perfect fit): recompute SSR from the residuals.
        R = Yw - Xw @ sol.coef - (sol.intercept if ones_w is None
                                  else np.outer(ones_w, sol.intercept))
        sol = LstsqSolution(sol.coef, sol.intercept, sol.rank, sol.solver,
                            sol.cov_unscaled, np.einsum("ij,ij->j", R, R), sol.rcond)
    return sol


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
        with np.errstate(over="ignore", invalid="ignore"):  # X·1e200: not representable
            G = Xc.T @ Xc
        G[np.diag_indices_from(G)] += alpha
        c, info = (lapack.dpotrf(G, lower=0, clean=1) if np.all(np.isfinite(G))
                   else (None, 1))
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
        with np.errstate(divide="ignore", over="ignore"):
            shrink = 1.0 / (s + alpha / s)  # = s/(s² + α), without overflow for s ~ 1e200
        beta = (Vt.T * shrink) @ (U.T @ Yc)  # V diag(s/(s²+α)) UᵀY
        used = "svd"
    R = Yc - Xc @ beta
    ssr = np.einsum("ij,ij->j", R, R)
    intercept = y_mean - x_mean @ beta if fit_intercept else np.zeros(Y.shape[1])
    return LstsqSolution(beta, intercept, min(n, d) + int(fit_intercept), used, None, ssr, rcond)
