"""Plumbing shared by the linear estimators: validation, prediction, scikit-learn tags."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._validation import check_positive
from . import _dask
from ._solvers import SOLVERS

__all__ = ["LinearModel"]


class LinearModel(RegressorMixin, BaseEstimator):
    """Base: ``predict(X) = X coef_ᵀ + intercept_``; subclasses implement ``fit``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # ----------------------------------------------------------- validation
    def _validate_fit(self, X, y, sample_weight, *, multi_output: bool = True,
                      return_col_sum: bool = False):
        """X (n, d) float64, Y (n, k), sw (n,) or None, whether y was 1-D [, Xᵀ1 or None]."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True,
                             multi_output=multi_output, ensure_min_samples=1,
                             ensure_all_finite=False)
        # One pass gives the column sums (reused by the solvers) and the finiteness check.
        col_sum = X.sum(axis=0)
        if not np.all(np.isfinite(col_sum)):
            assert_all_finite(X, input_name="X")  # raises sklearn's message for NaN/inf
            col_sum = None  # finite entries whose sum overflowed
        assert_all_finite(y, input_name="y")
        y = np.asarray(y, dtype=np.float64)
        single = y.ndim == 1
        Y = y.reshape(-1, 1) if single else y  # (n, k)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
            if not np.isfinite(sw).all():
                raise ValueError("sample_weight contains NaN or infinity; pass finite weights.")
            if sw.sum() <= 0:
                raise ValueError("sample_weight sums to zero; at least one weight must be positive.")
        return (X, Y, sw, single, col_sum) if return_col_sum else (X, Y, sw, single)

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

    # ----------------------------------------------------------- prediction
    def predict(self, X) -> np.ndarray:
        """Ŷ = X coef_ᵀ + intercept_ (shape (n,) or (n, k))."""
        if _dask.is_dask(X):  # a lazy Dask array with X's row chunks
            return _dask.predict(self, X)
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T + self.intercept_

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (a lazy 0-d Dask array for Dask input)."""
        if _dask.any_dask(X, y):
            return _dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)
