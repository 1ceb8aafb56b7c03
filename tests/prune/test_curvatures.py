"""Model curvatures against autograd references in float64 (torch.autograd.functional)."""

import pytest
import torch
from torch import nn
from torch.autograd.functional import hessian, jacobian

from curvlab.prune.curvatures import curvature_matrix, gauss_newton_matrix, inverse_for


def _setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    X = torch.randn(20, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    return model, X, y, list(model.parameters())


def _reference_gn(model, X, y, params):
    """G = (1/N) Σ Jₙᵀ Λₙ Jₙ with J and Λ from torch.autograd.functional (a naive loop)."""
    shapes = [p.shape for p in params]
    theta = torch.cat([p.detach().reshape(-1) for p in params])

    def f(th, x):
        out, start = x, 0
        ws = []
        for s in shapes:
            n = int(torch.tensor(s).prod())
            ws.append(th[start:start + n].view(s))
            start += n
        out = torch.tanh(out @ ws[0].T + ws[1])
        return out @ ws[2].T + ws[3]

    G = torch.zeros(theta.numel(), theta.numel(), dtype=torch.float64)
    for x, t in zip(X, y):
        J = jacobian(lambda th: f(th, x.unsqueeze(0)).squeeze(0), theta)                    # (C, P)
        z = f(theta, x.unsqueeze(0)).squeeze(0)
        Lam = hessian(lambda zz: nn.functional.cross_entropy(zz.unsqueeze(0), t.unsqueeze(0)), z)
        G += J.T @ Lam @ J
    return G / X.shape[0]


def test_gauss_newton_matches_naive_autograd():
    model, X, y, params = _setup()
    ref = _reference_gn(model, X, y, params)
    fast = curvature_matrix("gauss_newton", model, nn.CrossEntropyLoss(), X, y, params)   # per-label form
    generic = gauss_newton_matrix(model, nn.CrossEntropyLoss(), X, y, params)             # Jacobian form
    assert torch.allclose(fast, ref, atol=1e-12) and torch.allclose(generic, ref, atol=1e-12)
    diag = curvature_matrix("obd", model, nn.CrossEntropyLoss(), X, y, params)
    assert torch.allclose(diag, torch.diagonal(ref), atol=1e-12)


def test_abs_hessian_and_fisher():
    model, X, y, params = _setup()
    H = curvature_matrix("hessian", model, nn.CrossEntropyLoss(), X, y, params)
    A = curvature_matrix("abs_hessian", model, nn.CrossEntropyLoss(), X, y, params)
    lam = torch.linalg.eigvalsh(H)
    assert torch.allclose(torch.linalg.eigvalsh(A), lam.abs().sort().values, atol=1e-10)
    G = curvature_matrix("fisher", model, nn.CrossEntropyLoss(), X, y, params)            # (N, P)
    F_inv = inverse_for("fisher", G, G.shape[1], 0.1)
    F = G.T @ G / G.shape[0]
    F = F + 0.1 * torch.diagonal(F).mean() * torch.eye(F.shape[0], dtype=torch.float64)
    assert torch.allclose(F_inv @ F, torch.eye(F.shape[0], dtype=torch.float64), atol=1e-8)


def test_indefinite_hessian_message_is_relative():
    model, X, y, params = _setup()
    H = curvature_matrix("hessian", model, nn.CrossEntropyLoss(), X, y, params)
    if torch.linalg.eigvalsh(H)[0] >= 0:
        pytest.skip("this Hessian happens to be PSD")
    with pytest.raises(ValueError, match="relative damping >"):
        inverse_for("hessian", H, H.shape[0], 0.0)
