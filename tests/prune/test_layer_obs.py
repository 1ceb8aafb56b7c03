"""The layer-wise OBS baseline against least squares (numpy.linalg.lstsq): after greedy OBS,
each row's kept weights are the exact refit of the dense row's outputs on the kept inputs."""

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.prune.layer_obs import prune_layerwise_obs


def test_rows_are_least_squares_refits():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 6)).double()
    X = torch.randn(200, 10, dtype=torch.float64)
    W = model[0].weight.detach().clone()
    prune_layerwise_obs(model, 0.5, X, damping=1e-10)
    mask = model[0].weight_mask.bool()
    assert torch.all(mask.sum(1) == 5)
    for i in range(6):
        keep = mask[i].numpy()
        ref, *_ = np.linalg.lstsq(X.numpy()[:, keep], X.numpy() @ W[i].numpy(), rcond=None)
        assert np.allclose(model[0].weight[i].detach().numpy()[keep], ref, atol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="sparsity"):
        prune_layerwise_obs(nn.Sequential(nn.Linear(2, 2)), 1.2, torch.randn(4, 2))
    with pytest.raises(ValueError, match="nothing to prune"):
        prune_layerwise_obs(nn.Sequential(nn.Tanh()), 0.5, torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        prune_layerwise_obs(nn.Sequential(nn.Linear(2, 2)), 0.5, torch.tensor([[float("nan"), 0.0]]))
