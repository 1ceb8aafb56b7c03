"""Sampled dropout training converges to the marginalized solution.

References: the closed form (itself checked against scikit-learn in test_marginalized),
and for the logistic loss the minimizer of the exact Gaussian-dropout expected loss
computed by Gauss–Hermite quadrature (checked against naive Monte Carlo below).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from curvlab.dropout import DropoutRegression, fit_sampled, sample_multipliers
from curvlab.dropout.logistic import expected_logistic_dropout_loss


def _data(N=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d)) + 0.5
    y = X @ np.array([1.0, -2.0, 0.5])[:d] + 0.3 * rng.normal(size=N) + 1.0
    return X, y


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_sampled_sgd_converges_to_marginalized(kind):
    # Reference: the marginalized closed form of the same expected loss.
    X, y = _data()
    exact = DropoutRegression(rate=0.5).fit(X, y)
    sgd = DropoutRegression(rate=0.5, kind=kind, solver="sampled", max_iter=2000, seed=1).fit(X, y)
    rel = np.linalg.norm(sgd.coef_ - exact.coef_) / np.linalg.norm(exact.coef_)
    assert rel < 0.02
    assert abs(sgd.intercept_ - exact.intercept_) < 0.05 * (1 + abs(exact.intercept_))
    assert sgd.loss_history_.shape == (2000,)
    # the per-epoch sampled loss settles near the expected loss per example at the optimum
    assert sgd.loss_history_[-50:].mean() == pytest.approx(exact.expected_loss(X, y), rel=0.1)


def test_sampled_weights_converge_to_weighted_marginalized():
    # Reference: the weighted closed form.
    X, y = _data(seed=3)
    s = np.random.default_rng(4).uniform(0.2, 2.0, size=len(y))
    exact = DropoutRegression(rate=0.3).fit(X, y, sample_weight=s)
    sgd = DropoutRegression(rate=0.3, solver="sampled", max_iter=2000).fit(X, y, sample_weight=s)
    assert np.linalg.norm(sgd.coef_ - exact.coef_) / np.linalg.norm(exact.coef_) < 0.03


def test_same_seed_same_numbers_and_other_seed_differs():
    # Reference: a second run with the same seed (determinism contract).
    X, y = _data()
    a = DropoutRegression(solver="sampled", max_iter=5, seed=7).fit(X, y)
    b = DropoutRegression(solver="sampled", max_iter=5, seed=7).fit(X, y)
    c = DropoutRegression(solver="sampled", max_iter=5, seed=8).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert not np.array_equal(a.coef_, c.coef_)


def test_history_records_each_epoch():
    # Reference: the final coefficients and a fresh run of fewer epochs (the prefix).
    X, y = _data()
    long = fit_sampled(X, y, 0.2, epochs=6, seed=2, average=False)
    short = fit_sampled(X, y, 0.2, epochs=3, seed=2, average=False)
    assert long.coef_history.shape == (7, 3)
    np.testing.assert_array_equal(long.coef_history[-1], long.coef)
    np.testing.assert_array_equal(long.coef_history[:4], short.coef_history)


def test_gauss_hermite_expected_logistic_loss_matches_monte_carlo():
    # Reference: naive Monte Carlo over Gaussian δ (99.9 % interval).
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4, 3))
    y = np.array([0.0, 1.0, 1.0, 0.0])
    beta, b, rate = np.array([1.5, -2.0, 0.7]), 0.3, 0.5
    delta = sample_multipliers(rng, (50_000, 4, 3), rate, "gaussian")  # (R, N, d)
    z = np.einsum("rnk,nk,k->rn", delta, X, beta) + b
    draws = np.sum(np.logaddexp(0, z) - y * z, axis=1)
    half = 3.29 * draws.std(ddof=1) / np.sqrt(draws.size)
    exact = expected_logistic_dropout_loss(X, y, beta, rate / (1 - rate), b)
    assert abs(draws.mean() - exact) < half


def test_sampled_logistic_converges_to_exact_expected_loss_minimizer():
    # Reference: scipy minimization of the Gauss–Hermite expected loss (Gaussian dropout).
    from curvlab.dropout import DropoutLogisticRegression

    rng = np.random.default_rng(6)
    X = rng.normal(size=(150, 3))
    y = (rng.random(150) < 1 / (1 + np.exp(-(X @ np.array([2.0, -1.0, 0.5]) + 0.2)))).astype(float)
    rate = 0.5

    def objective(theta):
        return expected_logistic_dropout_loss(X, y, theta[:3], 1.0, theta[3]) / len(y)

    ref = scipy.optimize.minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-9}).x
    sgd = DropoutLogisticRegression(rate=rate, kind="gaussian", solver="sampled", max_iter=400,
                                    seed=0).fit(X, y)
    rel = np.linalg.norm(sgd.coef_ - ref[:3]) / np.linalg.norm(ref[:3])
    assert rel < 0.05
    # the quadratic approximation (Wager et al.) lands near the same point
    marg = DropoutLogisticRegression(rate=rate).fit(X, y)
    assert np.linalg.norm(marg.coef_ - ref[:3]) / np.linalg.norm(ref[:3]) < 0.1


def test_callback_stops_early_and_replays():
    # Reference: an uninterrupted run with the same seed (its prefix).
    X, y = _data()
    full = fit_sampled(X, y, 0.3, epochs=8, seed=4)
    stopped = fit_sampled(X, y, 0.3, epochs=8, seed=4, callback=lambda e, w, b: e == 3)
    assert stopped.loss_history.shape == (3,)
    np.testing.assert_array_equal(stopped.coef_history, full.coef_history[:4])
    np.testing.assert_array_equal(stopped.coef, full.coef_history[3])


# ---------------------------------------------------------------- nothing silent (issue #15)
def test_slow_divergence_raises_instead_of_returning_huge_weights():
    # Reference: the loss at the start. A logistic SGD with a huge step keeps finite (1e30+)
    # weights — the old non-finite check let them through; the loss check does not.
    from curvlab.dropout import DropoutLogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    for max_iter in (1, 3, 20):
        with pytest.raises(FloatingPointError, match="diverged.*pass a smaller lr"):
            DropoutLogisticRegression(solver="sampled", lr=1e32, lr_schedule="constant",
                                      max_iter=max_iter).fit(X, y)
    with pytest.raises(FloatingPointError, match="lr"):
        DropoutRegression(solver="sampled", lr=5.0, lr_schedule="constant").fit(*_data())


def test_stopping_far_from_the_limit_warns_like_sklearn_sgd():
    # Reference: the closed form (the exact limit of the squared-loss SGD).
    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=200.*% \(relative\) from the limit"):
        DropoutRegression(solver="sampled").fit(X, y)


def test_converged_sampled_fit_is_quiet():
    # Reference: the closed form; the warning fires only when the gap exceeds SAMPLED_RTOL.
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = fit_sampled(X, y, 0.5, epochs=2000, seed=1)
    assert res.converged is True


def test_logistic_convergence_check_uses_the_expected_gradient():
    # Reference: a Monte Carlo estimate of E[∇J] that a few epochs leave large.
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4)) * 3
    y = (X @ [1.0, -1.0, 0.5, 0.0] + rng.normal(size=200) > 0).astype(float)
    with pytest.warns(ConvergenceWarning, match="expected gradient"):
        res = fit_sampled(X, y, 0.3, loss="logistic", epochs=1, lr=1e-4, lr_schedule="constant")
    assert res.converged is False
