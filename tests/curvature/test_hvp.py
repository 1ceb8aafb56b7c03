"""Hessian-vector products, dense Hessians and the Gauss–Newton product against autograd (float64).

Reference: ``torch.autograd.functional.hessian`` / ``jacobian`` of the loss written by hand
as a function of the flat parameter vector (see conftest), not through ``functional_call``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from curvlab.curvature import HessianOperator, dense_hessian, flatten, unflatten
from curvlab.curvature.hvp import METHODS

from .conftest import mlp_loss_of_theta


def reference_hessian(model, X, y, loss="mse"):
    L, theta0 = mlp_loss_of_theta(model, X, y, loss)
    return torch.autograd.functional.hessian(L, theta0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cache", [True, False])
def test_hvp_equals_explicit_hessian_times_v(regression_problem, method, cache):
    model, X, y = regression_problem
    H_ref = reference_hessian(model, X, y)
    # a hand-written mean squared error: nn.MSELoss has no forward-over-reverse derivative in torch 2.13
    H = HessianOperator(model, lambda out, t: ((out - t) ** 2).mean(), (X, y), method=method, cache=cache)
    assert H.dim == H_ref.shape[0] and H.dtype == torch.float64
    for seed in range(3):
        v = torch.randn(H.dim, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(H.matvec(v), H_ref @ v, rtol=0, atol=1e-10)
    assert H.num_matvecs == 3


def test_hvp_cross_entropy_and_matmul(regression_problem):
    model, X, _ = regression_problem
    labels = torch.tensor([0, 1] * 6 + [1])
    H_ref = reference_hessian(model, X, labels, loss="ce")
    H = HessianOperator(model, nn.CrossEntropyLoss(), (X, labels))
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(H @ v, H_ref @ v, rtol=0, atol=1e-10)


def test_dataloader_batches_are_weighted_by_size(regression_problem):
    model, X, y = regression_problem
    H_ref = reference_hessian(model, X, y)  # the full-data mean loss
    loader = DataLoader(TensorDataset(X, y), batch_size=5)  # batches of 5, 5, 3
    H = HessianOperator(model, nn.MSELoss(), loader)
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(H.matvec(v), H_ref @ v, rtol=0, atol=1e-10)
    assert not H.cache  # several batches: not cached by default


def test_cache_follows_parameter_updates(regression_problem):
    model, X, y = regression_problem
    H = HessianOperator(model, nn.MSELoss(), (X, y), cache=True)
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(4))
    H.matvec(v)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3)  # what optimizer.step() does: in place
    torch.testing.assert_close(H.matvec(v), reference_hessian(model, X, y) @ v, rtol=0, atol=1e-10)


def test_params_subset_is_the_matching_block(regression_problem):
    model, X, y = regression_problem
    H_ref = reference_hessian(model, X, y)
    last = [model[2].weight, model[2].bias]  # the last 2·4 + 2 = 10 entries of θ
    H = HessianOperator(model, nn.MSELoss(), (X, y), params=last)
    assert H.dim == 10
    v = torch.randn(10, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(H.matvec(v), H_ref[-10:, -10:] @ v, rtol=0, atol=1e-10)


def test_dense_hessian_matches_autograd(regression_problem):
    model, X, y = regression_problem
    H_ref = reference_hessian(model, X, y)
    H = dense_hessian(model, nn.MSELoss(), [(X[:6], y[:6]), (X[6:], y[6:])], chunk_size=7)
    torch.testing.assert_close(H, H_ref, rtol=0, atol=1e-10)
    assert torch.equal(H, H.T)


def test_gauss_newton_equals_JT_Hz_J(regression_problem):
    model, X, y = regression_problem
    _, theta0 = mlp_loss_of_theta(model, X, y)

    def outputs(theta):  # z(θ) flattened, (N·2,)
        W1, b1, W2, b2 = unflatten(theta, list(model.parameters()))
        return (torch.tanh(X @ W1.T + b1) @ W2.T + b2).reshape(-1)

    J = torch.autograd.functional.jacobian(outputs, theta0)  # (N·2, P)
    H_z = 2.0 / y.numel() * torch.eye(y.numel())  # ∇²_z of mean squared error
    G_ref = J.T @ H_z @ J
    G = HessianOperator(model, nn.MSELoss(), (X, y), gauss_newton=True)
    v = torch.randn(G.dim, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(G.matvec(v), G_ref @ v, rtol=0, atol=1e-10)


def test_mode_is_left_as_the_caller_set_it(regression_problem):
    _, X, y = regression_problem
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)).double()
    model.train()
    HessianOperator(model, nn.MSELoss(), (X, y)).matvec(torch.ones(26))
    assert model.training and model[1].training
    model.eval()
    HessianOperator(model, nn.MSELoss(), (X, y)).matvec(torch.ones(26))
    assert not model.training


def test_flatten_unflatten_round_trip(regression_problem):
    model, _, _ = regression_problem
    params = list(model.parameters())
    theta = flatten(params)
    for a, b in zip(unflatten(theta, params), params):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------- bad input
def test_no_trainable_parameters(regression_problem):
    model, X, y = regression_problem
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        HessianOperator(model, nn.MSELoss(), (X, y))


def test_empty_data(regression_problem):
    model, X, y = regression_problem
    with pytest.raises(ValueError, match="empty"):
        HessianOperator(model, nn.MSELoss(), (X[:0], y[:0]))
    with pytest.raises(ValueError, match="empty"):
        HessianOperator(model, nn.MSELoss(), [])


def test_non_scalar_loss(regression_problem):
    model, X, y = regression_problem
    with pytest.raises(ValueError, match="scalar"):
        HessianOperator(model, nn.MSELoss(reduction="none"), (X, y))


def test_bad_vector_and_params(regression_problem):
    model, X, y = regression_problem
    H = HessianOperator(model, nn.MSELoss(), (X, y))
    with pytest.raises(ValueError, match=r"shape \(26,\)"):
        H.matvec(torch.ones(5))
    with pytest.raises(ValueError, match="not a parameter of model"):
        HessianOperator(model, nn.MSELoss(), (X, y), params=[torch.ones(3)])
    with pytest.raises(TypeError, match="data must be"):
        HessianOperator(model, nn.MSELoss(), X)
    with pytest.raises(ValueError, match="method"):
        HessianOperator(model, nn.MSELoss(), (X, y), method="finite-differences")
