"""GD and damped Newton on torch objectives against the exact quadratic iterates.

A linear model under mean squared error has L(θ) = ½ (θ − θ*)ᵀH(θ − θ*) + const with
H = (2/N) X̃ᵀX̃ (X̃ = [X 1]) and θ* the least-squares solution (numpy.linalg.lstsq): its GD
and Newton iterates are known exactly (``Quadratic``, eqs. (34)–(37)).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.curvature.stability import SharpnessTracker
from curvlab.optim import Quadratic, gradient_descent, newton
from curvlab.optim.network import conjugate_gradient


@pytest.fixture
def linear_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)[:, None] + 0.1 * torch.randn(
        30, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    model = nn.Linear(4, 1).double()
    Xt = np.hstack([X.numpy(), np.ones((30, 1))])  # θ = (weight, bias) in flatten order
    H = 2.0 / 30 * Xt.T @ Xt
    theta_star = np.linalg.lstsq(Xt, y.numpy()[:, 0], rcond=None)[0]
    return model, X, y, Quadratic(H, theta_star)


def theta_of(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def test_gd_matches_quadratic_iterates(linear_problem):
    model, X, y, quad = linear_problem
    w0 = theta_of(model)
    eps = 0.9 * quad.max_stable_lr
    traj = gradient_descent(model, nn.MSELoss(), (X, y), eps=eps, steps=40)
    ref = quad.gradient_descent(w0, eps=eps, steps=40)
    np.testing.assert_allclose(traj.iterates, ref.iterates, atol=1e-10)
    # the losses differ from the quadratic's by the constant L(θ*)
    np.testing.assert_allclose(traj.losses - traj.losses[-1], ref.losses - ref.losses[-1], atol=1e-10)
    np.testing.assert_allclose(theta_of(model), traj.final)  # the model holds the last iterate
    assert not traj.diverged and traj.steps == 40


def test_gd_divergence_is_reported_not_nan(linear_problem):
    model, X, y, quad = linear_problem
    with pytest.warns(RuntimeWarning, match="diverged"):
        traj = gradient_descent(model, nn.MSELoss(), (X, y), eps=1.2 * quad.max_stable_lr, steps=2000)
    assert traj.diverged and traj.steps < 2000
    assert np.all(np.isfinite(traj.iterates)) and np.all(np.isfinite(traj.losses))
    assert np.all(np.isfinite(theta_of(model)))
    np.testing.assert_allclose(theta_of(model), traj.final)


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_newton_one_step_and_damped_rate(linear_problem, solver):
    model, X, y, quad = linear_problem
    w0 = theta_of(model)
    traj = newton(model, nn.MSELoss(), (X, y), eps=1.0, steps=1, solver=solver, cg_tol=1e-13)
    np.testing.assert_allclose(traj.final, quad.w_star, atol=1e-9)  # one step to θ*
    with torch.no_grad():
        for p, v in zip(model.parameters(), [w0[:4].reshape(1, 4), w0[4:]]):
            p.copy_(torch.from_numpy(v))
    eps = 0.3
    traj = newton(model, nn.MSELoss(), (X, y), eps=eps, steps=5, solver=solver, cg_tol=1e-13)
    ref = quad.newton(w0, eps=eps, steps=5)  # θ* + (1 − ε)ᵗ(θ⁽⁰⁾ − θ*)
    np.testing.assert_allclose(traj.iterates, ref.iterates, atol=1e-9)
    if solver == "cg":
        assert 0 < traj.num_matvecs <= 5 * 5  # CG on a 5×5 system: ≤ 5 products a step


def test_newton_on_mlp_matches_explicit_solve():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(25, 3, generator=g, dtype=torch.float64), torch.randn(25, 1, generator=g, dtype=torch.float64)
    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def L(theta):  # the same loss by hand, the autograd reference
        W1, b1, W2, b2 = theta[:12].reshape(4, 3), theta[12:16], theta[16:20].reshape(1, 4), theta[20:]
        return ((torch.tanh(X @ W1.T + b1) @ W2.T + b2 - y) ** 2).mean()

    H = torch.autograd.functional.hessian(L, theta0)
    grad = torch.autograd.functional.jacobian(L, theta0)
    mu = 1.0 - min(0.0, float(torch.linalg.eigvalsh(H)[0]))  # enough damping for H + μI ≻ 0
    expected = theta0 - 0.5 * torch.linalg.solve(H + mu * torch.eye(21, dtype=torch.float64), grad)
    for solver in ("dense", "cg"):
        with torch.no_grad():
            for p, v in zip(model.parameters(), [theta0[:12].reshape(4, 3), theta0[12:16],
                                                 theta0[16:20].reshape(1, 4), theta0[20:]]):
                p.copy_(v)
        traj = newton(model, nn.MSELoss(), (X, y), eps=0.5, steps=1, damping=mu, solver=solver, cg_tol=1e-13)
        np.testing.assert_allclose(traj.final, expected.numpy(), atol=1e-9)


def test_conjugate_gradient_stops_at_negative_curvature():
    A = torch.diag(torch.tensor([2.0, -1.0], dtype=torch.float64))
    b = torch.tensor([1.0, 1.0], dtype=torch.float64)
    x, n, negative = conjugate_gradient(lambda v: A @ v, b)
    assert negative and float(b @ x) > 0  # −x is still a descent direction


def test_tracker_records_sharpness(linear_problem):
    model, X, y, quad = linear_problem
    tracker = SharpnessTracker(nn.MSELoss(), (X, y), every=5, tol=1e-10)
    traj = gradient_descent(model, nn.MSELoss(), (X, y), eps=0.5 * quad.max_stable_lr, steps=10, tracker=tracker)
    assert traj.sharpness_steps == (0, 5)
    np.testing.assert_allclose(traj.sharpness, quad.lam_max, rtol=1e-8)  # constant H


def test_bad_input(linear_problem):
    model, X, y, _ = linear_problem
    before = theta_of(model)
    with pytest.raises(ValueError, match="eps"):
        gradient_descent(model, nn.MSELoss(), (X, y), eps=0.0, steps=3)
    with pytest.raises(ValueError, match="eps"):
        newton(model, nn.MSELoss(), (X, y), eps=-1.0)
    with pytest.raises(ValueError, match="solver"):
        newton(model, nn.MSELoss(), (X, y), solver="lu")
    with pytest.raises(ValueError, match="damping"):
        newton(model, nn.MSELoss(), (X, y), damping=-1.0)
    np.testing.assert_array_equal(theta_of(model), before)  # failures leave the model unchanged


def test_indefinite_dense_newton_raises_and_restores():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    torch.manual_seed(3)
    X, y = torch.randn(10, 2, dtype=torch.float64), 5 * torch.randn(10, 1, dtype=torch.float64)
    before = theta_of(model)
    try:
        newton(model, nn.MSELoss(), (X, y), steps=3, solver="dense")
    except ValueError as exc:
        assert "positive definite" in str(exc)
        np.testing.assert_array_equal(theta_of(model), before)
