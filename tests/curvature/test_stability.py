"""max_stable_lr and SharpnessTracker against the explicit Hessian (float64 autograd)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.curvature.stability import SharpnessTracker, max_stable_lr

from .conftest import mlp, mlp_loss_of_theta


def test_max_stable_lr_is_two_over_lam_max(regression_problem):
    model, X, y = regression_problem
    L, theta0 = mlp_loss_of_theta(model, X, y)
    lam_max = np.linalg.eigvalsh(torch.autograd.functional.hessian(L, theta0, vectorize=True).numpy())[-1]
    res = max_stable_lr(model, nn.MSELoss(), (X, y), tol=1e-8)
    assert res.lr == pytest.approx(2 / lam_max, rel=1e-7)
    lo, hi = res.lr_interval
    assert lo <= 2 / lam_max * (1 + 1e-12) and 2 / lam_max <= hi * (1 + 1e-12)
    assert res.converged and res.num_matvecs <= 26


def test_tracker_follows_training(regression_problem):
    model, X, y = regression_problem
    tracker = SharpnessTracker(nn.MSELoss(), (X, y), every=2, tol=1e-9)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(4):
        tracker(model, step)
        opt.zero_grad()
        nn.MSELoss()(model(X), y).backward()
        opt.step()
    L, theta = mlp_loss_of_theta(model, X, y)  # the weights after 4 steps
    assert tracker.steps == [0, 2]
    tracker(model, 4)
    lam = np.linalg.eigvalsh(torch.autograd.functional.hessian(L, theta, vectorize=True).numpy())[-1]
    assert tracker.sharpness[-1] == pytest.approx(lam, rel=1e-7)


def test_stability_bad_input(regression_problem):
    model, X, y = regression_problem
    with pytest.raises(ValueError, match="tol"):
        max_stable_lr(model, nn.MSELoss(), (X, y), tol=0)
    with pytest.raises(ValueError, match="every"):
        SharpnessTracker(nn.MSELoss(), (X, y), every=0)
