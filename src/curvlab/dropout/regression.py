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
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validation import check_positive, check_positive_int
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


class _RollbackFit:
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
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        sample_weight = (None if sample_weight is None else
                         _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True))
        if sample_weight is not None and self.fit_intercept and not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to zero; give at least one sample a positive weight.")
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
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (a lazy 0-d Dask array for Dask input)."""
        if _dask.any_dask(X, y):
            return _dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def expected_loss(self, X, y, sample_weight=None) -> float:
        """J_R(ω, b) of (30, corrected) on (X, y): Σ s(y − b − Xω)² + σ² Σ_k ω_k² Σ_n s x_nk²."""
        check_is_fitted(self)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, reset=False)
        s = np.ones(X.shape[0]) if sample_weight is None else _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        residual = y - self.predict(X)
        return float(s @ residual**2 + self.sigma2_ * self.coef_**2 @ dropout_energy(X, s))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # the sampled solver is seeded
        return tags


