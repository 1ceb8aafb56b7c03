"""The dense Gauss–Newton matrix against matrix-free Gauss–Newton products (float64), and the
Jacobian-free cross-entropy form against the generic Jacobian form."""

import torch
from torch import nn

from curvlab.curvature import HessianOperator
from curvlab.curvature.gauss_newton import cross_entropy_gauss_newton, gauss_newton_matrix


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def test_dense_matrix_times_v_equals_gauss_newton_products():
    model = _mlp(0)
    X, y = torch.randn(40, 5, dtype=torch.float64), torch.randn(40, 3, dtype=torch.float64)
    params = list(model.parameters())
    G = gauss_newton_matrix(model, nn.MSELoss(), X, y, params, chunk=16)               # (P, P)
    op = HessianOperator(model, nn.MSELoss(), (X, y), gauss_newton=True)
    for k in range(3):
        v = torch.randn(G.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(k))
        torch.testing.assert_close(G @ v, op.matvec(v), atol=1e-12, rtol=1e-10)
    assert torch.linalg.eigvalsh(G).min() > -1e-12                                      # PSD


def test_cross_entropy_shortcut_equals_the_jacobian_form():
    model = _mlp(1)
    X, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 3, (30,))
    params = list(model.parameters())
    generic = gauss_newton_matrix(model, nn.CrossEntropyLoss(), X, y, params)
    fast = cross_entropy_gauss_newton(model, nn.CrossEntropyLoss(), X, params)
    torch.testing.assert_close(fast, generic, atol=1e-12, rtol=1e-10)
    diag = cross_entropy_gauss_newton(model, nn.CrossEntropyLoss(), X, params, diagonal_only=True)
    torch.testing.assert_close(diag, torch.diagonal(generic), atol=1e-12, rtol=1e-10)
