"""gd_direction_rates: the worst per-direction GD contraction against the closed form max_i |1 − ελ_i|."""

import numpy as np
import pytest

from curvlab.experiments.sec5_network import gd_direction_rates


def _spd(rng, d, cond):
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = np.logspace(-np.log10(cond), 0.0, d)
    return (Q * lam) @ Q.T, lam


@pytest.mark.parametrize("steps", [1, 50, 3000])
def test_worst_rate_matches_closed_form_including_divergent_steps(steps):
    rng = np.random.default_rng(0)
    H, lam = _spd(rng, 8, cond=300.0)
    # from far below ε* to 3 × 2/λ_max: the naive iterates would overflow float64 at T = 3000
    eps = np.linspace(0.05, 3.0, 97) * 2.0 / lam.max()
    rates = gd_direction_rates(H, eps, rng.standard_normal(8), steps)
    closed = np.max(np.abs(1.0 - eps[:, None] * lam[None, :]), axis=1)
    assert rates.shape == (eps.size, 8) and np.all(np.isfinite(rates))
    np.testing.assert_allclose(rates.max(axis=1), closed, rtol=1e-10, atol=1e-12)


def test_each_direction_matches_closed_form_when_none_falls_below_round_off():
    # rates 0.9 … 0.99 over 100 steps: every component stays ≥ 0.9^100 ≈ 3e-5 of the largest
    H = np.diag([0.01, 0.03, 0.06, 0.1])
    e0 = np.array([1.0, -2.0, 0.5, 3.0])
    rates = gd_direction_rates(H, np.array([1.0]), e0, 100)
    np.testing.assert_allclose(rates[0], np.abs(1.0 - np.array([0.01, 0.03, 0.06, 0.1])), rtol=1e-12)


def test_agrees_with_plain_simulation_where_that_does_not_overflow():
    rng = np.random.default_rng(1)
    H, _ = _spd(rng, 5, cond=10.0)
    lam, Q = np.linalg.eigh(H)
    e0 = rng.standard_normal(5)
    eps, T = 1.2 * 2.0 / lam.max(), 40                  # divergent, but only to ~1e10
    e = e0.copy()
    for _ in range(T):
        e = e - eps * H @ e
    plain = np.abs((Q.T @ e) / (Q.T @ e0)) ** (1.0 / T)
    got = gd_direction_rates(H, eps, e0, T)[0]
    assert got.max() == pytest.approx(plain.max(), rel=1e-12)


def test_bad_input_names_the_argument():
    H = np.eye(3)
    with pytest.raises(ValueError, match="H must be"):
        gd_direction_rates(np.ones((3, 2)), 0.1, np.ones(3), 5)
    with pytest.raises(ValueError, match="e0 must"):
        gd_direction_rates(H, 0.1, np.ones(4), 5)
    with pytest.raises(ValueError, match="steps must"):
        gd_direction_rates(H, 0.1, np.ones(3), 0)
    with pytest.raises(ValueError, match="no component"):
        gd_direction_rates(H, 0.1, np.array([1.0, 0.0, 1.0]), 5)
