"""§2.2 least-squares theory against naive references (explicit inverses, scikit-learn)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from curvlab.linear.theory import expected_training_error, hat_matrix, residual_trace, training_error


def test_expected_training_error_formula():
    # (N − d)/N σ², written out by hand for a few cases
    assert expected_training_error(10, 3, 2.0) == pytest.approx(7 / 10 * 2.0)
    assert expected_training_error(5, 5, 1.0) == 0.0
    assert expected_training_error(7, 0, 3.0) == pytest.approx(3.0)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(3, 30), frac=st.floats(0.1, 0.9), seed=st.integers(0, 2**31 - 1))
def test_hat_matrix_matches_explicit_inverse_and_is_idempotent(N, frac, seed):
    d = max(1, int(frac * N))
    X = np.random.default_rng(seed).standard_normal((N, d))
    A = hat_matrix(X)
    naive = X @ np.linalg.inv(X.T @ X) @ X.T          # the notes' A, formed literally
    np.testing.assert_allclose(A, naive, atol=1e-8)
    np.testing.assert_allclose(A @ A, A, atol=1e-10)  # idempotent (12)
    assert residual_trace(X) == pytest.approx(N - d, abs=1e-9)


def test_residual_trace_on_ill_conditioned_design():
    X = np.vander(np.linspace(0, 1, 40), 10, increasing=True)  # cond ~ 1e7
    assert residual_trace(X) == pytest.approx(30, abs=1e-8)


def test_training_error_matches_sklearn_residuals():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 7))
    y = X @ rng.standard_normal(7) + rng.standard_normal(60)
    resid = y - LinearRegression(fit_intercept=False).fit(X, y).predict(X)
    assert training_error(X, y) == pytest.approx(np.mean(resid**2), rel=1e-10)


def test_expected_value_integrates_exactly_over_noise():
    """E over ε of ‖(I − A)ε‖²/N equals σ² tr(I − A)/N: check with the exact covariance form."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((25, 6))
    sigma2 = 1.7
    B = np.eye(25) - X @ np.linalg.solve(X.T @ X, X.T)
    exact = sigma2 * np.trace(B.T @ B) / 25             # E[εᵀBᵀBε]/N = tr(BᵀB Σ)/N
    assert expected_training_error(25, 6, sigma2) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"N": 3, "d": 5, "sigma2": 1.0}, "d must be <= N"),
    ({"N": 0, "d": 0, "sigma2": 1.0}, "N must be >= 1"),
    ({"N": 5, "d": 2, "sigma2": -1.0}, "sigma2"),
])
def test_expected_training_error_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_training_error(**kwargs)


def test_hat_matrix_bad_input():
    with pytest.raises(ValueError, match="rank 1 < 2"):
        hat_matrix(np.column_stack([np.ones(5), 2 * np.ones(5)]))
    with pytest.raises(ValueError, match="NaN"):
        hat_matrix(np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="at least as many rows"):
        hat_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="one entry per row"):
        training_error(np.ones((4, 1)), np.ones(3))
