"""Elastic net and its cross-validated version — the notes' §3.4, eqs. (24)–(26), corrected.

The notes augment the data, X̂ = [X; √λ₁ I], Ŷ = [Y; 0], so that ‖Y − Xβ‖² + λ₁‖β‖² =
‖Ŷ − X̂β‖² (25), and then write the elastic-net loss as L(β, λ₁, λ₂) = ‖Ŷ − X̂β‖² (26).
That drops the L1 term — (26) as written is ridge. The correct statement is

    L(β, λ₁, λ₂) = ‖Ŷ − X̂β‖² + λ₂‖β‖₁:  the elastic net is a lasso on augmented data.

We solve exactly that lasso, without building X̂, by coordinate descent on the Gram
matrix X̂ᵀX̂ = XᵀX + λ₁I (:mod:`curvlab.linear._cd`). Both parametrizations are accepted;
the mapping is in :mod:`curvlab.linear.enet_path`.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0); X = rng.normal(size=(100, 10))
>>> y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=100)
>>> m = ElasticNet(alpha=0.05, l1_ratio=0.9).fit(X, y)
>>> int(np.sum(m.coef_ != 0)) < 10
True
>>> m2 = ElasticNet(lam1=m.lam1_, lam2=m.lam2_).fit(X, y)        # the notes' (λ₁, λ₂)
>>> bool(np.allclose(m.coef_, m2.coef_))
True
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import (as_real_array, check_data, check_finite_role, check_finite_scalar,
                           check_in_range, check_not_complex, check_positive, check_positive_int,
                           check_sample_weight_input)
from . import _dask
from ._base import LinearModel
from ._cd import enet_gram_cd
from .enet_path import alpha_max, sklearn_to_notes, solve_path_gram

__all__ = ["ElasticNet", "ElasticNetCV", "enet_objective"]


def enet_objective(X, y, coef, intercept, lam1: float, lam2: float, sample_weight=None) -> float:
    """The notes' F(β) = Σ wᵢ(yᵢ − b₀ − xᵢᵀβ)² + λ₁‖β‖² + λ₂‖β‖₁ (wᵢ = 1 by default)."""
    X = as_real_array(X, "X", ndim=2)
    y = as_real_array(y, "y", ndim=1)
    coef = as_real_array(coef, "coef", ndim=1)
    check_not_complex(intercept, "intercept")
    intercept = check_finite_scalar(intercept, "intercept")
    lam1 = check_positive(lam1, "lam1", strict=False)
    lam2 = check_positive(lam2, "lam2", strict=False)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}.")
    if coef.shape[0] != X.shape[1]:
        raise ValueError(f"coef must have one entry per column of X ({X.shape[1]}); got "
                         f"{coef.shape[0]}.")
    w = check_sample_weight_input(sample_weight, X.shape[0])
    r = y - X @ coef - intercept
    w = np.ones_like(r) if w is None else w
    return float(w @ (r * r) + lam1 * coef @ coef + lam2 * np.abs(coef).sum())


def _centered_gram(X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None, fit_intercept: bool):
    """G = XcᵀWXc (C-contiguous), Q = XcᵀWYc (p, k), yy = diag(YcᵀWYc), means."""
    if fit_intercept:
        w_sum = X.shape[0] if sw is None else sw.sum()
        x_mean = X.mean(axis=0) if sw is None else sw @ X / w_sum
        y_mean = Y.mean(axis=0) if sw is None else sw @ Y / w_sum
        Xc, Yc = X - x_mean, Y - y_mean
    else:
        x_mean, y_mean = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
        Xc, Yc = X, Y
    Xw = Xc if sw is None else Xc * sw[:, None]
    G = np.ascontiguousarray(Xw.T @ Xc)
    Q = Xw.T @ Yc
    yy = np.einsum("ij,ij->j", Yc, Yc) if sw is None else sw @ (Yc * Yc)
    return G, Q, yy, x_mean, y_mean


