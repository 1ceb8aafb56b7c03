"""Dropout logistic regression with the Wager, Wang & Liang (2013) quadratic penalty.

References: torch autograd in float64 (the objective and its gradient), the exact
Gaussian-dropout expected loss by quadrature (the quadratic approximation's error is
O(σ⁴)), and scikit-learn's LogisticRegression for rate = 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from curvlab.dropout import DropoutLogisticRegression, quadratic_dropout_penalty
from curvlab.dropout.logistic import expected_logistic_dropout_loss, logistic_objective


def _data(N=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d))
    logits = X @ np.array([1.5, -1.0, 0.5])[:d] + 0.3
    y = (rng.random(N) < 1 / (1 + np.exp(-logits))).astype(float)
    return X, y


def _torch_objective(theta, X, y, s, sigma2):
    beta, b = theta[:-1], theta[-1]
    z = X @ beta + b
    p = torch.sigmoid(z)
    nll = torch.nn.functional.softplus(z) - y * z
    penalty = 0.5 * sigma2 * (s * p * (1 - p)) @ ((X**2) @ beta**2)
    return (s @ nll + penalty) / s.sum()


def test_objective_and_gradient_match_autograd():
    # Reference: torch autograd (float64) of J_q written independently.
    X, y = _data()
    s = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    theta = np.array([0.8, -1.3, 0.4, 0.2])
    value, grad = logistic_objective(theta, X, y, s, 0.7, True)
    theta_t = torch.tensor(theta, requires_grad=True)
    ref = _torch_objective(theta_t, *map(torch.tensor, (X, y, s)), 0.7)
    (g,) = torch.autograd.grad(ref, theta_t)
    np.testing.assert_allclose(value, ref.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, g.numpy(), rtol=1e-10, atol=1e-14)


def test_quadratic_penalty_approximates_exact_expected_loss_to_second_order():
    # Reference: Gauss–Hermite expectation under Gaussian dropout; error must shrink like σ⁴.
    X, y = _data(N=10)
    beta, b = np.array([0.9, -0.6, 0.4]), 0.1
    errors = []
    for sigma2 in (0.01, 0.005):
        exact = expected_logistic_dropout_loss(X, y, beta, sigma2, b) - expected_logistic_dropout_loss(X, y, beta, 0.0, b)
        errors.append(abs(exact - quadratic_dropout_penalty(X, beta, sigma2, b)))
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_rate_zero_is_unpenalized_logistic_regression():
    # Reference: scikit-learn LogisticRegression without penalty.
    X, y = _data(N=200, seed=2)
    ours = DropoutLogisticRegression(rate=0.0).fit(X, y)
    ref = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-12, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_.ravel(), rtol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_[0], rtol=1e-4, atol=1e-6)


def test_marginalized_fit_zeroes_autograd_gradient_and_shrinks():
    # Reference: autograd gradient of J_q at the fitted point; and the rate-0 fit's norm.
    X, y = _data(N=200, seed=3)
    m = DropoutLogisticRegression(rate=0.5).fit(X, y)
    theta = torch.tensor(np.append(m.coef_, m.intercept_), requires_grad=True)
    s = torch.ones(len(y), dtype=torch.float64)
    (g,) = torch.autograd.grad(_torch_objective(theta, torch.tensor(X), torch.tensor(y), s, 1.0), theta)
    assert np.abs(g.numpy()).max() < 1e-6
    plain = DropoutLogisticRegression(rate=0.0).fit(X, y)
    assert np.linalg.norm(m.coef_) < np.linalg.norm(plain.coef_)


def test_labels_and_probabilities():
    # Reference: sigmoid of the decision function, computed with torch.
    X, y = _data()
    labels = np.where(y == 1, "yes", "no")
    m = DropoutLogisticRegression(rate=0.3).fit(X, labels)
    assert list(m.classes_) == ["no", "yes"]
    P = m.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], torch.sigmoid(torch.tensor(m.decision_function(X))).numpy(), rtol=1e-12)
    assert set(m.predict(X)) <= {"no", "yes"}


def test_more_than_two_classes_is_refused():
    X, _ = _data()
    with pytest.raises(ValueError, match="Only binary classification"):
        DropoutLogisticRegression().fit(X, np.arange(len(X)) % 3)
