"""Ridge, eq. (19); references: scikit-learn Ridge and the closed form by numpy.linalg.solve."""

import numpy as np
import pytest
from sklearn import linear_model as sk

from curvlab.linear import Ridge


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
@pytest.mark.parametrize("intercept", [True, False])
def test_matches_sklearn_ridge(solver, intercept):
    # reference: sklearn.linear_model.Ridge (same objective ‖y − Xβ‖² + α‖β‖²)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 5)) + 3.0, rng.normal(size=(40, 2))
    w = rng.uniform(0.5, 2.0, size=40)
    for y in (Y[:, 0], Y):
        ours = Ridge(alpha=2.5, fit_intercept=intercept, solver=solver).fit(X, y, sample_weight=w)
        ref = sk.Ridge(alpha=2.5, fit_intercept=intercept, solver="svd").fit(X, y, sample_weight=w)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)


def test_closed_form_19():
    # reference: (XᵀX + αI)⁻¹XᵀY by numpy.linalg.solve
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    beta = np.linalg.solve(X.T @ X + 0.7 * np.eye(4), X.T @ y)
    np.testing.assert_allclose(Ridge(alpha=0.7, fit_intercept=False).fit(X, y).coef_, beta, rtol=1e-12)


def test_ill_conditioned_auto_falls_back_to_svd():
    # reference: sklearn Ridge(solver="svd") on a near-singular design
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    X = np.column_stack([X, X[:, 0] + 1e-9 * rng.normal(size=50)])
    y = rng.normal(size=50)
    ours = Ridge(alpha=1e-12).fit(X, y)
    assert ours.solver_ == "svd"
    ref = sk.Ridge(alpha=1e-12, solver="svd").fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6)


def test_bad_input():
    X, y = np.ones((4, 2)), np.arange(4.0)
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        Ridge(alpha=-1.0).fit(X, y)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        Ridge(alpha="big").fit(X, y)
    with pytest.raises(ValueError, match="infinity|NaN"):
        Ridge().fit(np.full((4, 2), np.inf), y)
