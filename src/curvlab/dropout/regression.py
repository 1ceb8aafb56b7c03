"""``DropoutRegression``: linear regression trained with dropout on its inputs (notes §4).

The model is y ≈ b + Σ_k δ_k ω_k x_k with dropout factors δ_k (mean 1, variance
σ² = rate/(1 − rate); see :mod:`curvlab.dropout.noise`) on the inputs during training and
δ = 1 at prediction. Its expected training loss is (30, corrected)

    J_R(ω, b) = Σ_n s_n (y_n − b − x_nᵀω)² + σ² Σ_k ω_k² Σ_n s_n x_nk²,

so dropout is a ridge penalty scaled by each feature's energy diag(XᵀX). Two solvers:

``solver="marginalized"`` (default) computes the exact minimizer
    ω = (XᵀX + σ² diag(XᵀX))⁻¹Xᵀy
(centred data term, uncentred penalty, unpenalized intercept; see
:func:`~curvlab.dropout.marginalized.fit_marginalized`). ``rate=0`` is ordinary least squares.

``solver="sampled"`` trains by minibatch SGD that samples the masks
(:func:`~curvlab.dropout.sampled.fit_sampled`); it converges to the same ω as the number
of epochs grows, at a cost of orders of magnitude more time.

Srivastava et al. (2014), §9.1, write p for the *retain* probability: their p = 1 − rate,
and their penalty (1 − p)/p ‖Γw‖² is our σ² Σ_k ω_k² D_k.

Example
-------
>>> from sklearn.datasets import load_diabetes
>>> X, y = load_diabetes(return_X_y=True)
>>> model = DropoutRegression(rate=0.5).fit(X, y)
>>> model.sigma2_
1.0
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import (check_bool, check_data, check_finite_role, check_not_complex, check_positive,
                           check_positive_int, check_sample_weight_input)
from ..linear import _dask
from .marginalized import dropout_energy, fit_marginalized
from .noise import check_kind, check_rate
from .sampled import fit_sampled

__all__ = ["DropoutRegression"]

log = logging.getLogger(__name__)

SOLVERS = ("marginalized", "sampled")
SCHEDULES = ("constant", "invscaling")


def check_sgd_params(est) -> float | str:
    """Validate the parameters shared by the sampled solvers; returns the checked ``lr``."""
    check_bool(est.fit_intercept, "fit_intercept")
    check_bool(est.average, "average")
    if est.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}; got {est.solver!r}.")
    check_positive_int(est.max_iter, "max_iter")
    check_positive_int(est.batch_size, "batch_size")
    if est.lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}; got {est.lr_schedule!r}.")
    check_positive(est.power_t, "power_t", strict=False)
    if isinstance(est.lr, str):
        if est.lr != "auto":
            raise ValueError(f"lr must be a positive number or 'auto'; got {est.lr!r}.")
        return "auto"
    return check_positive(est.lr, "lr")


def validate_xy(est, X, y, sample_weight, *, numeric_y: bool = True, reset: bool = True):
    """(X, y, sample_weight or None) checked with messages that name the argument and the fix.

    ``numeric_y=False`` (class labels, possibly strings): y is checked for shape, complex
    values and, when numeric, NaN/inf; scikit-learn then encodes the labels.
    """
    X_arr = check_data(X, "X", ndim=2, min_rows=2 if reset else 1)
    n = X_arr.shape[0]
    if numeric_y:
        check_data(y, "y", ndim=(1, 2), n_rows=n)
    else:
        if y is None:
            check_data(y, "y")  # raises: the target y is None
        check_not_complex(y, "y")
        y_arr = np.asarray(y)
        if y_arr.ndim not in (1, 2) or y_arr.shape[0] != n:
            raise ValueError(f"y has {y_arr.shape[0] if y_arr.ndim else 0} rows but X has {n}: "
                             f"pass one class label per row of X (shape {y_arr.shape}).")
        if y_arr.dtype.kind in "fc":
            check_finite_role(y_arr, "y")
    sw = check_sample_weight_input(sample_weight, n)
    X, y = validate_data(est, X, y, dtype=np.float64, y_numeric=numeric_y, reset=reset,
                         ensure_all_finite=False)
    check_finite_role(X, "X")
    if numeric_y:
        check_finite_role(np.asarray(y, dtype=np.float64), "y")
    return X, y, sw


def validate_predict_x(est, X) -> np.ndarray:
    """X at prediction: the checks of fit, and the number of columns seen in fit."""
    check_is_fitted(est)
    check_data(X, "X", ndim=2)
    try:
        X = validate_data(est, X, dtype=np.float64, reset=False, ensure_all_finite=False)
    except ValueError as exc:
        if "features" in str(exc):
            raise ValueError(f"{exc} Pass X with the same columns, in the same order, as in fit.") from None
        raise
    check_finite_role(X, "X")
    return X


class _CheckedScore:
    """scikit-learn's ``score`` with X, y and sample_weight checked like ``fit``'s."""

    def score(self, X, y, sample_weight=None) -> float:
        """The mixin's score (R² or accuracy) after the checks of :func:`validate_xy`."""
        X_arr = check_data(X, "X", ndim=2)
        check_not_complex(y, "y")
        y_arr = np.asarray(y)
        if y_arr.ndim not in (1, 2) or y_arr.shape[0] != X_arr.shape[0]:
            raise ValueError(f"y has {y_arr.shape[0] if y_arr.ndim else 0} rows but X has "
                             f"{X_arr.shape[0]}: pass one target per row of X.")
        if y_arr.dtype.kind in "fc":
            check_finite_role(y_arr, "y")
        sw = check_sample_weight_input(sample_weight, X_arr.shape[0])
        return super().score(X, y, sample_weight=sw)


