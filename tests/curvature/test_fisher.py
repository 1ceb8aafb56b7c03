"""Per-sample gradients and the empirical Fisher against a naive loop of autograd.grad (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curvlab.curvature import empirical_fisher, per_sample_grads


def loop_grads(model, loss_fn, X, y):
    rows = []
    for n in range(X.shape[0]):
        loss = loss_fn(model(X[n:n + 1]), y[n:n + 1])
        g = torch.autograd.grad(loss, list(model.parameters()))
        rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows)


@pytest.mark.parametrize("loss_name", ["mse", "ce"])
def test_per_sample_grads_match_loop(regression_problem, loss_name):
    model, X, y = regression_problem
    if loss_name == "ce":
        loss_fn, y = nn.CrossEntropyLoss(), torch.arange(13) % 2
    else:
        loss_fn = nn.MSELoss()
    G_ref = loop_grads(model, loss_fn, X, y)
    G = per_sample_grads(model, loss_fn, [(X[:4], y[:4]), (X[4:], y[4:])], chunk_size=3)
    torch.testing.assert_close(G, G_ref, rtol=0, atol=1e-12)


def test_empirical_fisher_is_mean_outer_product(regression_problem):
    model, X, y = regression_problem
    G_ref = loop_grads(model, nn.MSELoss(), X, y)
    F_ref = sum(torch.outer(g, g) for g in G_ref) / X.shape[0]
    torch.testing.assert_close(empirical_fisher(model, nn.MSELoss(), (X, y)), F_ref, rtol=0, atol=1e-12)


def test_fisher_bad_input(regression_problem):
    model, X, y = regression_problem
    with pytest.raises(ValueError, match="empty"):
        empirical_fisher(model, nn.MSELoss(), (X[:0], y[:0]))
    with pytest.raises(ValueError, match="chunk_size"):
        per_sample_grads(model, nn.MSELoss(), (X, y), chunk_size=0)
