"""The one reduction over row chunks behind ``OLS.fit_chunks`` and every Dask fit.

A chunk of rows Z_c = [X_c Y_c] (m_c, q) with q = p + k is summarised by a
:class:`RowStats`: its row count n_c, its column means m_c and the upper-triangular
factor R_c of a QR decomposition of the centred chunk,

    R_cᵀR_c = (Z_c − 1m_cᵀ)ᵀ(Z_c − 1m_cᵀ)        (the centred Gram matrix, never formed).

Two summaries merge exactly — the QR form of Chan, Golub & LeVeque's (1979) update of
centred sums of squares:

    n = n_a + n_b,   m = m_a + (n_b/n)(m_b − m_a),
    R = R-factor of [R_a; R_b; √(n_a n_b/n)(m_b − m_a)ᵀ],

so a tree (Dask) or a left fold (``fit_chunks``) of merges ends with the R factor of the
globally centred [X Y] — a tall-skinny QR (TSQR; Demmel et al. 2012) whose centring is
exact, so the intercept costs no conditioning (the raw [1 X] can have κ ≈ 10⁸ where the
centred X has 10³). Without an intercept the chunks are not centred (``center=False``)
and the merge is R = R-factor of [R_a; R_b].

The final R (q, q) is a *compressed data set*: for any coefficients c,
‖[X_c Y_c]c‖² = ‖Rc‖². Least squares on (A, B) = (R[:, :p], R[:, p:]) therefore has the
same normal equations, residual sum of squares and (ZᵀZ)⁻¹ as least squares on all N
rows, and every estimator runs its existing in-memory solver on this q × q problem
(``solve_least_squares``, ``solve_ridge``, the elastic-net coordinate descent): OLS
(16), ridge (19), elastic net (24)–(26) and the marginalized dropout regression (30) of the
notes, with the column scaling (equilibration by the column norms of R) those solvers do.

Within a chunk, the QR runs on sub-blocks of ~40 000 numbers that stay in cache and stacks
their R factors (LAPACK's tall-skinny QR is level-2 bound: 1 M × 11 takes 0.83 s in one call,
0.11 s in 4096-row pieces).

Refinement (:func:`refine_block`): when the scaled Gram matrix is ill conditioned
(rcond < ``AUTO_RCOND``, i.e. κ(XD⁻¹) > 10³ — the threshold at which the in-memory ``auto``
leaves the normal equations), a second pass computes the residual r = Y_c − X_cβ in
extended precision (``numpy.longdouble``) and g = X_cᵀr; β ← β + (RᵀR)⁻¹g with two
triangular solves (corrected semi-normal equations, Björck 1987). The residual sum of
squares is recomputed from the same residuals.

AR(1) whitening (:func:`ar1_block_stats`) is chunk-local with one row of overlap: the
Prais–Winsten rows (z_t − ρz_{t−1})/√(1 − ρ²) of a chunk need only the last row of the
previous chunk. The lag moments for the feasible ρ̂ (:func:`lag_block_stats`) likewise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ._solvers import AUTO_RCOND, LstsqSolution, solve_least_squares

__all__ = ["RowStats", "block_stats", "merge", "merge_all", "ar1_block_stats", "lag_block_stats",
           "LagStats", "merge_lag", "refine_block", "ols_from_stats", "apply_refinement",
           "compressed", "needs_refinement", "scaled_rcond", "store_ols", "GramStats", "gram_block_stats",
           "merge_gram", "merge_all_gram", "gram_to_rowstats"]

_CACHE_NUMBERS = 40_000  # numbers per in-cache QR sub-block (~320 kB of float64)


@dataclass(frozen=True)
class RowStats:
    """Summary of rows of Z = [X Y]: count n, column means ``mean`` (None when uncentred),
    and R (r, q) upper triangular with RᵀR = centred (or raw) Gram matrix of Z."""

    n: int
    mean: np.ndarray | None
    R: np.ndarray


def _r_factor(Z: np.ndarray) -> np.ndarray:
    """R-factor (min(m, q), q) of Z (m, q) by Householder QR."""
    return scipy.linalg.qr(Z, mode="r", check_finite=False)[0][: min(Z.shape)]


def _blocked_r(parts, q: int) -> np.ndarray:
    """R-factor of the row-stack of the sub-blocks yielded by ``parts`` (each (m_i, q))."""
    Rs = [_r_factor(P) for P in parts]
    while len(Rs) > 1:  # pairwise tree over the stacked R's
        Rs = [_r_factor(np.vstack(Rs[i:i + 8])) for i in range(0, len(Rs), 8)]
    return Rs[0] if Rs else np.zeros((0, q))


def _check_finite_block(Xb: np.ndarray, Yb: np.ndarray, index: int, start: int | None) -> None:
    where = f"row chunk {index}" + (f" (rows {start}–{start + len(Xb) - 1})" if start is not None else "")
    for name, A in (("X", Xb), ("y", Yb)):
        if not np.isfinite(A).all():
            raise ValueError(f"{name} contains NaN or infinity in {where}; drop or impute those rows "
                             f"before fitting (e.g. keep rows where {name} is finite).")


def block_stats(Xb: np.ndarray, Yb: np.ndarray, *, center: bool, index: int = 0,
                start: int | None = None) -> RowStats:
    """:class:`RowStats` of one chunk. Xb (m, p), Yb (m, k) float64; raises on NaN/inf."""
    m, p = Xb.shape
    q = p + Yb.shape[1]
    if m == 0:
        return RowStats(0, np.zeros(q) if center else None, np.zeros((0, q)))
    mean = np.concatenate([Xb.mean(axis=0), Yb.mean(axis=0)]) if center else None  # (q,)
    bs = max(2 * q, _CACHE_NUMBERS // q)

    def parts():
        for i in range(0, m, bs):
            P = np.hstack([Xb[i:i + bs], Yb[i:i + bs]])  # (≤bs, q), in cache
            yield P - mean if center else P

    R = _blocked_r(parts(), q)
    if not (np.isfinite(R).all() and (mean is None or np.isfinite(mean).all())):
        _check_finite_block(Xb, Yb, index, start)
        raise ValueError(f"the sums of row chunk {index} overflow float64; rescale X and y.")
    return RowStats(m, mean, R)


def merge(a: RowStats, b: RowStats) -> RowStats:
    """Exact merge of two summaries (Chan–Golub–LeVeque in QR form; see the module docstring)."""
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    if a.mean is None:
        return RowStats(n, None, _r_factor(np.vstack([a.R, b.R])))
    delta = b.mean - a.mean  # (q,)
    mean = a.mean + (b.n / n) * delta
    corr = np.sqrt(a.n * b.n / n) * delta[None, :]  # (1, q)
    return RowStats(n, mean, _r_factor(np.vstack([a.R, b.R, corr])))


def merge_all(stats) -> RowStats:
    """Merge a sequence of summaries (a balanced tree of :func:`merge`)."""
    stats = list(stats)
    if not stats:
        raise ValueError("no chunks to reduce; pass at least one block of rows.")
    while len(stats) > 1:
        stats = [merge(stats[i], stats[i + 1]) if i + 1 < len(stats) else stats[i]
                 for i in range(0, len(stats), 2)]
    return stats[0]


# ------------------------------------------------------------------ AR(1) whitening
def ar1_rows(Zb: np.ndarray, prev: np.ndarray | None, rho: float) -> np.ndarray:
    """Prais–Winsten rows of one chunk: (z_t − ρz_{t−1})/√(1 − ρ²); the very first row of the
    data (``prev`` None) is kept as is. Zb (m, q), prev (q,) the row before the chunk."""
    out = np.empty_like(Zb)
    scale = 1.0 / np.sqrt(1.0 - rho * rho)
    out[1:] = (Zb[1:] - rho * Zb[:-1]) * scale
    out[0] = Zb[0] if prev is None else (Zb[0] - rho * prev) * scale
    return out


def _design(Xb: np.ndarray, Yb: np.ndarray, intercept: bool, shift: np.ndarray | None) -> np.ndarray:
    """[1 X Y] (or [X Y]) of a chunk, minus an optional column shift of [X Y]. (m, q)."""
    parts = ([np.ones((Xb.shape[0], 1))] if intercept else []) + [Xb, Yb]
    Z = np.hstack(parts)
    if shift is not None:
        Z[:, int(intercept):] -= shift
    return Z


def ar1_block_stats(Xb, Yb, prev_x, prev_y, rho: float, *, intercept: bool,
                    shift: np.ndarray | None = None, index: int = 0) -> RowStats:
    """Uncentred :class:`RowStats` of the AR(1)-whitened chunk [1 X Y] (one row of overlap).

    ``prev_x`` (p,), ``prev_y`` (k,): the last row of the previous chunk (None for the first).
    ``shift`` (p + k,) is subtracted from [X Y] first (GLS with an intercept is equivariant
    under it: it moves only the intercept)."""
    _check_finite_block(Xb, Yb, index, None)
    Z = _design(Xb, Yb, intercept, shift)
    prev = None
    if prev_x is not None:
        prev = _design(np.atleast_2d(prev_x), np.atleast_2d(prev_y), intercept, shift)[0]
    W = ar1_rows(Z, prev, rho)
    q = W.shape[1]
    bs = max(2 * q, _CACHE_NUMBERS // q)
    return RowStats(W.shape[0], None, _blocked_r((W[i:i + bs] for i in range(0, len(W), bs)), q))


@dataclass(frozen=True)
class LagStats:
    """Lag-0 and lag-1 moments of one chunk of z = [X Y], centred at the chunk mean m_c.

    M0 = Σ u_tu_tᵀ, M1 = Σ_{pairs} u_t u'_{t−1}ᵀ and s1 = Σ_{pairs} u'_{t−1}, where u = z − m_c,
    u' the same for the predecessor row (the previous chunk's last row for the first row),
    the sums over the rows that have a predecessor (``pairs`` of them); s0 = Σ_{pairs} u_t.
    ``first``, ``last``: the chunk's first and last rows."""

    n: int
    mean: np.ndarray
    M0: np.ndarray
    M1: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    pairs: int
    first: np.ndarray
    last: np.ndarray


