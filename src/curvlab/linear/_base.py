"""Plumbing shared by the linear estimators: validation, prediction, scikit-learn tags."""

from __future__ import annotations

import functools

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import (check_bool, check_data, check_finite_role, check_positive,
                           check_sample_weight_input)
from . import _dask
from ._solvers import SOLVERS

__all__ = ["LinearModel"]


def _rollback_on_error(method):
    """Wrap a fitting method so that on any error the estimator is left exactly as it was
    (a refit that fails half-way must not leave n_features_in_ of the new data beside the
    coefficients of the old)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        state = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    wrapper._rollback = True
    return wrapper


class LinearModel(RegressorMixin, BaseEstimator):
    """Base: ``predict(X) = X coef_ᵀ + intercept_``; subclasses implement ``fit``.

    Every ``fit`` / ``fit_chunks`` a subclass defines leaves the estimator unchanged when it
    raises.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("fit", "fit_chunks"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_rollback", False):
                setattr(cls, name, _rollback_on_error(method))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ----------------------------------------------------------- validation
    def _validate_fit(self, X, y, sample_weight, *, multi_output: bool = True,
                      return_col_sum: bool = False):
        """X (n, d) float64, Y (n, k), sw (n,) or None, whether y was 1-D [, Xᵀ1 or None].

        Every failure names the argument and the fix (complex, strings, wrong dimensions,
        empty, mismatched rows, NaN/inf, bad weights) before scikit-learn converts the data.
        """
        self._check_flags()
        X_arr = check_data(X, "X", ndim=2, min_rows=2)
        check_data(y, "y", ndim=(1, 2) if multi_output else (1,), n_rows=X_arr.shape[0])
        sw = check_sample_weight_input(sample_weight, X_arr.shape[0])
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True,
                             multi_output=multi_output, ensure_min_samples=1,
                             ensure_all_finite=False)
        # One pass gives the column sums (reused by the solvers) and the finiteness check.
        with np.errstate(over="ignore", invalid="ignore"):
            col_sum = X.sum(axis=0)
        if not np.all(np.isfinite(col_sum)):
            check_finite_role(X, "X")
            col_sum = None  # finite entries whose sum overflowed
        y = np.asarray(y, dtype=np.float64)
        check_finite_role(y, "y")
        single = y.ndim == 1
        Y = y.reshape(-1, 1) if single else y  # (n, k)
        return (X, Y, sw, single, col_sum) if return_col_sum else (X, Y, sw, single)

    def _check_flags(self) -> None:
        """The boolean parameters (fit_intercept, screening, warm_start) must be booleans."""
        for flag in ("fit_intercept", "screening", "warm_start"):
            if hasattr(self, flag):
                check_bool(getattr(self, flag), flag)

    def _validate_predict(self, X) -> np.ndarray:
        """X for prediction: the checks of fit, and the same number of columns as in fit."""
        check_is_fitted(self)
        check_data(X, "X", ndim=2)
        try:
            X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        except ValueError as exc:
            if "features" in str(exc):
                raise ValueError(f"{exc} Pass X with the same columns, in the same order, as in "
                                 "fit.") from None
            raise
        check_finite_role(X, "X")
        return X

    def _check_solver(self) -> str:
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}; got {self.solver!r}.")
        return self.solver

    @staticmethod
    def _check_penalty(value, name: str) -> float:
        return check_positive(value, name, strict=False)

    def _set_coef(self, coef: np.ndarray, intercept: np.ndarray, single: bool) -> None:
        """coef (d, k), intercept (k,) → sklearn's coef_ (d,) or (k, d), intercept_ float or (k,)."""
        if single:
            self.coef_ = coef[:, 0].copy()
            self.intercept_ = float(intercept[0])
        else:
            self.coef_ = coef.T.copy()
            self.intercept_ = intercept.copy()

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (scikit-learn's ``score``), with the inputs checked like ``fit``'s;
        a lazy 0-d Dask array for Dask input."""
        if _dask.any_dask(X, y):
            return _dask.score(self, X, y, sample_weight)
        X_arr = check_data(X, "X", ndim=2)
        y_arr = check_data(y, "y", ndim=(1, 2), n_rows=X_arr.shape[0], finite=True)
        sw = check_sample_weight_input(sample_weight, X_arr.shape[0])
        return super().score(X, y_arr, sample_weight=sw)

    # ----------------------------------------------------------- prediction
    def predict(self, X) -> np.ndarray:
        """Ŷ = X coef_ᵀ + intercept_ (shape (n,) or (n, k))."""
        if _dask.is_dask(X):  # a lazy Dask array with X's row chunks
            return _dask.predict(self, X)
        X = self._validate_predict(X)
        return X @ self.coef_.T + self.intercept_
