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
import scipy.linalg
from tqdm.auto import tqdm

from .._validation import as_real_array, check_positive_int
from ._base import LinearModel
from ._inference import InferenceMixin
from ._solvers import AUTO_RCOND, LstsqSolution, gram_solve, lstsq_from_r, solve_least_squares

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
    def fit_chunks(self, chunks, *, chunk_size: int = 65536) -> "OLS":
        """Fit on data that need not fit in memory, one block of rows at a time.

        ``chunks`` is either an iterable of ``(X_block, y_block)`` pairs, or a pair
        ``(X, y)`` of arrays — typically ``numpy.memmap`` — read ``chunk_size`` rows at a time.

        ``solver="auto"``/``"cholesky"`` accumulate the sufficient statistics [1 X]ᵀ[1 X] and
        [1 X]ᵀy (one pass). If the scaled Gram matrix turns out ill conditioned, ``auto``
        makes a second pass with a streaming QR (TSQR: R ← qr([R; [1 X y]_block]))
        when the data can be read twice (arrays), and raises otherwise. ``"qr"`` always uses
        the streaming QR; ``"svd"`` is not available for chunked data.
        """
        solver = self._check_solver()
        if solver == "svd":
            raise ValueError("solver='svd' needs all rows at once; use solver='qr' for chunked data.")
        chunk_size = check_positive_int(chunk_size, "chunk_size")
        rereadable = isinstance(chunks, tuple) and len(chunks) == 2 and all(
            hasattr(a, "shape") for a in chunks)
        sol = None
        if solver in ("auto", "cholesky"):
            stats = self._accumulate_gram(self._iter_blocks(chunks, chunk_size))
            sol = gram_solve(stats["G"], stats["b"], stats["yy"], stats["n"],
                             fit_intercept=self.fit_intercept, col_sum=stats["col_sum"],
                             y_sum=stats["y_sum"],
                             min_rcond=AUTO_RCOND if solver == "auto" else 0.0)
            if sol is None and not rereadable:
                raise ValueError(
                    "the design is ill conditioned (or singular) and the chunks were a one-shot "
                    "iterator; refit with solver='qr' (streaming QR), or pass (X, y) arrays.")
        if sol is None:
            stats = self._accumulate_qr(self._iter_blocks(chunks, chunk_size))
            sol = stats["sol"]
        self.n_features_in_ = stats["d"]
        n, single = stats["n"], stats["single"]
        yy, y_sum = stats["yy"], stats["y_sum_all"]
        tss = yy - y_sum**2 / n if self.fit_intercept else yy
        self._store(sol, None, None, int(n), single, tss=tss)
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

    def _accumulate_gram(self, blocks) -> dict:
        G = b = col_sum = y_sum = yy = None
        n, d, single = 0, None, True
        for i, (Xb, yb) in enumerate(blocks):
            Xb, yb = self._check_block(i, Xb, yb, d)
            single = yb.ndim == 1
            Yb = yb.reshape(len(yb), -1)  # (m, k)
            if G is None:
                d = Xb.shape[1]
                G, b = np.zeros((d, d)), np.zeros((d, Yb.shape[1]))
                col_sum, y_sum, yy = np.zeros(d), np.zeros(Yb.shape[1]), np.zeros(Yb.shape[1])
            G += Xb.T @ Xb
            b += Xb.T @ Yb
            col_sum += Xb.sum(axis=0)
            y_sum += Yb.sum(axis=0)
            yy += np.einsum("ij,ij->j", Yb, Yb)
            n += Xb.shape[0]
        if G is None:
            raise ValueError("chunks is empty; pass at least one block of rows.")
        log.info("OLS.fit_chunks: accumulated %d rows × %d columns", n, d)
        return dict(G=G, b=b, col_sum=col_sum if self.fit_intercept else None,
                    y_sum=y_sum if self.fit_intercept else None, yy=yy, n=n, d=d, single=single,
                    y_sum_all=y_sum)

    def _accumulate_qr(self, blocks) -> dict:
        """Streaming QR of [1 X Y]: R ← R-factor of [R; block]. Returns the solution from R."""
        R = None
        n, d, single = 0, None, True
        y_sum = yy = None
        for i, (Xb, yb) in enumerate(blocks):
            Xb, yb = self._check_block(i, Xb, yb, d)
            single = yb.ndim == 1
            Yb = yb.reshape(len(yb), -1)  # (m, k)
            d = Xb.shape[1]
            parts = ([np.ones((Xb.shape[0], 1))] if self.fit_intercept else []) + [Xb, Yb]
            Zb = np.hstack(parts)  # (m, p + k)
            stacked = Zb if R is None else np.vstack([R, Zb])
            R = scipy.linalg.qr(stacked, mode="r", check_finite=False)[0][: Zb.shape[1]]
            y_sum = Yb.sum(axis=0) if y_sum is None else y_sum + Yb.sum(axis=0)
            yy = np.einsum("ij,ij->j", Yb, Yb) if yy is None else yy + np.einsum("ij,ij->j", Yb, Yb)
            n += Xb.shape[0]
        if R is None:
            raise ValueError("chunks is empty; pass at least one block of rows.")
        k = yy.shape[0]
        p = R.shape[1] - k
        if R.shape[0] < p + k:  # fewer rows than columns overall
            raise ValueError(f"need at least {p + k} rows for the chunked fit; got {n}.")
        # [1 X] = Q R_zz  ⇒  β = R_zz⁻¹ R_zy; the residual norm is the trailing block.
        sol = lstsq_from_r(R[:p + k], p, n, fit_intercept=self.fit_intercept)
        return dict(sol=sol, n=n, d=d, single=single, yy=yy, y_sum_all=y_sum)