def lag_block_stats(Xb, Yb, prev_x, prev_y, *, index: int = 0) -> LagStats:
    """:class:`LagStats` of one chunk (one row of overlap with the previous chunk)."""
    _check_finite_block(Xb, Yb, index, None)
    Z = np.hstack([Xb, Yb])  # (m, q)
    mean = Z.mean(axis=0)
    U = Z - mean
    M0 = U.T @ U
    if prev_x is None:  # the first chunk: pairs (t, t−1) for t ≥ 1 within it
        cur, lag = U[1:], U[:-1]
    else:
        prev = np.concatenate([np.atleast_1d(prev_x), np.atleast_1d(prev_y)]) - mean
        cur, lag = U, np.vstack([prev[None, :], U[:-1]])
    return LagStats(Z.shape[0], mean, M0, cur.T @ lag, cur.sum(axis=0), lag.sum(axis=0),
                    cur.shape[0], Z[0].copy(), Z[-1].copy())


def merge_lag(stats: list[LagStats]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Global (n, mean m, S0, L, ζ_0, ζ_{n−1}) for ζ_t = [1, z_t − m] from per-chunk lag stats.

    S0 = Σ_t ζ_tζ_tᵀ, L = Σ_{t≥1} ζ_tζ_{t−1}ᵀ (q + 1, q + 1): with δ_c = m_c − m,
    Σ(z_t − m)(z_{t−1} − m)ᵀ = Σ_c [M1_c + s0_c δ_cᵀ + δ_c s1_cᵀ + pairs_c δ_cδ_cᵀ], exactly."""
    n = sum(s.n for s in stats)
    mean = sum(s.n * s.mean for s in stats) / n
    q = mean.shape[0]
    M0 = np.zeros((q, q))
    M1 = np.zeros((q, q))
    for s in stats:
        d = s.mean - mean
        M0 += s.M0 + s.n * np.outer(d, d)
        M1 += s.M1 + np.outer(s.s0, d) + np.outer(d, s.s1) + s.pairs * np.outer(d, d)
    first, last = stats[0].first - mean, stats[-1].last - mean
    S0 = np.zeros((q + 1, q + 1))
    S0[0, 0], S0[1:, 1:] = n, M0  # Σ(z − m) = 0
    L = np.zeros((q + 1, q + 1))
    L[0, 0] = n - 1
    L[1:, 0] = -first  # Σ_{t≥1} (z_t − m) = −(z_0 − m)
    L[0, 1:] = -last  # Σ_{t≥1} (z_{t−1} − m) = −(z_{n−1} − m)
    L[1:, 1:] = M1
    return n, mean, S0, L, np.concatenate([[1.0], first]), np.concatenate([[1.0], last])


# ------------------------------------------------------------------ solving on R
def compressed(st: RowStats, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) = (R[:, :p], R[:, p:]): AᵀA = X_cᵀX_c, AᵀB = X_cᵀY_c, BᵀB = Y_cᵀY_c."""
    return st.R[:, :p], st.R[:, p:]


def _intercept_cov(cov_c: np.ndarray, x_mean: np.ndarray, n: int) -> np.ndarray:
    """(ZᵀZ)⁻¹ for Z = [1 X] from C = (X_cᵀX_c)⁻¹: Var(b₀) = 1/n + x̄ᵀCx̄, Cov(b₀, β) = −Cx̄."""
    Cx = cov_c @ x_mean
    d = cov_c.shape[0]
    out = np.empty((d + 1, d + 1))
    out[0, 0] = 1.0 / n + x_mean @ Cx
    out[0, 1:] = out[1:, 0] = -Cx
    out[1:, 1:] = cov_c
    return out


def ols_from_stats(st: RowStats, p: int, solver: str) -> tuple[LstsqSolution, np.ndarray]:
    """OLS (16) from the final summary; returns (solution with N-row rank and (ZᵀZ)⁻¹, TSS (k,)).

    The existing solver runs on the compressed data (A, B); with an intercept (centred
    summary) b₀ = ȳ − x̄ᵀβ and (ZᵀZ)⁻¹ for Z = [1 X] follows from (X_cᵀX_c)⁻¹."""
    A, B = compressed(st, p)
    sol = solve_least_squares(A, B, fit_intercept=False, solver=solver)
    tss = np.einsum("ij,ij->j", B, B)  # ‖Y − Ȳ‖² (or ‖Y‖² uncentred)
    if st.mean is None:
        return sol, tss
    x_mean, y_mean = st.mean[:p], st.mean[p:]
    cov = None if sol.cov_unscaled is None else _intercept_cov(sol.cov_unscaled, x_mean, st.n)
    return LstsqSolution(sol.coef, y_mean - x_mean @ sol.coef, sol.rank + 1, sol.solver, cov,
                         sol.ssr, sol.rcond), tss


def scaled_rcond(st: RowStats, p: int) -> float:
    """Reciprocal 1-norm condition number of R_xxD⁻¹ (D = its column norms; LAPACK ``dtrcon``):
    an estimate of 1/κ(X_cD⁻¹), the conditioning after equilibration."""
    R_xx = st.R[:p, :p]
    if R_xx.shape[0] < p:
        return 0.0
    D = np.sqrt(np.einsum("ij,ij->j", R_xx, R_xx))
    if np.any(D == 0):
        return 0.0
    rcond, info = scipy.linalg.lapack.dtrcon(np.ascontiguousarray(R_xx / D), norm="1", uplo="U")
    return float(rcond) if info == 0 else 0.0


def needs_refinement(st: RowStats, sol: LstsqSolution, p: int) -> bool:
    """A refinement pass pays when κ(X_cD⁻¹)² > 1/AUTO_RCOND = 10⁶ — where the in-memory
    ``auto`` stops trusting the normal equations — and the design has full rank."""
    full = sol.rank >= p + int(st.mean is not None)
    return full and scaled_rcond(st, p) ** 2 < AUTO_RCOND


def refine_block(Xb, Yb, x_mean, y_mean, coef) -> tuple[np.ndarray, np.ndarray]:
    """(g, ssr) of one chunk: r = (Y − ȳ) − (X − x̄)β in extended precision, g = (X − x̄)ᵀr (p, k),
    ssr = Σ r² (k,). ``x_mean``/``y_mean`` None without an intercept."""
    ld = np.longdouble
    p, k = coef.shape
    g = np.zeros((p, k), dtype=ld)
    ssr = np.zeros(k, dtype=ld)
    bs = max(64, _CACHE_NUMBERS // (p + k))
    beta = coef.astype(ld)
    for i in range(0, Xb.shape[0], bs):
        Xs, Ys = Xb[i:i + bs].astype(ld), Yb[i:i + bs].astype(ld)
        if x_mean is not None:
            Xs -= x_mean.astype(ld)
            Ys -= y_mean.astype(ld)
        r = Ys - Xs @ beta  # (m, k), extended precision
        g += Xs.T @ r
        ssr += np.einsum("ij,ij->j", r, r)
    return g.astype(np.float64), ssr.astype(np.float64)


def apply_refinement(sol: LstsqSolution, st: RowStats, p: int, g: np.ndarray,
                     ssr: np.ndarray) -> LstsqSolution:
    """β ← β + (R_xxᵀR_xx)⁻¹g (two triangular solves with the chunked R); SSR from the pass."""
    R_xx = st.R[:p, :p]
    delta = scipy.linalg.solve_triangular(
        R_xx, scipy.linalg.solve_triangular(R_xx, g, trans="T", check_finite=False), check_finite=False)
    coef = sol.coef + delta
    if st.mean is not None:
        intercept = st.mean[p:] - st.mean[:p] @ coef
    else:
        intercept = sol.intercept
    # SSR(β + δ) = SSR(β) − gᵀδ exactly for the least-squares correction δ = (XᵀX)⁻¹g.
    ssr_new = np.maximum(ssr - np.einsum("ij,ij->j", g, delta), 0.0)
    return LstsqSolution(coef, intercept, sol.rank, sol.solver, sol.cov_unscaled, ssr_new, sol.rcond)


def store_ols(est, sol: LstsqSolution, tss: np.ndarray, n: int, single: bool) -> None:
    """Set coef_, intercept_, solver_, rcond_ and the inference attributes of an OLS/GLS fit."""
    est._set_coef(sol.coef, sol.intercept, single)
    est.solver_ = sol.solver
    est.rcond_ = sol.rcond
    params = np.vstack([sol.intercept[None, :], sol.coef]) if est.fit_intercept else sol.coef
    est._set_inference(params.T, sol.cov_unscaled, sol.ssr, tss, int(n), sol.rank, single)


# ------------------------------------------------------------------ the Gram form
@dataclass(frozen=True)
class GramStats:
    """Summary of rows of Z = [X Y] in Gram form: n, column means (None: uncentred) and
    M = (Z − 1mᵀ)ᵀ(Z − 1mᵀ) (q, q), one BLAS ``syrk`` per chunk — ~5× cheaper than the QR."""

    n: int
    mean: np.ndarray | None
    M: np.ndarray


def gram_block_stats(Xb: np.ndarray, Yb: np.ndarray, *, center: bool, index: int = 0,
                     start: int | None = None) -> GramStats:
    """:class:`GramStats` of one chunk (centred at the chunk's own means). Raises on NaN/inf."""
    m, p = Xb.shape
    q = p + Yb.shape[1]
    if m == 0:
        return GramStats(0, np.zeros(q) if center else None, np.zeros((q, q)))
    U = np.empty((m, q))  # (m, q) the centred chunk, one copy
    U[:, :p], U[:, p:] = Xb, Yb
    mean = None
    if center:
        mean = U.mean(axis=0)
        U -= mean
    M = U.T @ U  # syrk
    if not (np.isfinite(M).all() and (mean is None or np.isfinite(mean).all())):
        _check_finite_block(Xb, Yb, index, start)
        raise ValueError(f"the sums of row chunk {index} overflow float64; rescale X and y.")
    return GramStats(m, mean, M)


def merge_gram(a: GramStats, b: GramStats) -> GramStats:
    """Chan, Golub & LeVeque's exact update: M = M_a + M_b + (n_a n_b/n) δδᵀ, δ = m_b − m_a."""
    if a.n == 0:
        return b
    if b.n == 0:
        return a
    n = a.n + b.n
    if a.mean is None:
        return GramStats(n, None, a.M + b.M)
    delta = b.mean - a.mean
    return GramStats(n, a.mean + (b.n / n) * delta, a.M + b.M + (a.n * b.n / n) * np.outer(delta, delta))


def merge_all_gram(stats) -> GramStats:
    stats = list(stats)
    if not stats:
        raise ValueError("no chunks to reduce; pass at least one block of rows.")
    out = stats[0]
    for s in stats[1:]:
        out = merge_gram(out, s)
    return out


def gram_to_rowstats(gs: GramStats, p: int, *, require_triangular: bool) -> RowStats | None:
    """A compressed data set from a Gram summary: R (q, q) with RᵀR = M.

    Equilibrated (D = √diag M): R_xx = chol(M_xx/DDᵀ) (upper), R_xy = R_xx⁻ᵀM_xy, and for the
    Y block any S with SᵀS = the Schur complement (clipped to PSD: it is the residual Gram
    YᵀY − YᵀX(XᵀX)⁻¹XᵀY, which rounding can push below zero on a perfect fit). If M_xx is
    not numerically positive definite: None when ``require_triangular`` (OLS then takes the
    QR reduction), else a symmetric square root of M (for ridge-type solvers only AᵀA, AᵀB,
    BᵀB matter)."""
    M = gs.M
    D = np.sqrt(np.diag(M))
    D = np.where(D > 0, D, 1.0)
    Ms = M / np.outer(D, D)
    c, info = scipy.linalg.lapack.dpotrf(Ms[:p, :p], lower=0, clean=1)
    if info == 0:
        R_xy = scipy.linalg.solve_triangular(c, Ms[:p, p:], trans="T", check_finite=False)
        S = Ms[p:, p:] - R_xy.T @ R_xy
        w, V = np.linalg.eigh((S + S.T) / 2)
        R = np.zeros_like(Ms)
        R[:p, :p], R[:p, p:] = c, R_xy
        R[p:, p:] = np.sqrt(np.clip(w, 0.0, None))[:, None] * V.T
    elif require_triangular:
        return None
    else:
        w, V = np.linalg.eigh(Ms)
        R = np.sqrt(np.clip(w, 0.0, None))[:, None] * V.T
    return RowStats(gs.n, gs.mean, R * D[None, :])
