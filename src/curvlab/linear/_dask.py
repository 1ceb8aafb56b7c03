"""The linear estimators on Dask: detection, validation, dispatch, lazy predict and score.

Every fit reduces the row chunks of X and y with the one reduction of
:mod:`curvlab.linear._reduce` — per-chunk centred Gram matrices (one ``syrk``) or R factors
(TSQR) of [X Y], merged exactly (Chan–Golub–LeVeque) in a tree — and then runs the
in-memory solver on the small (p + k) × (p + k) compressed data set. Only the summaries,
O((p + k)²) numbers per chunk, travel; rows never leave the worker that made them. Work
happens in ``dask.compute`` calls, each one pass over the data:

    OLS, GLS(sigma=None)     1 Gram pass (solver "auto"/"cholesky"; TSQR for "qr"/"svd");
                             +1 extended-precision refinement pass when κ(X_cD⁻¹)² > 10⁶ or the
                             SSR cancels; a Gram with κ² > 10¹⁰ is dropped for a TSQR pass
    GLS(sigma=AR1(ρ))        1 pass  (whitening with one row of overlap between chunks; TSQR)
    GLS(sigma="ar1")         2 passes (lag moments → ρ̂ iterated on them; whitened TSQR)
    Ridge, ElasticNet, DropoutRegression(solver="marginalized"), enet_path
                             1 Gram pass
    ElasticNetCV             1 Gram pass (one summary per fold; folds are whole chunks)

``n_passes_`` on the fitted estimator records the count. Whatever scheduler is active
runs the graph: the default threaded one, or a ``dask.distributed.Client``.

Dask is an optional extra (``pip install 'curvlab[dask]'``); nothing here imports it until
a Dask collection is passed.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ._reduce import (apply_refinement, ar1_block_stats, block_stats, compressed, gram_block_stats,
                      gram_to_rowstats, lag_block_stats, merge_all, merge_all_gram, merge_lag,
                      needs_refinement, ols_from_stats, refine_block, scaled_rcond, store_ols)
from ._solvers import LstsqSolution, gram_solve, solve_least_squares, solve_ridge

__all__ = ["is_dask", "any_dask", "fit", "predict", "score", "enet_path", "EXTRA"]

EXTRA = "pip install 'curvlab[dask]'"
_FAN_IN = 8  # summaries merged per task in the reduction tree
# The Gram route of OLS is kept while κ(X_cD⁻¹)² ≤ 10¹⁰: the normal equations then keep ≥ 6
# digits and one refinement step (contraction ≈ κ²ε ≤ 10⁻⁶) restores the rest; beyond, TSQR.
GRAM_TRUST = 1e-10


def is_dask(obj) -> bool:
    """True for a Dask collection (array, DataFrame, Series), without importing Dask."""
    return obj is not None and hasattr(type(obj), "__dask_graph__")


def any_dask(*objs) -> bool:
    return any(is_dask(o) for o in objs)


def _require_dask(name: str):
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{name} is a Dask collection; fitting on Dask needs the optional dependencies "
            f"dask[array,dataframe] and distributed: {EXTRA}.") from exc
    return dask


def _is_array(obj) -> bool:
    import dask.array as da

    return isinstance(obj, da.Array)


def _is_frame(obj) -> bool:
    return is_dask(obj) and not _is_array(obj) and getattr(obj, "ndim", 0) == 2


def _is_series(obj) -> bool:
    return is_dask(obj) and not _is_array(obj) and getattr(obj, "ndim", 0) == 1


# ---------------------------------------------------------------------- input
@dataclass
class DaskData:
    """X and y as lists of delayed row blocks, with what is known before computing."""

    xs: list
    ys: list
    n_features: int
    k: int
    single: bool
    starts: list | None  # first row of each chunk when the chunk sizes are known
    feature_names: np.ndarray | None


def _array_chunks(A, name: str) -> None:
    if any(isinstance(c, float) and math.isnan(c) for cs in A.chunks for c in cs):
        raise ValueError(f"{name} has unknown chunk sizes (NaN in {name}.chunks, e.g. after boolean "
                         f"indexing); call {name} = {name}.compute_chunk_sizes() first.")
    if A.ndim == 2 and A.numblocks[1] > 1:
        raise ValueError(f"{name} is chunked across columns (chunks {A.chunks[1]} along axis 1); the "
                         f"estimators reduce whole rows: rechunk {name} as {name}.rechunk({{1: -1}}).")
    if not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise TypeError(f"{name} must hold numbers; got dtype {A.dtype}. Convert it with "
                        f"{name}.astype(float).")


def _frame_check(F, name: str) -> None:
    import pandas as pd

    bad = [c for c, t in F.dtypes.items() if not (pd.api.types.is_numeric_dtype(t)
                                                   or pd.api.types.is_bool_dtype(t))]
    if bad:
        raise TypeError(f"{name} must have numeric columns only; {bad} are not. Encode or drop "
                        "them first.")


def _blocks_of(A, name: str) -> list:
    """Delayed row blocks of a Dask array / DataFrame / Series (in row order)."""
    # optimize_graph=False keeps the keys of the source chunks: when X and y are slices of one
    # array (or columns of one DataFrame) each source chunk is produced once per pass, not twice.
    if _is_frame(A) or _is_series(A):
        return list(A.to_delayed(optimize_graph=False))
    return list(A.to_delayed(optimize_graph=False).ravel())


def as_dask_data(X, y, *, multi_output: bool = True) -> DaskData:
    """Validate X and y (Dask collections chunked by rows) before any work is done."""
    _require_dask("X" if is_dask(X) else "y")
    import dask.array as da

    if X is None or y is None:
        raise ValueError("pass both X and y.")
    if not is_dask(X):  # y is Dask: bring X along with y's row chunks
        if _is_frame(y) or _is_series(y):
            raise TypeError("y is a Dask DataFrame/Series but X is not Dask; pass X as the Dask "
                            "DataFrame it comes from (y = df[target], X = df[features]).")
        X = np.asarray(X)
        _array_chunks(y, "y")
        X = da.from_array(X, chunks=(y.chunks[0], -1) if X.ndim == 2 else (y.chunks[0],))
    if not is_dask(y):
        if _is_frame(X):
            raise TypeError("X is a Dask DataFrame but y is not Dask; pass y as a Dask Series of the "
                            "same DataFrame (y = df[target]).")
        y = np.asarray(y)
        _array_chunks(X, "X")
        y = da.from_array(y, chunks=(X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
    # ---- X
    names = None
    if _is_frame(X):
        _frame_check(X, "X")
        n_features = len(X.columns)
        cols = list(X.columns)
        if all(isinstance(c, str) for c in cols):
            names = np.asarray(cols, dtype=object)
        x_rows = None
    elif _is_series(X):
        raise ValueError("X is a Dask Series (1-D); pass a 2-D X, e.g. X.to_frame().")
    else:
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features); got a Dask array of shape {X.shape}.")
        _array_chunks(X, "X")
        n_features = int(X.shape[1])
        x_rows = tuple(int(c) for c in X.chunks[0])
    # ---- y
    if _is_frame(y):
        _frame_check(y, "y")
        k, single = len(y.columns), False
        y_rows = None
    elif _is_series(y):
        _frame_check(y.to_frame(), "y")
        k, single = 1, True
        y_rows = None
    else:
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D; got a Dask array of shape {y.shape}.")
        _array_chunks(y, "y")
        k, single = (1, True) if y.ndim == 1 else (int(y.shape[1]), False)
        y_rows = tuple(int(c) for c in y.chunks[0])
    if not single and not multi_output:
        raise ValueError(f"y must be 1-D for this estimator; got {k} target columns.")
    if x_rows is not None and y_rows is not None and x_rows != y_rows:
        raise ValueError(f"X and y have different row chunking (X: {x_rows[:4]}{'...' if len(x_rows) > 4 else ''}, "
                         f"y: {y_rows[:4]}{'...' if len(y_rows) > 4 else ''}); rechunk y to match X: "
                         "y = y.rechunk({0: X.chunks[0]}).")
    xs, ys = _blocks_of(X, "X"), _blocks_of(y, "y")
    if len(xs) != len(ys):
        raise ValueError(f"X has {len(xs)} row chunks (partitions) but y has {len(ys)}; partition them "
                         "alike (take y from the same DataFrame as X, or y = y.rechunk({0: X.chunks[0]})).")
    if _is_frame(X) and (_is_frame(y) or _is_series(y)) and X.known_divisions and y.known_divisions \
            and tuple(X.divisions) != tuple(y.divisions):
        raise ValueError("X and y have different divisions (index ranges per partition); take both "
                         "from the same DataFrame, or repartition y as y.repartition(divisions=X.divisions).")
    rows = x_rows or y_rows
    if rows is not None and sum(rows) == 0:
        raise ValueError("X has no rows; pass at least one row.")
    starts = None if rows is None else list(np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int))
    return DaskData(xs, ys, n_features, k, single, starts, names)


# ---------------------------------------------------------------------- tasks
def _np_block(xb, yb, index: int, p: int):
    """Row block → (X (m, p), Y (m, k)) float64, checking the shapes agree."""
    Xb = (xb.to_numpy(dtype=np.float64) if hasattr(xb, "to_numpy") else np.asarray(xb, dtype=np.float64))
    Yb = (yb.to_numpy(dtype=np.float64) if hasattr(yb, "to_numpy") else np.asarray(yb, dtype=np.float64))
    Yb = Yb[:, None] if Yb.ndim == 1 else Yb  # (m, k)
    if Xb.ndim != 2 or Xb.shape[1] != p:
        raise ValueError(f"row chunk {index} of X has shape {Xb.shape}; expected (m, {p}).")
    if Yb.shape[0] != Xb.shape[0]:
        raise ValueError(f"row chunk {index}: X has {Xb.shape[0]} rows but y has {Yb.shape[0]}; "
                         "X and y must be partitioned alike (take y from the same DataFrame as X, "
                         "or y = y.rechunk({0: X.chunks[0]})).")
    return Xb, Yb


def _stats_task(xb, yb, index, start, p, center):
    Xb, Yb = _np_block(xb, yb, index, p)
    return block_stats(Xb, Yb, center=center, index=index, start=start)


def _merge_task(*stats):
    return merge_all(stats)


def _gram_task(xb, yb, index, start, p, center):
    Xb, Yb = _np_block(xb, yb, index, p)
    return gram_block_stats(Xb, Yb, center=center, index=index, start=start)


def _merge_gram_task(*stats):
    return merge_all_gram(stats)


def _last_row(xb):
    A = xb.to_numpy(dtype=np.float64) if hasattr(xb, "to_numpy") else np.asarray(xb, dtype=np.float64)
    return A[-1].copy() if A.shape[0] else None


def _check_not_empty(Xb, index: int) -> None:
    if Xb.shape[0] == 0:
        raise ValueError(f"row chunk {index} is empty; AR(1) whitening pairs each row with the one "
                         "before it across chunks: drop empty partitions first (e.g. "
                         "X = X.rechunk(...) or df = df.repartition(npartitions=...)).")


def _ar1_task(xb, yb, px, py, index, p, rho, intercept, shift):
    Xb, Yb = _np_block(xb, yb, index, p)
    _check_not_empty(Xb, index)
    return ar1_block_stats(Xb, Yb, px, py, rho, intercept=intercept, shift=shift, index=index)


def _lag_task(xb, yb, px, py, index, p):
    Xb, Yb = _np_block(xb, yb, index, p)
    _check_not_empty(Xb, index)
    return lag_block_stats(Xb, Yb, px, py, index=index)


def _refine_task(xb, yb, index, p, x_mean, y_mean, coef):
    Xb, Yb = _np_block(xb, yb, index, p)
    return refine_block(Xb, Yb, x_mean, y_mean, coef)


def _sum_task(*pairs):
    return tuple(sum(parts) for parts in zip(*pairs))


def _tree(leaves: list, combine):
    from dask import delayed

    while len(leaves) > 1:
        leaves = [delayed(combine)(*leaves[i:i + _FAN_IN]) for i in range(0, len(leaves), _FAN_IN)]
    return leaves[0]


def _compute(est, *objs):
    """One graph execution = one pass over the data; counted in ``est.n_passes_``."""
    import dask

    est.n_passes_ = getattr(est, "n_passes_", 0) + 1
    return dask.compute(*objs)


def _stat_leaves(data: DaskData, center: bool, task=_stats_task) -> list:
    from dask import delayed

    starts = data.starts or [None] * len(data.xs)
    return [delayed(task)(xb, yb, i, starts[i], data.n_features, center)
            for i, (xb, yb) in enumerate(zip(data.xs, data.ys))]


def _prev_rows(data: DaskData):
    from dask import delayed

    px = [None] + [delayed(_last_row)(xb) for xb in data.xs[:-1]]
    py = [None] + [delayed(_last_row)(yb) for yb in data.ys[:-1]]
    return px, py


def _reduce(est, data: DaskData, center: bool):
    """One pass: the QR (TSQR) summary of the centred [X Y]."""
    return _compute(est, _tree(_stat_leaves(data, center), _merge_task))[0]


def _reduce_gram(est, data: DaskData, center: bool):
    """One pass: the Gram summary of the centred [X Y] (one syrk per chunk)."""
    return _compute(est, _tree(_stat_leaves(data, center, _gram_task), _merge_gram_task))[0]


def _gram_compressed(est, data: DaskData, center: bool):
    """Gram pass → compressed data (any square root of M) for the ridge-type solvers."""
    return gram_to_rowstats(_reduce_gram(est, data, center), data.n_features, require_triangular=False)


def _set_features(est, data: DaskData) -> None:
    est.n_features_in_ = data.n_features
    if data.feature_names is not None:
        est.feature_names_in_ = data.feature_names
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def _no_weights(sample_weight, name: str) -> None:
    if sample_weight is not None:
        raise TypeError(f"{name}.fit on Dask input does not take sample_weight; multiply the rows of X "
                        "and y by √weight (and fit without intercept on [√w, √w·X]), or fit in memory.")


# ---------------------------------------------------------------------- estimators
def _refit_ols(est, data: DaskData, st, sol, p: int, force: bool = False) -> LstsqSolution:
    """The refinement pass (extended-precision residuals) when the condition asks for it."""
    if not (force or needs_refinement(st, sol, p)):
        return sol
    from dask import delayed

    x_mean, y_mean = (st.mean[:p], st.mean[p:]) if st.mean is not None else (None, None)
    leaves = [delayed(_refine_task)(xb, yb, i, p, x_mean, y_mean, sol.coef)
              for i, (xb, yb) in enumerate(zip(data.xs, data.ys))]
    g, ssr = _compute(est, _tree(leaves, _sum_task))[0]
    return apply_refinement(sol, st, p, g, ssr)


def fit_ols(est, X, y, sample_weight=None):
    solver = est._check_solver()
    _no_weights(sample_weight, type(est).__name__)
    data = as_dask_data(X, y)
    est.n_passes_ = 0
    p = data.n_features
    center = est.fit_intercept
    st = None
    if solver in ("auto", "cholesky"):
        # the normal equations' statistics first (one syrk per chunk), as the in-memory "auto"
        st = gram_to_rowstats(_reduce_gram(est, data, center), p, require_triangular=True)
        if st is not None and scaled_rcond(st, p) ** 2 < GRAM_TRUST:
            st = None  # κ(X_cD⁻¹)² > 10¹⁰: the Gram has lost too much; take the QR pass
        if st is not None:
            sol, tss = ols_from_stats(st, p, solver)
            # SSR = YᵀY − β̂ᵀXᵀY cancels on a near-perfect fit: recompute it from residuals
            cancels = bool(np.any(sol.ssr < 1e-8 * tss))
            sol = _refit_ols(est, data, st, sol, p, force=cancels)
    if st is None:  # "qr"/"svd", or XᵀX not numerically positive definite: the TSQR pass
        st = _reduce(est, data, center)
        sol, tss = ols_from_stats(st, p, solver)
        sol = _refit_ols(est, data, st, sol, p)
    _set_features(est, data)
    store_ols(est, sol, tss, st.n, data.single)
    return est


def fit_ridge(est, X, y, sample_weight=None):
    solver = est._check_solver()
    alpha = est._check_penalty(est.alpha, "alpha")
    _no_weights(sample_weight, "Ridge")
    data = as_dask_data(X, y)
    est.n_passes_ = 0
    p = data.n_features
    st = _gram_compressed(est, data, center=est.fit_intercept)
    A, B = compressed(st, p)
    # β = (X_cᵀX_c + αI)⁻¹X_cᵀY_c  (19), on the compressed data: AᵀA = X_cᵀX_c, AᵀB = X_cᵀY_c
    sol = solve_ridge(A, B, alpha, fit_intercept=False, solver=solver)
    intercept = st.mean[p:] - st.mean[:p] @ sol.coef if st.mean is not None else np.zeros(data.k)
    _set_features(est, data)
    est._set_coef(sol.coef, intercept, data.single)
    est.solver_ = sol.solver
    return est


def _enet_from_stats(est, st, p: int, single: bool, *, alpha=None, l1_ratio=None):
    """ElasticNet (24)–(26) on the compressed data (A, B): the same G = X_cᵀX_c, Q = X_cᵀY_c and
    ‖Y_c‖² as the rows, with (λ₁, λ₂) from the true N."""
    from .elastic_net import ElasticNet

    A, B = compressed(st, p)
    if alpha is not None:
        from .enet_path import sklearn_to_notes
        lam1, lam2 = sklearn_to_notes(alpha, l1_ratio, st.n)
    else:
        lam1, mu = est._penalties(st.n)
        lam2 = 2.0 * mu
    inner = ElasticNet(lam1=lam1, lam2=lam2, fit_intercept=False, tol=est.tol, max_iter=est.max_iter,
                       screening=est.screening)
    if getattr(est, "warm_start", False) and hasattr(est, "coef_"):
        inner.set_params(warm_start=True)
        inner.coef_ = est.coef_
    inner.fit(A, B[:, 0] if single else B)
    coef = np.reshape(inner.coef_, (-1, p)).T  # (p, k)
    intercept = st.mean[p:] - st.mean[:p] @ coef if st.mean is not None else np.zeros(coef.shape[1])
    est._set_coef(coef, intercept, single)
    rescale = A.shape[0] / st.n  # the inner fit divides the gap by its row count
    est.dual_gap_ = inner.dual_gap_ * rescale
    est.n_iter_ = inner.n_iter_
    est.lam1_, est.lam2_ = inner.lam1_, inner.lam2_
    return est


def fit_enet(est, X, y, sample_weight=None):
    _no_weights(sample_weight, "ElasticNet")
    data = as_dask_data(X, y)
    est.n_passes_ = 0
    st = _gram_compressed(est, data, center=est.fit_intercept)
    _set_features(est, data)
    return _enet_from_stats(est, st, data.n_features, data.single)


def _fold_groups(n_chunks: int, cv) -> list[np.ndarray]:
    if cv is None:
        n_folds = 5
    elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        n_folds = int(cv)
    else:
        raise TypeError("with Dask input, cv must be an int (the number of folds): folds are made of "
                        f"whole row chunks so that no row moves; got {type(cv).__name__}.")
    if n_folds < 2:
        raise ValueError(f"cv must be >= 2 folds; got {n_folds}.")
    if n_chunks < n_folds:
        raise ValueError(f"X has {n_chunks} row chunks but cv={n_folds} folds are made of whole chunks; "
                         f"rechunk X and y into at least {n_folds} row chunks (e.g. "
                         f"X.rechunk({{0: X.shape[0] // {n_folds}}})).")
    return np.array_split(np.arange(n_chunks), n_folds)


def fold_row_indices(chunk_rows, cv=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row indices of the folds ElasticNetCV makes from whole chunks
    (contiguous groups of chunks, as ``numpy.array_split``); for comparisons in memory."""
    groups = _fold_groups(len(chunk_rows), cv)
    starts = np.concatenate([[0], np.cumsum(chunk_rows)])
    n = int(starts[-1])
    out = []
    for g in groups:
        test = np.arange(starts[g[0]], starts[g[-1] + 1])
        out.append((np.setdiff1d(np.arange(n), test), test))
    return out