class _RollbackFit(_CheckedScore):
    """``fit`` that calls ``_fit`` and, on any error, leaves the estimator exactly as it was."""

    def fit(self, X, y, sample_weight=None):
        """See :meth:`_fit`. On any error the estimator is left exactly as it was."""
        state = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise


class DropoutRegression(_RollbackFit, RegressorMixin, BaseEstimator):
    """Linear regression with input dropout, sampled or marginalized (notes §4, eq. (30)).

    Parameters
    ----------
    rate : drop probability of each input, in [0, 1). σ² = rate/(1 − rate). Srivastava
        et al.'s retain probability p corresponds to rate = 1 − p.
    kind : ``"bernoulli"`` (inverted dropout, δ ∈ {0, 1/(1 − rate)}) or ``"gaussian"``
        (δ ~ N(1, σ²)). Only the sampled solver sees the difference: both have the same
        mean and variance, hence the same marginalized penalty.
    solver : ``"marginalized"`` (exact closed form) or ``"sampled"`` (dropout SGD).
    fit_intercept : fit an (undropped, unpenalized) bias b.
    max_iter : epochs of the sampled solver.
    batch_size : minibatch size of the sampled solver.
    lr : initial learning rate ε₀ of the sampled solver, or ``"auto"`` (1/(2L̄), see
        :mod:`curvlab.dropout.sampled`).
    lr_schedule : ``"invscaling"`` (ε₀/(1 + t/T)^power_t) or ``"constant"``.
    power_t : exponent of the inverse-scaling schedule.
    average : report the Polyak–Ruppert average of the SGD iterates.
    seed : seed (or ``numpy.random.Generator``) of the sampled solver's masks and order.
    progress : show a tqdm bar for the sampled solver (None: only on a terminal).

    Attributes
    ----------
    coef_ : (d,) ω.   intercept_ : b.   sigma2_ : σ².
    n_iter_ : epochs run (1 for the marginalized solver: one direct solve).
    loss_history_ : (max_iter,) mean sampled dropout loss per epoch (sampled solver only).
    """

    def __init__(self, rate: float = 0.2, *, kind: str = "bernoulli", solver: str = "marginalized",
                 fit_intercept: bool = True, max_iter: int = 200, batch_size: int = 32,
                 lr: float | str = "auto", lr_schedule: str = "invscaling", power_t: float = 0.5,
                 average: bool = True, seed: int | np.random.Generator | None = 0,
                 progress: bool | None = None):
        self.rate = rate
        self.kind = kind
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.average = average
        self.seed = seed
        self.progress = progress

    def _fit(self, X, y, sample_weight=None) -> "DropoutRegression":
        """Fit ω and b by the chosen solver. X (N, d), y (N,), sample_weight (N,) ≥ 0."""
        rate = check_rate(self.rate)
        check_kind(self.kind)
        lr = check_sgd_params(self)
        if _dask.any_dask(X, y):  # marginalized solver from the chunked reduction; see linear._dask
            return _dask.fit(self, X, y, sample_weight)
        X, y, sample_weight = validate_xy(self, X, y, sample_weight)
        sigma2 = rate / (1.0 - rate)
        if self.solver == "marginalized":
            coef, intercept = fit_marginalized(X, y, sigma2, fit_intercept=self.fit_intercept,
                                               sample_weight=sample_weight)
            self.n_iter_ = 1  # one direct solve
        else:
            result = fit_sampled(
                X, y, rate, kind=self.kind, loss="squared", fit_intercept=self.fit_intercept,
                sample_weight=sample_weight, epochs=int(self.max_iter), batch_size=int(self.batch_size),
                lr=lr, lr_schedule=self.lr_schedule, power_t=float(self.power_t),
                average=bool(self.average), seed=self.seed, progress=self.progress,
            )
            coef, intercept = result.coef, result.intercept
            self.loss_history_ = result.loss_history
            self.n_iter_ = int(self.max_iter)
        self.coef_, self.intercept_, self.sigma2_ = coef, float(intercept), sigma2
        return self

    def predict(self, X) -> np.ndarray:
        """ŷ = b + Xω (no dropout at prediction: E[δ] = 1). Shape (N,)."""
        if _dask.is_dask(X):  # a lazy Dask array with X's row chunks
            return _dask.predict(self, X)
        X = validate_predict_x(self, X)
        return X @ self.coef_ + self.intercept_

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (a lazy 0-d Dask array for Dask input)."""
        if _dask.any_dask(X, y):
            return _dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def expected_loss(self, X, y, sample_weight=None) -> float:
        """J_R(ω, b) / Σs: the expected dropout loss (30, corrected) *per sample*.

        Σ_n s_n (y_n − b − x_nᵀω)² / Σ s + σ² Σ_k ω_k² Σ_n s_n x_nk² / Σ s — the mean, like
        scikit-learn's losses (``mean_squared_error``), so that it compares with
        ``loss_history_`` and does not grow with N; the notes' J_R is a sum, which
        :func:`~curvlab.dropout.expected_dropout_loss` returns.
        """
        check_is_fitted(self)
        validate_predict_x(self, X)
        X, y, s = validate_xy(self, X, y, sample_weight, reset=False)
        s = np.ones(X.shape[0]) if s is None else s
        residual = y - self.predict(X)
        total = float(s @ residual**2 + self.sigma2_ * self.coef_**2 @ dropout_energy(X, s))
        return total / float(s.sum())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # the sampled solver is seeded
        return tags


