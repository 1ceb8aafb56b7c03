"""Shared tiny models and an independent autograd reference for the curvature tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn



@pytest.fixture(autouse=True)
def float64_default():
    """float64 for the duration of each curvature test only (restored after)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def mlp(d_in: int = 3, hidden: int = 4, d_out: int = 2, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out)).double()


def mlp_loss_of_theta(model: nn.Sequential, X, y, loss="mse"):
    """L(θ) written by hand for ``mlp`` (no functional_call): the independent reference."""
    l1, l2 = model[0], model[2]
    shapes = [l1.weight.shape, l1.bias.shape, l2.weight.shape, l2.bias.shape]

    def L(theta):
        parts, s = [], 0
        for sh in shapes:
            k = sh.numel()
            parts.append(theta[s:s + k].reshape(sh))
            s += k
        W1, b1, W2, b2 = parts
        out = torch.tanh(X @ W1.T + b1) @ W2.T + b2
        if loss == "mse":
            return ((out - y) ** 2).mean()
        return torch.nn.functional.cross_entropy(out, y)

    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return L, theta0


@pytest.fixture
def regression_problem():
    model = mlp()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(13, 3, generator=g)
    y = torch.randn(13, 2, generator=g)
    return model, X, y
