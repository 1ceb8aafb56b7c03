"""Ordinary least squares with classical inference — the notes' eqs. (14)–(16).

    β̂ = argmin_β ‖Y − Xβ‖²  =  (XᵀX)⁻¹XᵀY                                          (16)

(the notes' L(β) in (14) drops the minus sign of −2βᵀXᵀY; the closed form (16) is right).
The estimator solves (16) with a stable factorization chosen for the conditioning of X
(see :mod:`curvlab.linear._solvers`) and reports standard errors with σ̂² = SSR/(N − rank),
the unbiased estimator justified by §2.2's trace argument (eq. (13)).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 2)); y = 1.0 + X @ [2.0, -1.0] + 0.1 * rng.normal(size=100)
>>> m = OLS().fit(X, y)
>>> np.round(m.params_, 1).tolist()          # [intercept, β₁, β₂]
[1.0, 2.0, -1.0]
>>> m.conf_int().shape
(3, 2)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from tqdm.auto import tqdm

from .._validation import as_real_array, check_positive_int
from . import _dask
from ._base import LinearModel
from ._inference import InferenceMixin
from ._reduce import (apply_refinement, block_stats, merge, needs_refinement, ols_from_stats,
                      refine_block, store_ols)
from ._solvers import LstsqSolution, solve_least_squares

__all__ = ["OLS"]

log = logging.getLogger(__name__)


class OLS(InferenceMixin, LinearModel):
    """Ordinary least squares, eq. (16), exact on ill-conditioned designs, with inference.

    Parameters
    ----------
    fit_intercept : fit an unpenalised b₀ (as an explicit column of ones: centring would cost
        digits on ill-conditioned designs such as polynomials).
    solver : "auto" | "cholesky" | "qr" | "svd" (see :mod:`curvlab.linear._solvers`).

    Attributes
    ----------
    coef_ : (d,) or (k, d).   intercept_ : float or (k,).   solver_ : the solver used.
    rcond_ : reciprocal condition number of the column-scaled Gram matrix.
    refine_iter_ : steps of iterative refinement taken (0: the normal equations sufficed; see
        :func:`curvlab.linear._solvers.solve_refined`).
    Inference (see :class:`~curvlab.linear._inference.InferenceMixin`): ``params_``
    (intercept first), ``bse_``, ``tvalues_``, ``pvalues_``, ``conf_int()``, ``scale_`` = σ̂²,
    ``rsquared_``, ``df_resid_``, ``rank_``.
    """

    def __init__(self, *, fit_intercept: bool = True, solver: str = "auto"):
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y, sample_weight=None) -> "OLS":
        """Fit β̂ = (XᵀWX)⁻¹XᵀWY (W = diag(sample_weight), identity when omitted)."""
        if _dask.any_dask(X, y):  # chunked rows on Dask: one reduction, see linear._dask
            return _dask.fit(self, X, y, sample_weight)
        solver = self._check_solver()
        X, Y, sw, single, col_sum = self._validate_fit(X, y, sample_weight, return_col_sum=True)
        sol = solve_least_squares(X, Y, fit_intercept=self.fit_intercept, solver=solver,
                                  sample_weight=sw, x_col_sum=col_sum)
        self._store(sol, Y, sw, X.shape[0], single)
        return self

    def _store(self, sol: LstsqSolution, Y: np.ndarray | None, sw: np.ndarray | None, n: int,
               single: bool, tss: np.ndarray | None = None) -> None:
        self._set_coef(sol.coef, sol.intercept, single)
        self.solver_ = sol.solver
        self.rcond_ = sol.rcond
        self.refine_iter_ = sol.refine_iter
        if tss is None:
            if sw is None:
                Yc = Y - Y.mean(axis=0) if self.fit_intercept else Y
                tss = np.einsum("ij,ij->j", Yc, Yc)
            else:
                Yc = Y - (sw @ Y) / sw.sum() if self.fit_intercept else Y
                tss = sw @ (Yc * Yc)
        params = np.vstack([sol.intercept[None, :], sol.coef]) if self.fit_intercept else sol.coef
        self._set_inference(params.T, sol.cov_unscaled, sol.ssr, tss, n, sol.rank, single,
                            cov_scaled=sol.cov_scaled, col_scale=sol.col_scale,
                            ssr_scaled=sol.ssr_scaled, y_scale=sol.y_scale)

    # ------------------------------------------------------------------ chunked data
    def fit_chunks(self, chunks, *, chunk_size: int = 65536, refine: bool = True) -> "OLS":
        """Fit on data that need not fit in memory, one block of rows at a time.

        ``chunks`` is either an iterable of ``(X_block, y_block)`` pairs, or a pair
        ``(X, y)`` of arrays — typically ``numpy.memmap`` — read ``chunk_size`` rows at a time.

        One pass reduces the blocks to the R factor of the centred [X Y] (a tall-skinny QR
        with exact centring, :mod:`curvlab.linear._reduce` — the same reduction as the Dask
        path); ``solver`` then solves the small (p + k) × (p + k) problem on R, so every
        solver works, including ``"svd"`` (minimum norm) and, for a one-shot iterator, an ill-
        conditioned design. When the scaled Gram matrix is ill conditioned (rcond_ < 10⁻⁶)
        and the data can be read again (``(X, y)`` arrays) and ``refine``, a second pass refines
        β with extended-precision residuals. ``n_passes_`` records the passes made (1 or 2).
        """
        solver = self._check_solver()
        chunk_size = check_positive_int(chunk_size, "chunk_size")
        rereadable = isinstance(chunks, tuple) and len(chunks) == 2 and all(
            hasattr(a, "shape") for a in chunks)
        st, d, k, single = None, None, None, True
        for i, (Xb, yb) in enumerate(self._iter_blocks(chunks, chunk_size)):
            Xb, yb = self._check_block(i, Xb, yb, d)
            Yb = yb[:, None] if yb.ndim == 1 else yb  # (m, k)
            if k is not None and Yb.shape[1] != k:
                raise ValueError(f"block {i}: y has {Yb.shape[1]} columns; earlier blocks had {k}.")
            d, k, single = Xb.shape[1], Yb.shape[1], yb.ndim == 1
            s = block_stats(Xb, Yb, center=self.fit_intercept, index=i)
            st = s if st is None else merge(st, s)
        if st is None:
            raise ValueError("chunks is empty; pass at least one block of rows.")
        log.info("OLS.fit_chunks: reduced %d rows × %d columns", st.n, d)
        sol, tss = ols_from_stats(st, d, solver)
        self.n_passes_ = 1
        if refine and rereadable and needs_refinement(st, sol, d):
            g, ssr = 0.0, 0.0
            x_mean, y_mean = (st.mean[:d], st.mean[d:]) if self.fit_intercept else (None, None)
            for Xb, yb in self._iter_blocks(chunks, chunk_size):
                Xb = np.asarray(Xb, dtype=np.float64)
                Yb = np.asarray(yb, dtype=np.float64)
                Yb = Yb[:, None] if Yb.ndim == 1 else Yb
                gb, sb = refine_block(Xb, Yb, x_mean, y_mean, sol.coef)
                g, ssr = g + gb, ssr + sb
            sol = apply_refinement(sol, st, d, g, ssr)
            self.n_passes_ = 2
        self.n_features_in_ = d
        store_ols(self, sol, tss, st.n, single)
        return self

    @staticmethod
    def _iter_blocks(chunks, chunk_size: int):
        if isinstance(chunks, tuple) and len(chunks) == 2 and all(hasattr(a, "shape") for a in chunks):
            X, y = chunks
            n = X.shape[0]
            if y.shape[0] != n:
                raise ValueError(f"X and y must have the same number of rows; got {n} and {y.shape[0]}.")
            for start in tqdm(range(0, n, chunk_size), desc="OLS chunks", disable=None, leave=False):
                yield np.asarray(X[start:start + chunk_size]), np.asarray(y[start:start + chunk_size])
        else:
            if not isinstance(chunks, Iterable):
                raise TypeError("chunks must be an iterable of (X_block, y_block) pairs or an (X, y) "
                                f"tuple of arrays; got {type(chunks).__name__}.")
            yield from chunks

    @staticmethod
    def _check_block(i: int, Xb, yb, d: int | None):
        Xb = as_real_array(Xb, f"X block {i}", ndim=2)
        yb = as_real_array(yb, f"y block {i}", ndim=(1, 2))
        if yb.shape[0] != Xb.shape[0]:
            raise ValueError(f"block {i}: X has {Xb.shape[0]} rows but y has {yb.shape[0]}.")
        if d is not None and Xb.shape[1] != d:
            raise ValueError(f"block {i}: X has {Xb.shape[1]} columns; earlier blocks had {d}.")
        return Xb, yb