class ElasticNet(LinearModel):
    """Elastic net by compiled coordinate descent on the Gram matrix, with a duality-gap stop.

    Objective — give either scikit-learn's (alpha, l1_ratio):
        1/(2N)‖y − Xβ‖² + α·ρ‖β‖₁ + ½α(1 − ρ)‖β‖²,
    or the notes' (lam1, lam2) (they take precedence when given):
        ‖y − Xβ‖² + λ₁‖β‖² + λ₂‖β‖₁.
    With ``sample_weight`` the squared error is weighted; in scikit-learn's form the weights
    are rescaled to sum to N first (as scikit-learn does).

    Parameters
    ----------
    alpha, l1_ratio : scikit-learn's parametrization.  lam1, lam2 : the notes'.
    fit_intercept : unpenalised intercept (X, y centred).
    tol : stop when the duality gap ≤ tol·‖y − ȳ‖²/N in the scale of f (scikit-learn's rule).
    max_iter : sweeps (coordinate-descent sweeps plus conjugate-gradient steps on the active
        set, each O(p·|active|)).  screening : gap-safe screening of inactive features.
    warm_start : start from the previous ``coef_``.

    Attributes
    ----------
    coef_, intercept_, dual_gap_ (scale of f), n_iter_, lam1_, lam2_ (the notes' penalties used).
    """

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.5, *, lam1: float | None = None,
                 lam2: float | None = None, fit_intercept: bool = True, tol: float = 1e-4,
                 max_iter: int = 1000, screening: bool = True, warm_start: bool = False):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.lam1 = lam1
        self.lam2 = lam2
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.screening = screening
        self.warm_start = warm_start

    def _penalties(self, n: int) -> tuple[float, float]:
        """(λ₁, μ = λ₂/2) for the halved notes' objective."""
        if (self.lam1 is None) != (self.lam2 is None):
            raise ValueError("give both lam1 and lam2 (the notes' parametrization), or neither "
                             "(then alpha and l1_ratio are used).")
        if self.lam1 is not None:
            lam1 = check_positive(self.lam1, "lam1", strict=False)
            lam2 = check_positive(self.lam2, "lam2", strict=False)
        else:
            lam1, lam2 = sklearn_to_notes(self.alpha, self.l1_ratio, n)
        return lam1, lam2 / 2.0

    def fit(self, X, y, sample_weight=None, check_input: bool = True) -> "ElasticNet":
        """Minimise the objective; y may be 2-D (each column solved separately)."""
        if _dask.any_dask(X, y):  # chunked rows on Dask: one reduction, see linear._dask
            return _dask.fit(self, X, y, sample_weight)
        tol = check_positive(self.tol, "tol", strict=False)
        max_iter = check_positive_int(self.max_iter, "max_iter")
        X, Y, sw, single = self._validate_fit(X, y, sample_weight)
        n = X.shape[0]
        lam1, mu = self._penalties(n)
        if sw is not None and self.lam1 is None:
            sw = sw * (n / sw.sum())  # scikit-learn's convention: weights sum to N
        G, Q, yy, x_mean, y_mean = _centered_gram(X, Y, sw, self.fit_intercept)
        k, p = Y.shape[1], X.shape[1]
        coef = np.zeros((p, k))
        if self.warm_start and hasattr(self, "coef_") and np.shape(self.coef_)[-1] == p:
            coef[:] = np.reshape(self.coef_, (k, p)).T if np.size(self.coef_) == p * k else 0.0
        gaps, iters = np.empty(k), np.empty(k, dtype=np.int64)
        for t in range(k):
            beta = np.ascontiguousarray(coef[:, t])
            q = np.ascontiguousarray(Q[:, t])
            c = q - G @ beta
            tol_abs = tol * yy[t]
            gap, sweeps, _ = enet_gram_cd(G, q, float(yy[t]), beta, c, lam1, mu, tol_abs,
                                          max_iter, bool(self.screening))
            if gap > tol_abs:
                warnings.warn(f"ElasticNet did not converge: duality gap {gap / n:.3g} > "
                              f"{tol_abs / n:.3g} after {max_iter} sweeps; increase max_iter.",
                              ConvergenceWarning, stacklevel=2)
            coef[:, t], gaps[t], iters[t] = beta, gap / n, sweeps
        intercept = y_mean - x_mean @ coef if self.fit_intercept else np.zeros(k)
        self._set_coef(coef, intercept, single)
        self.dual_gap_ = float(gaps[0]) if single else gaps
        self.n_iter_ = int(iters[0]) if single else iters
        self.lam1_, self.lam2_ = lam1, 2.0 * mu
        return self

    def objective(self, X, y, sample_weight=None) -> float:
        """The notes' F(β) at the fitted coefficients (single target)."""
        check_is_fitted(self)
        return enet_objective(X, y, self.coef_, self.intercept_, self.lam1_, self.lam2_,
                              sample_weight)



