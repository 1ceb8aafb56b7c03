"""The marginalized dropout objective and its closed form (notes §4, corrected (29)–(30)).

References: exact enumeration of all Bernoulli masks, naive Monte Carlo, torch autograd in
float64, scikit-learn's ``LinearRegression`` and ``Ridge``, and Srivastava et al.'s §9.1
formula written out independently.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, Ridge

from curvlab.dropout import (
    DropoutRegression,
    expected_dropout_gradient,
    expected_dropout_loss,
    fit_marginalized,
    noise_variance,
    notes_expected_gradient,
    rate_from_retain,
    sample_multipliers,
)


def _data(N=40, d=4, seed=0, offset=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d)) * rng.uniform(0.5, 3.0, size=d) + (rng.normal(size=d) if offset else 0)
    y = X @ rng.normal(size=d) + 0.5 * rng.normal(size=N) + 1.3
    return X, y


def _enumerate_bernoulli(d: int, rate: float):
    """Every inverted-dropout mask δ ∈ {0, 1/(1−rate)}^d with its probability."""
    for keep in itertools.product([0, 1], repeat=d):
        keep = np.array(keep, float)
        prob = np.prod(np.where(keep == 1, 1 - rate, rate))
        yield keep / (1 - rate), prob


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_expected_loss_and_gradient_match_exact_enumeration(rate):
    # Reference: E over all 2^d masks of J_D and of its autograd gradient (float64).
    X, y = _data(N=3, d=4, seed=1)
    w = np.array([0.7, -1.4, 0.3, 2.0])
    w_t = torch.tensor(w, requires_grad=True)
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    E_loss, E_grad = 0.0, np.zeros(4)
    for delta, prob in _enumerate_bernoulli(4, rate):
        J_D = torch.sum((y_t - (X_t * torch.tensor(delta)) @ w_t) ** 2)
        (g,) = torch.autograd.grad(J_D, w_t)
        E_loss += prob * J_D.item()
        E_grad += prob * g.numpy()
    sigma2 = noise_variance(rate)
    np.testing.assert_allclose(expected_dropout_loss(X, y, w, sigma2), E_loss, rtol=1e-12)
    np.testing.assert_allclose(expected_dropout_gradient(X, y, w, sigma2), E_grad, rtol=1e-12)
    # the notes' (29), with ω_i², is measurably different for these ω
    assert np.max(np.abs(notes_expected_gradient(X, y, w, sigma2) - E_grad)) > 1.0


def test_expected_gradient_is_autograd_of_expected_loss():
    # Reference: torch autograd of (30, corrected) in float64.
    X, y = _data(N=20, d=5, seed=2)
    w = np.random.default_rng(3).normal(size=5)
    sigma2 = 0.7
    w_t = torch.tensor(w, requires_grad=True)
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    J_R = torch.sum((y_t - X_t @ w_t) ** 2) + sigma2 * torch.sum(w_t**2 * torch.sum(X_t**2, 0))
    (g,) = torch.autograd.grad(J_R, w_t)
    np.testing.assert_allclose(expected_dropout_gradient(X, y, w, sigma2), g.numpy(), rtol=1e-12)


def test_gaussian_expected_loss_matches_naive_monte_carlo():
    # Reference: naive Monte Carlo over Gaussian δ, 99.9 % normal interval.
    X, y = _data(N=5, d=3, seed=4)
    w = np.array([0.5, -1.0, 2.0])
    rate = 0.3
    rng = np.random.default_rng(5)
    R = 40_000
    draws = np.empty(R)
    for r in range(R // 1000):
        delta = sample_multipliers(rng, (1000, 5, 3), rate, "gaussian")  # (R, N, d)
        draws[r * 1000:(r + 1) * 1000] = np.sum((y - np.einsum("rnk,nk,k->rn", delta, X, w)) ** 2, axis=1)
    half = 3.29 * draws.std(ddof=1) / np.sqrt(R)
    assert abs(draws.mean() - expected_dropout_loss(X, y, w, noise_variance(rate))) < half


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_multipliers_have_mean_one_and_variance_sigma2(kind):
    # Reference: the defining moments, E[δ] = 1 and Var[δ] = rate/(1 − rate), by Monte Carlo.
    rate = 0.4
    delta = sample_multipliers(np.random.default_rng(6), (200_000,), rate, kind)
    sigma2 = rate / (1 - rate)
    assert abs(delta.mean() - 1) < 4 * np.sqrt(sigma2 / delta.size)
    assert abs(delta.var() - sigma2) < 0.02
    if kind == "bernoulli":
        assert set(np.unique(delta)) == {0.0, 1 / (1 - rate)}


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rate_zero_is_ordinary_least_squares(fit_intercept):
    # Reference: scikit-learn LinearRegression, with sample weights.
    X, y = _data(N=30, d=4, seed=7)
    s = np.random.default_rng(8).uniform(0.2, 2.0, size=30)
    ours = DropoutRegression(rate=0.0, fit_intercept=fit_intercept).fit(X, y, sample_weight=s)
    ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)


def test_rate_zero_rank_deficient_is_minimum_norm_least_squares():
    # Reference: scikit-learn LinearRegression (minimum-norm lstsq) on duplicated columns.
    X, y = _data(N=25, d=3, seed=9)
    X = np.column_stack([X, X[:, 0]])  # (N, 4), rank 3
    ours = DropoutRegression(rate=0.0).fit(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_marginalized_equals_ridge_on_rescaled_features(rate):
    # Reference: scikit-learn Ridge(alpha=σ²) on x_k / √D_k, D = diag(XᵀSX) of the raw X.
    X, y = _data(N=50, d=5, seed=10)
    s = np.random.default_rng(11).uniform(0.5, 1.5, size=50)
    sigma2 = noise_variance(rate)
    D = np.einsum("n,nk,nk->k", s, X, X)
    ridge = Ridge(alpha=sigma2, solver="cholesky").fit(X / np.sqrt(D), y, sample_weight=s)
    ours = DropoutRegression(rate=rate).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.coef_, ridge.coef_ / np.sqrt(D), rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ridge.intercept_, rtol=1e-9)


def test_marginalized_without_intercept_is_the_closed_form():
    # Reference: w = (XᵀX + σ² diag(XᵀX))⁻¹Xᵀy written out with numpy.linalg.solve.
    X, y = _data(N=30, d=4, seed=12)
    sigma2 = 0.25
    G = X.T @ X
    w_ref = np.linalg.solve(G + sigma2 * np.diag(np.diag(G)), X.T @ y)
    w, b = fit_marginalized(X, y, sigma2, fit_intercept=False)
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)
    assert b == 0.0


def test_marginalized_with_intercept_zeroes_the_autograd_gradient():
    # Reference: autograd (float64) of J_R(ω, b) with an unpenalized, undropped bias.
    X, y = _data(N=40, d=4, seed=13)
    s = np.random.default_rng(14).uniform(0.1, 3.0, size=40)
    sigma2 = 0.6
    w, b = fit_marginalized(X, y, sigma2, sample_weight=s)
    X_t, y_t, s_t = map(torch.tensor, (X, y, s))
    w_t = torch.tensor(w, requires_grad=True)
    b_t = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    J_R = s_t @ (y_t - X_t @ w_t - b_t) ** 2 + sigma2 * torch.sum(w_t**2 * (s_t @ X_t**2))
    g_w, g_b = torch.autograd.grad(J_R, (w_t, b_t))
    scale = float(np.abs(X.T @ (s * y)).max())
    assert np.abs(g_w.numpy()).max() < 1e-9 * scale
    assert abs(g_b.item()) < 1e-9 * scale


def test_integer_weights_equal_repeated_rows():
    # Reference: the same fit on a data set with rows repeated.
    X, y = _data(N=15, d=3, seed=15)
    counts = np.random.default_rng(16).integers(1, 4, size=15)
    a = DropoutRegression(rate=0.4).fit(X, y, sample_weight=counts)
    b = DropoutRegression(rate=0.4).fit(np.repeat(X, counts, 0), np.repeat(y, counts))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


def test_srivastava_retain_probability_convention():
    # Reference: Srivastava et al. 2014 §9.1 — minimize ‖y − pXw‖² + p(1 − p)‖Γw‖²,
    # Γ = diag(XᵀX)^{1/2}, then the inverted-dropout weights are p·w.
    X, y = _data(N=30, d=4, seed=17, offset=False)
    p = 0.8
    G = X.T @ X
    Gamma2 = np.diag(np.diag(G))
    w_sri = np.linalg.solve(p**2 * G + p * (1 - p) * Gamma2, p * X.T @ y)
    ours = DropoutRegression(rate=rate_from_retain(p), fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(ours.coef_, p * w_sri, rtol=1e-10)


def test_kind_does_not_change_the_marginalized_solution():
    # Reference: the bernoulli fit (both kinds share mean and variance of δ).
    X, y = _data(seed=18)
    a = DropoutRegression(rate=0.3, kind="bernoulli").fit(X, y)
    b = DropoutRegression(rate=0.3, kind="gaussian").fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_expected_loss_method_matches_function():
    # Reference: the module-level (30) on the intercept-shifted target.
    X, y = _data(seed=19)
    m = DropoutRegression(rate=0.5).fit(X, y)
    ref = expected_dropout_loss(X, y - m.intercept_, m.coef_, 1.0)  # the notes' sum J_R
    np.testing.assert_allclose(m.expected_loss(X, y), ref / len(y), rtol=1e-12)  # per sample


def test_all_zero_column_gets_zero_weight():
    # Reference: the fit without that column (scikit-learn Ridge on the rescaled live columns).
    X, y = _data(N=30, d=3, seed=20)
    X0 = np.column_stack([X, np.zeros(30)])
    a = DropoutRegression(rate=0.5).fit(X0, y)
    D = np.sum(X**2, 0)
    ridge = Ridge(alpha=1.0, solver="cholesky").fit(X / np.sqrt(D), y)
    np.testing.assert_allclose(a.coef_, np.append(ridge.coef_ / np.sqrt(D), 0.0), rtol=1e-9)
