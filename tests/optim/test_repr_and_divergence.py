"""Compact trajectory reprs, and divergence reported (not silent) by GD and Newton."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.optim import Quadratic, gradient_descent, newton

F64 = torch.float64


def test_trajectory_repr_is_short_for_a_long_run():
    q = Quadratic(np.diag([1.0, 10.0]))
    traj = q.gradient_descent(np.ones(2), eps=0.05, steps=5000)
    text = repr(traj)
    assert f"{traj.losses[0]:.6g}" in text and f"{traj.losses[-1]:.6g}" in text
    assert "steps=5000" in text and len(text) < 150


def _sqrt_loss(out, y):
    return torch.sqrt(1 + out ** 2).mean()


def test_newton_overshoot_is_reported_as_diverged():
    # L(w) = sqrt(1 + w²): Newton's step from w maps to −w³ (L' = w/L, L'' = 1/L³), so w = 2 → −8
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(2.0)
    with pytest.warns(RuntimeWarning, match="loss rose"):
        traj = newton(model, _sqrt_loss, (torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)),
                      eps=1.0, steps=1, progress=False)
    assert traj.diverged
    assert model.weight.item() == pytest.approx(-8.0)
    assert traj.losses[-1] == pytest.approx(math.sqrt(65.0))


def test_newton_from_inside_converges_without_warning(recwarn):
    # from w = 0.5 the Newton map −w³ contracts to 0, the minimum
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.5)
    traj = newton(model, _sqrt_loss, (torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)),
                  eps=1.0, steps=3, progress=False)
    assert not traj.diverged and abs(model.weight.item()) == pytest.approx(0.5 ** 27)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_quadratic_with_zero_curvature_has_no_step_limit():
    q = Quadratic(np.zeros((3, 3)))
    assert q.max_stable_lr == math.inf and q.optimal_lr == math.inf
    traj = q.gradient_descent(np.ones(3), eps=10.0, steps=5)    # nothing moves
    assert np.array_equal(traj.final, np.ones(3)) and not traj.diverged


def test_gd_failure_restores_the_same_parameters_in_place():
    torch.manual_seed(0)
    X, y = torch.randn(20, 3, dtype=F64), torch.randn(20, 1, dtype=F64)
    model = nn.Linear(3, 1).double()
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    calls = {"n": 0}

    def loss_fn(out, target):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyError("fault")
        return nn.functional.mse_loss(out, target)

    with pytest.raises(KeyError):
        gradient_descent(model, loss_fn, (X, y), eps=0.1, steps=10, progress=False)
    assert all(p is q for p, q in zip(params, model.parameters()))
    assert all(torch.equal(p.detach(), b) for p, b in zip(params, before))
