"""Bad input raises ValueError/TypeError naming the argument and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from curvlab.dropout import (
    DropoutLogisticRegression,
    DropoutRegression,
    expected_dropout_gradient,
    noise_variance,
    rate_from_retain,
    sample_multipliers,
)

X = np.random.default_rng(0).normal(size=(10, 3))
y = X.sum(1)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("cls", [DropoutRegression, DropoutLogisticRegression])
def test_rate_outside_unit_interval(cls, rate):
    est = cls(rate=rate)
    with pytest.raises(ValueError, match=r"rate must lie in \[0.0, 1.0\).*rate = 1 - p"):
        est.fit(X, y > 0)
    assert not hasattr(est, "coef_")  # failure leaves the model unfitted


def test_rate_of_wrong_type():
    with pytest.raises(TypeError, match="rate must be a real number"):
        DropoutRegression(rate="0.5").fit(X, y)


@pytest.mark.parametrize("param, value, match", [
    ("kind", "uniform", "kind must be one of"),
    ("solver", "adam", "solver must be one of"),
    ("lr", -1.0, "lr must be finite and > 0"),
    ("lr", "fast", "lr must be a positive number or 'auto'"),
    ("lr_schedule", "cosine", "lr_schedule must be one of"),
    ("max_iter", 0, "max_iter must be >= 1"),
    ("batch_size", 0, "batch_size must be >= 1"),
])
def test_bad_parameters(param, value, match):
    with pytest.raises(ValueError, match=match):
        DropoutRegression(**{param: value}).fit(X, y)


def test_nan_and_inf_in_data():
    Xb = X.copy()
    Xb[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DropoutRegression().fit(Xb, y)
    yb = y.copy()
    yb[0] = np.inf
    with pytest.raises(ValueError, match="[Ii]nfinity"):
        DropoutRegression().fit(X, yb)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DropoutRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        DropoutRegression().fit(X, y, sample_weight=np.ones(4))
    m = DropoutRegression().fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="w must have one entry per feature"):
        expected_dropout_gradient(X, y, np.ones(2), 0.5)
    with pytest.raises(ValueError, match="y must have one entry per row"):
        expected_dropout_gradient(X, y[:3], np.ones(3), 0.5)


def test_negative_or_zero_sample_weights():
    with pytest.raises(ValueError, match="[Nn]egative"):
        DropoutRegression().fit(X, y, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="sums to zero|at least one non-zero"):
        DropoutRegression().fit(X, y, sample_weight=np.zeros(10))


def test_helpers():
    with pytest.raises(ValueError, match="rate must lie"):
        noise_variance(1.0)
    with pytest.raises(ValueError, match=r"p must lie in \(0.0, 1.0\]"):
        rate_from_retain(0.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        sample_multipliers(np.random.default_rng(0), (3,), 0.5, "poisson")
    with pytest.raises(ValueError, match="sigma2 must be finite and >= 0"):
        expected_dropout_gradient(X, y, np.ones(3), -1.0)


def test_sgd_divergence_is_reported_not_nan():
    with pytest.raises(FloatingPointError, match="pass a smaller lr"):
        DropoutRegression(solver="sampled", lr=1e3, lr_schedule="constant", max_iter=50).fit(X * 100, y)


def test_failed_refit_leaves_fitted_model_unchanged():
    m = DropoutRegression(rate=0.3).fit(X, y)
    before = (m.coef_.copy(), m.intercept_, m.n_features_in_)
    m.set_params(solver="sampled", lr=1e3, lr_schedule="constant", max_iter=50)
    with pytest.raises(FloatingPointError):
        m.fit(np.column_stack([X, X]) * 100, y)      # new width, diverging SGD
    np.testing.assert_array_equal(m.coef_, before[0])
    assert (m.intercept_, m.n_features_in_) == before[1:]


def test_rate_from_retain_reads_like_the_decimal():
    # reference: decimal arithmetic, 1 − 0.8 = 0.2 (binary 1 − 0.8 = 0.19999999999999996)
    assert rate_from_retain(0.8) == 0.2
    assert rate_from_retain(0.9) == 0.1
    assert rate_from_retain(1.0) == 0.0