def fit_enet_cv(est, X, y):
    from .._validation import check_in_range, check_positive, check_positive_int
    from .elastic_net import cv_alpha_grids
    from .enet_path import solve_path_gram

    data = as_dask_data(X, y, multi_output=False)
    est.n_passes_ = 0
    tol = check_positive(est.tol, "tol", strict=False)
    max_iter = check_positive_int(est.max_iter, "max_iter")
    l1_ratios = np.atleast_1d(np.asarray(est.l1_ratio, dtype=np.float64))
    for r in l1_ratios:
        check_in_range(float(r), "l1_ratio", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    groups = _fold_groups(len(data.xs), est.cv)
    leaves = _stat_leaves(data, est.fit_intercept, _gram_task)
    grams = list(_compute(est, *[_tree([leaves[i] for i in g], _merge_gram_task) for g in groups]))
    p = data.n_features

    def compress(gs):
        return gram_to_rowstats(gs, p, require_triangular=False)

    folds = [compress(g) for g in grams]
    st = compress(merge_all_gram(grams))
    n = st.n
    A, B = compressed(st, p)
    Q = A.T @ B  # (p, 1)
    alphas = cv_alpha_grids(Q[:, 0], n, l1_ratios, est.alphas, est.n_alphas, est.eps)
    mse = np.empty((len(l1_ratios), alphas.shape[1], len(folds)))
    for f, test in enumerate(folds):
        train = compress(merge_all_gram([g for j, g in enumerate(grams) if j != f]))
        Af, Bf = compressed(train, p)
        Gf = np.ascontiguousarray(Af.T @ Af)
        qf = Af.T @ Bf[:, 0]
        yyf = float(Bf[:, 0] @ Bf[:, 0])
        At, Bt = compressed(test, p)
        for i, r in enumerate(l1_ratios):
            coefs, _, _ = solve_path_gram(Gf, qf.copy(), yyf, train.n, alphas[i], float(r), tol,
                                          max_iter, est.screening, progress=False)
            # Σ_test (y − b − Xβ)² = ‖R_t[−β; 1]‖² + n_t(ȳ_t − b − x̄_tᵀβ)²  (centred test summary)
            resid_c = Bt[:, :1] - At @ coefs  # (r, n_alphas)
            sse = np.einsum("ij,ij->j", resid_c, resid_c)
            if est.fit_intercept:
                intercepts = train.mean[p] - train.mean[:p] @ coefs
                shift = test.mean[p] - intercepts - test.mean[:p] @ coefs
                sse = sse + test.n * shift**2
            mse[i, :, f] = sse / test.n
    mean_mse = mse.mean(axis=2)
    i_best, j_best = np.unravel_index(np.argmin(mean_mse), mean_mse.shape)
    est.l1_ratio_ = float(l1_ratios[i_best])
    est.alpha_ = float(alphas[i_best, j_best])
    single_ratio = isinstance(est.l1_ratio, numbers.Real)
    est.alphas_ = alphas[0] if single_ratio else alphas
    est.mse_path_ = mse[0] if single_ratio else mse
    _set_features(est, data)
    return _enet_from_stats(est, st, p, True, alpha=est.alpha_, l1_ratio=est.l1_ratio_)


def enet_path(X, y, *, l1_ratio=0.5, alphas=None, n_alphas=100, eps=1e-3, tol=1e-4, max_iter=1000,
              screening=True, Gram=None, Xy=None, coef_init=None, check_input=True):
    """:func:`curvlab.linear.enet_path` on Dask: XᵀX, Xᵀy, ‖y‖² from one uncentred reduction."""
    from .._validation import as_float_array, check_in_range, check_positive, check_positive_int
    from .enet_path import alpha_path, solve_path_gram

    if Gram is not None or Xy is not None:
        raise ValueError("with Dask input, Gram and Xy are reduced from the chunks; omit them.")
    data = as_dask_data(X, y, multi_output=False)
    l1_ratio = check_in_range(l1_ratio, "l1_ratio", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    tol = check_positive(tol, "tol", strict=False)
    max_iter = check_positive_int(max_iter, "max_iter")

    class _Passes:  # carries the pass count of this call (there is no estimator)
        pass

    st = _gram_compressed(_Passes(), data, center=False)
    p = data.n_features
    A, B = compressed(st, p)
    G = np.ascontiguousarray(A.T @ A)
    q = A.T @ B[:, 0]
    yy = float(B[:, 0] @ B[:, 0])
    n = st.n
    if coef_init is not None:
        coef_init = as_float_array(coef_init, "coef_init", ndim=1)
        if coef_init.shape != (p,):
            raise ValueError(f"coef_init must have shape ({p},); got {coef_init.shape}.")
    alphas = alpha_path(q, n, l1_ratio, alphas, n_alphas, eps)
    coefs, gaps, n_iters = solve_path_gram(G, q, yy, n, alphas, l1_ratio, tol, max_iter, screening,
                                           coef_init)
    return alphas, coefs, gaps, n_iters


def fit_dropout(est, X, y, sample_weight=None):
    """Marginalized dropout regression (30, corrected) from the reduction: ridge with α = σ² on
    x̃_k = x_k/√D_k, D = diag(XᵀX) of the uncentred inputs = diag(X_cᵀX_c) + N x̄²."""
    if est.solver != "marginalized":
        raise ValueError("DropoutRegression on Dask input needs solver='marginalized' (the sampled "
                         "solver visits rows one minibatch at a time); got solver="
                         f"{est.solver!r}.")
    _no_weights(sample_weight, "DropoutRegression")
    data = as_dask_data(X, y, multi_output=False)
    est.n_passes_ = 0
    sigma2 = est.rate / (1.0 - est.rate)
    p = data.n_features
    st = _gram_compressed(est, data, center=est.fit_intercept)
    A, B = compressed(st, p)
    D = np.einsum("ij,ij->j", A, A)
    if st.mean is not None:
        D = D + st.n * st.mean[:p] ** 2
    w = np.zeros(p)
    if sigma2 == 0:
        w = solve_least_squares(A, B, fit_intercept=False, solver="auto", want_cov=False).coef[:, 0]
    else:
        live = D > np.finfo(float).tiny
        if live.any():
            scale = 1.0 / np.sqrt(D[live])
            sol = solve_ridge(A[:, live] * scale, B, sigma2, fit_intercept=False, solver="cholesky")
            w[live] = scale * sol.coef[:, 0]
    b = float(st.mean[p] - st.mean[:p] @ w) if st.mean is not None else 0.0
    _set_features(est, data)
    est.coef_, est.intercept_, est.sigma2_ = w, b, sigma2
    est.n_iter_ = 1
    return est


# ---------------------------------------------------------------------- GLS
def _ar1_pass(est, data: DaskData, rho: float, shift):
    from dask import delayed

    px, py = _prev_rows(data)
    leaves = [delayed(_ar1_task)(xb, yb, px[i], py[i], i, data.n_features, rho, est.fit_intercept, shift)
              for i, (xb, yb) in enumerate(zip(data.xs, data.ys))]
    return _compute(est, _tree(leaves, _merge_task))[0]


def _gls_from_whitened(est, st, data: DaskData, solver: str, shift) -> None:
    """β* by least squares on the whitened summary (intercept column first), inference as OLS."""
    p = data.n_features + int(est.fit_intercept)
    A, B = compressed(st, p)
    sol = solve_least_squares(A, B, fit_intercept=False, solver=solver)
    tss = np.einsum("ij,ij->j", B, B)
    if est.fit_intercept:
        tss = tss - B[0] ** 2  # minus the intercept-only GLS fit: R is triangular, W1 ∝ q₁
        beta, cov = sol.coef, sol.cov_unscaled
        if shift is not None:  # b = b̃ + m_y − m_xᵀβ; params = T params̃ + const
            m_x, m_y = shift[:data.n_features], shift[data.n_features:]
            beta = beta.copy()
            beta[0] = beta[0] + m_y - m_x @ beta[1:]
            T = np.eye(p)
            T[0, 1:] = -m_x
            cov = T @ cov @ T.T
        sol = LstsqSolution(beta[1:], beta[0], sol.rank, sol.solver, cov, sol.ssr, sol.rcond)
    store_ols(est, sol, tss, st.n, data.single)


def _feasible_rho(est, data: DaskData) -> tuple[float, int, np.ndarray]:
    """ρ̂ iterated as in memory (OLS, then GLS with AR1(ρ̂) until ρ̂ moves < tol), on the lag moments."""
    from dask import delayed

    from .._validation import check_positive, check_positive_int

    max_iter = check_positive_int(est.max_iter, "max_iter")
    tol = check_positive(est.tol, "tol")
    px, py = _prev_rows(data)
    leaves = [delayed(_lag_task)(xb, yb, px[i], py[i], i, data.n_features)
              for i, (xb, yb) in enumerate(zip(data.xs, data.ys))]
    stats = list(_compute(est, *leaves))
    n, mean, S0, L, z0, zl = merge_lag(stats)
    if n < 3:
        raise ValueError(f"sigma='ar1' needs at least 3 observations; got {n}.")
    q = mean.shape[0]
    # design vectors d_t = Tζ_t: with intercept [1, x − m, y − m] (= ζ); without, the raw [x, y]
    if est.fit_intercept:
        T = np.eye(q + 1)
    else:
        T = np.hstack([mean[:, None], np.eye(q)])  # z = m + (z − m)
    S0, L, z0, zl = T @ S0 @ T.T, T @ L @ T.T, T @ z0, T @ zl
    A_lag = S0 - np.outer(z0, z0)  # Σ_{t≥1} d_t d_tᵀ
    C_lag = S0 - np.outer(zl, zl)  # Σ_{t≤n−2} d_t d_tᵀ

    def solve(G):
        sol = gram_solve(G[:-1, :-1], G[:-1, -1:], G[-1:, -1], n, fit_intercept=False, min_rcond=0.0)
        if sol is not None:
            return sol.coef[:, 0]
        return scipy.linalg.lstsq(G[:-1, :-1], G[:-1, -1], check_finite=False)[0]

    rho, G = 0.0, S0
    for it in range(1, max_iter + 1):
        beta = solve(G)
        c = np.concatenate([-beta, [1.0]])  # e_t = d_tᵀc
        denom = float(c @ S0 @ c)
        rho_new = float(c @ L @ c) / denom if denom > 0 else 0.0
        rho_new = float(np.clip(rho_new, -0.999, 0.999))
        converged = abs(rho_new - rho) < tol
        rho = rho_new
        G = np.outer(z0, z0) + (A_lag - rho * (L + L.T) + rho * rho * C_lag) / (1.0 - rho * rho)
        if converged:
            break
    else:
        warnings.warn(f"feasible GLS did not converge in {max_iter} iterations (last change in "
                      "ρ above tol); increase max_iter.", RuntimeWarning, stacklevel=4)
    return rho, it, mean


def fit_gls(est, X, y, sample_weight=None):
    from .covariance import AR1

    solver = est._check_solver()
    _no_weights(sample_weight, "GLS")
    sigma = est.sigma
    if sigma is None:
        fit_ols(est, X, y)
        est.n_iter_ = 1
        return est
    if isinstance(sigma, str):
        if sigma != "ar1":
            raise ValueError(f"sigma must be an array, AR1(rho), None or 'ar1'; got {sigma!r}.")
    elif not isinstance(sigma, AR1):
        raise TypeError("with Dask input, GLS takes sigma=None, AR1(rho) or 'ar1' (a dense or "
                        f"diagonal Σ over all rows would gather them); got {type(sigma).__name__}.")
    data = as_dask_data(X, y, multi_output=sigma != "ar1")
    est.n_passes_ = 0
    if sigma == "ar1":
        rho, it, mean = _feasible_rho(est, data)
        shift = mean if est.fit_intercept else None
        st = _ar1_pass(est, data, rho, shift)
        est.rho_, est.n_iter_ = rho, it
    else:
        shift = None
        st = _ar1_pass(est, data, float(sigma.rho), None)
        est.n_iter_ = 1
    _set_features(est, data)
    _gls_from_whitened(est, st, data, solver, shift)
    return est


# ---------------------------------------------------------------------- dispatch
def fit(est, X, y, sample_weight=None):
    """Fit ``est`` on Dask X, y (the estimator's own ``fit`` calls this for Dask input)."""
    from ..dropout.regression import DropoutRegression
    from .elastic_net import ElasticNet, ElasticNetCV
    from .gls import GLS
    from .ols import OLS
    from .ridge import Ridge

    _require_dask("X" if is_dask(X) else "y")
    state = dict(est.__dict__)  # a failed fit leaves the estimator exactly as it was
    try:
        for cls, fn in ((GLS, fit_gls), (OLS, fit_ols), (Ridge, fit_ridge), (ElasticNet, fit_enet),
                        (DropoutRegression, fit_dropout)):
            if isinstance(est, cls):
                return fn(est, X, y, sample_weight)
        if isinstance(est, ElasticNetCV):
            return fit_enet_cv(est, X, y)
        raise TypeError(f"{type(est).__name__} does not take Dask input.")
    except BaseException:
        est.__dict__.clear()
        est.__dict__.update(state)
        raise


def _predict_block(xb, coef, intercept):
    A = xb.to_numpy(dtype=np.float64) if hasattr(xb, "to_numpy") else np.asarray(xb, dtype=np.float64)
    return A @ coef.T + intercept


def _x_array(est, X):
    _require_dask("X")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    if _is_frame(X):
        names = getattr(est, "feature_names_in_", None)
        if names is not None and list(X.columns) != list(names):
            raise ValueError(f"X has columns {list(X.columns)} but the model was fitted on "
                             f"{list(names)}; select them in the same order.")
        Xa = X.to_dask_array()
    else:
        Xa = X
        if Xa.ndim != 2:
            raise ValueError(f"X must be 2-D; got a Dask array of shape {Xa.shape}.")
        if Xa.numblocks[1] > 1:
            raise ValueError(f"X is chunked across columns (chunks {Xa.chunks[1]} along axis 1); "
                             "rechunk X as X.rechunk({1: -1}).")
    p = Xa.shape[1]
    if p != est.n_features_in_:
        raise ValueError(f"X has {p} features, but {type(est).__name__} was fitted with "
                         f"{est.n_features_in_}.")
    return Xa


def predict(est, X):
    """Ŷ = X coef_ᵀ + intercept_ as a lazy Dask array with X's row chunks."""
    Xa = _x_array(est, X)
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64)
    if coef.ndim == 1:
        return Xa.map_blocks(_predict_block, coef, intercept, drop_axis=1, dtype=np.float64)
    return Xa.map_blocks(_predict_block, coef, intercept, chunks=(Xa.chunks[0], (coef.shape[0],)),
                         dtype=np.float64)


def _score_block(xb, yb, coef, intercept):
    """(n, ȳ, Σ(y − ȳ)², Σ(y − ŷ)²) of one chunk, per target."""
    A = xb.to_numpy(dtype=np.float64) if hasattr(xb, "to_numpy") else np.asarray(xb, dtype=np.float64)
    Y = yb.to_numpy(dtype=np.float64) if hasattr(yb, "to_numpy") else np.asarray(yb, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y  # (m, k)
    if Y.shape[0] != A.shape[0]:
        raise ValueError(f"X has {A.shape[0]} rows in a chunk where y has {Y.shape[0]}; partition X "
                         "and y alike.")
    E = Y - (A @ np.atleast_2d(coef).T + intercept)
    mean = Y.mean(axis=0) if len(Y) else np.zeros(Y.shape[1])
    return (len(Y), mean, ((Y - mean) ** 2).sum(axis=0), (E * E).sum(axis=0))


def _score_merge(*parts):
    n, mean, m2, sse = parts[0]
    for nb, mb, m2b, sseb in parts[1:]:
        if nb == 0:
            continue
        tot = n + nb
        d = mb - mean
        m2 = m2 + m2b + d * d * n * nb / tot  # Chan et al.
        mean = mean + d * nb / tot
        n, sse = tot, sse + sseb
    return (n, mean, m2, sse)


def _r2(parts) -> float:
    n, mean, m2, sse = parts
    r2 = np.where(m2 > 0, 1.0 - sse / np.where(m2 > 0, m2, 1.0), np.where(sse == 0, 1.0, 0.0))
    return float(np.mean(r2))


def score(est, X, y, sample_weight=None):
    """R² (uniform average over targets) as a lazy 0-d Dask array."""
    import dask.array as da
    from dask import delayed

    if sample_weight is not None:
        raise TypeError("score on Dask input does not take sample_weight.")
    _x_array(est, X)  # validates
    data = as_dask_data(X, y)
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64)
    leaves = [delayed(_score_block)(xb, yb, coef, intercept) for xb, yb in zip(data.xs, data.ys)]
    return da.from_delayed(delayed(_r2)(_tree(leaves, _score_merge)), shape=(), dtype=np.float64)
