"""Quadratic's exact GD / Newton iterates against naive loops and numpy solves."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvlab.optim import Quadratic


def _spd(rng, d, cond=50.0):
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (Q * np.logspace(0, np.log10(cond), d)) @ Q.T


def _naive_gd(H, w_star, w0, eps, steps):
    w = w0.copy()
    out = [w.copy()]
    for _ in range(steps):
        w = w - eps * H @ (w - w_star)   # (34), written out
        out.append(w.copy())
    return np.array(out)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 8), ratio=st.floats(0.05, 0.99), t=st.integers(0, 40))
def test_closed_form_equals_naive_loop(seed, d, ratio, t):
    rng = np.random.default_rng(seed)
    H, w_star, w0 = _spd(rng, d), rng.standard_normal(d), rng.standard_normal(d)
    q = Quadratic(H, w_star)
    eps = ratio * 2 / np.linalg.eigvalsh(H).max()
    naive = _naive_gd(H, w_star, w0, eps, t)
    np.testing.assert_allclose(q.gd_closed_form(w0, eps, t), naive[-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(q.gd_exact(w0, eps, t).iterates, naive, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(q.gradient_descent(w0, eps, t).iterates, naive, rtol=1e-12, atol=1e-14)


def test_notes_form_is_one_step_only():
    rng = np.random.default_rng(3)
    H, w0 = _spd(rng, 5), rng.standard_normal(5)
    q = Quadratic(H)
    eps = 0.5 * q.max_stable_lr
    naive = _naive_gd(H, np.zeros(5), w0, eps, 3)
    np.testing.assert_allclose(q.gd_notes_form(w0, eps), naive[1], rtol=1e-12)
    assert np.linalg.norm(q.gd_notes_form(w0, eps) - naive[3]) > 1e-3


def test_stability_bound_matches_simulation():
    rng = np.random.default_rng(4)
    H, w0 = _spd(rng, 6, cond=10.0), rng.standard_normal(6)
    q = Quadratic(H)
    lam_max = np.linalg.eigvalsh(H).max()
    assert q.max_stable_lr == pytest.approx(2 / lam_max)
    for ratio in (0.9, 0.99, 1.01, 1.1):
        eps = ratio * 2 / lam_max
        traj = q.gradient_descent(w0, eps, 3000)
        shrank = (not traj.diverged) and np.linalg.norm(traj.final) < np.linalg.norm(w0)
        assert shrank == q.converges(eps) == (ratio < 1)


def test_divergence_is_reported_not_nan():
    q = Quadratic(np.diag([1.0, 100.0]))
    traj = q.gradient_descent(np.ones(2), eps=0.05, steps=10_000)   # 0.05 > 2/100
    assert traj.diverged
    assert np.all(np.isfinite(traj.iterates)) and np.all(np.isfinite(traj.losses))
    assert traj.steps < 10_000


def test_optimal_step_rate_is_kappa_formula():
    lam = np.array([1.0, 3.0, 10.0])
    q = Quadratic(np.diag(lam))
    kappa = lam.max() / lam.min()
    assert q.rate(q.optimal_lr) == pytest.approx((kappa - 1) / (kappa + 1))


def test_newton_matches_numpy_solve_and_contracts_by_one_minus_eps():
    rng = np.random.default_rng(5)
    H, w_star, w0 = _spd(rng, 7, cond=1e3), rng.standard_normal(7), rng.standard_normal(7)
    q = Quadratic(H, w_star)
    step = w0 - 0.3 * np.linalg.solve(H, H @ (w0 - w_star))
    traj = q.newton(w0, eps=0.3, steps=4)
    np.testing.assert_allclose(traj.iterates[1], step, rtol=1e-12)
    for t in range(5):                     # (37): ω⁽ᵗ⁾ − ω* = (1 − ε)ᵗ (ω⁽⁰⁾ − ω*)
        np.testing.assert_allclose(traj.iterates[t] - w_star, 0.7**t * (w0 - w_star), atol=1e-12)
    np.testing.assert_allclose(q.newton(w0, eps=1.0).final, w_star, atol=1e-12)


def test_loss_and_grad_against_definition():
    rng = np.random.default_rng(6)
    H, w_star, w = _spd(rng, 4), rng.standard_normal(4), rng.standard_normal(4)
    q = Quadratic(H, w_star)
    assert q.loss(w) == pytest.approx(0.5 * (w - w_star) @ H @ (w - w_star))
    h = 1e-6
    fd = np.array([(q.loss(w + h * e) - q.loss(w - h * e)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(q.grad(w), fd, rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="symmetric"):
        Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        Quadratic(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="square"):
        Quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Quadratic(np.array([[np.nan]]))
    q = Quadratic(np.eye(2))
    with pytest.raises(ValueError, match="eps"):
        q.gradient_descent(np.ones(2), eps=0.0, steps=3)
    with pytest.raises(ValueError, match="length 2"):
        q.gradient_descent(np.ones(3), eps=0.1, steps=3)
    with pytest.raises(ValueError, match="positive definite"):
        Quadratic(np.diag([1.0, 0.0])).newton(np.ones(2))