def cv_alpha_grids(q: np.ndarray, n: int, l1_ratios: np.ndarray, alphas, n_alphas: int,
                   eps: float) -> np.ndarray:
    """ElasticNetCV's grid, shape (len(l1_ratios), n_alphas): per l1_ratio ρ, ``n_alphas``
    log-spaced penalties from λ_max(ρ) (:func:`alpha_max`, ``q`` = Xᵀy of the centred data) down to
    ``eps``·λ_max; or the given ``alphas`` (sorted, largest first) for every ρ."""
    if alphas is not None:
        a = np.sort(as_real_array(alphas, "alphas", ndim=(0, 1)).ravel())[::-1]
        if a.size == 0 or np.any(a < 0) or not np.all(np.isfinite(a)):
            raise ValueError("alphas must be a non-empty list of finite values >= 0.")
        return np.tile(a, (len(l1_ratios), 1))
    n_alphas = check_positive_int(n_alphas, "n_alphas")
    eps = check_in_range(eps, "eps", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    grids = []
    for r in l1_ratios:
        a_max = alpha_max(q, n, float(r))
        grids.append(np.geomspace(a_max, a_max * eps, n_alphas) if a_max > 0
                     else np.full(n_alphas, np.finfo(float).eps))
    return np.array(grids)  # (n_l1, n_alphas)

class ElasticNetCV(LinearModel):
    """Elastic net with α (and optionally l1_ratio) chosen by k-fold cross-validation.

    For each l1_ratio, α runs over ``n_alphas`` values from α_max (computed on all the data)
    down to eps·α_max; in each fold the training part is centred and the path is solved with
    warm starts; the mean squared error on the held-out part picks α. The model is then
    refitted on all the data. Same grid and folds as scikit-learn's ``ElasticNetCV``.

    Attributes
    ----------
    alpha_, l1_ratio_, alphas_ ((n_alphas,) or (n_l1, n_alphas)), mse_path_ ((n_alphas, n_folds)
    or (n_l1, n_alphas, n_folds)), coef_, intercept_, dual_gap_, n_iter_, lam1_, lam2_.
    """

    def __init__(self, *, l1_ratio=0.5, eps: float = 1e-3, n_alphas: int = 100, alphas=None,
                 fit_intercept: bool = True, tol: float = 1e-4, max_iter: int = 1000, cv=None,
                 screening: bool = True):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.cv = cv
        self.screening = screening

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    def fit(self, X, y) -> "ElasticNetCV":
        """Choose (α, l1_ratio) by cross-validation, then refit on all the data."""
        if _dask.any_dask(X, y):  # folds of whole chunks, one pass; see linear._dask
            return _dask.fit(self, X, y)
        self._check_flags()
        X_arr = check_data(X, "X", ndim=2, min_rows=2)
        check_data(y, "y", ndim=(1, 2), n_rows=X_arr.shape[0])
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_all_finite=False)
        y = np.asarray(y, dtype=np.float64)
        check_finite_role(X, "X")
        check_finite_role(y, "y")
        n, p = X.shape
        tol = check_positive(self.tol, "tol", strict=False)
        max_iter = check_positive_int(self.max_iter, "max_iter")
        l1_ratios = np.atleast_1d(as_real_array(self.l1_ratio, "l1_ratio", ndim=(0, 1)))
        for r in l1_ratios:
            check_in_range(float(r), "l1_ratio", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
        G, Q, yy, x_mean, y_mean = _centered_gram(X, y[:, None], None, self.fit_intercept)
        alphas = cv_alpha_grids(Q[:, 0], n, l1_ratios, self.alphas, self.n_alphas, self.eps)
        folds = list(check_cv(self.cv).split(X, y))
        mse = np.empty((len(l1_ratios), alphas.shape[1], len(folds)))
        for f, (train, test) in enumerate(folds):
            Gf, Qf, yyf, xm, ym = _centered_gram(X[train], y[train, None], None, self.fit_intercept)
            for i, r in enumerate(l1_ratios):
                coefs, _, _ = solve_path_gram(Gf, Qf[:, 0].copy(), float(yyf[0]), len(train),
                                              alphas[i], float(r), tol, max_iter, self.screening,
                                              progress=False)
                intercepts = ym[0] - xm @ coefs  # (n_alphas,)
                resid = y[test, None] - X[test] @ coefs - intercepts  # (n_test, n_alphas)
                mse[i, :, f] = np.mean(resid**2, axis=0)
        mean_mse = mse.mean(axis=2)
        i_best, j_best = np.unravel_index(np.argmin(mean_mse), mean_mse.shape)
        self.l1_ratio_ = float(l1_ratios[i_best])
        self.alpha_ = float(alphas[i_best, j_best])
        single_ratio = isinstance(self.l1_ratio, numbers.Real)
        self.alphas_ = alphas[0] if single_ratio else alphas
        self.mse_path_ = mse[0] if single_ratio else mse
        final = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_,
                           fit_intercept=self.fit_intercept, tol=tol, max_iter=max_iter,
                           screening=self.screening).fit(X, y)
        self.coef_, self.intercept_ = final.coef_, final.intercept_
        self.dual_gap_, self.n_iter_ = final.dual_gap_, final.n_iter_
        self.lam1_, self.lam2_ = final.lam1_, final.lam2_
        return self

