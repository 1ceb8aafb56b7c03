"""SparseGPT (paper's Algorithm 1) vs the independent blocked OBS and vs brute-force algebra."""

import pytest
import torch

from curvlab.prune import layerwise as lw
from curvlab.prune.baselines import magnitude_layer
from curvlab.prune.sparsegpt import sparsegpt_layer


def _layer(R=6, d=16, N=64, seed=0, dead=False):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    X = X + 0.5 * X[:, :1]
    if dead:
        X[:, 3] = 0                                                       # a dead input
    W = torch.randn(R, d, generator=g, dtype=torch.float64)
    return W, 2 * X.T @ X / N


@pytest.mark.parametrize("pattern", [None, (2, 4), (4, 8)])
def test_sparsegpt_equals_blocked_obs(pattern):
    # two implementations of the same algorithm (float64 both) must agree
    W, H = _layer()
    ref = lw.obs_blocked(W, H, 0.5, pattern, damping=0.01, block_size=8)
    res = sparsegpt_layer(W, H, 0.5, pattern, percdamp=0.01, blocksize=8, dtype=torch.float64)
    assert torch.equal(res.mask, ref.mask)
    torch.testing.assert_close(res.W, ref.W)
    assert res.loss == pytest.approx(ref.loss, rel=1e-9)


def test_sparsegpt_loss_is_the_damped_reconstruction_error():
    W, H = _layer(seed=1, dead=True)
    res = sparsegpt_layer(W, H, 0.6, dtype=torch.float64)
    H_d = H.clone()
    H_d[3, 3] = 1                                                         # the paper's dead-input rule
    H_d += 0.01 * torch.diagonal(H_d).mean() * torch.eye(16, dtype=torch.float64)
    W0 = W.clone()
    W0[:, 3] = 0                                                          # dead input: zeroed first
    assert res.loss == pytest.approx(lw.layer_loss(W0, res.W, H_d), rel=1e-8)
    assert int((~res.mask).sum()) == round(0.6 * 8 * 6) * 2             # two blocks of 6×8


def test_sparsegpt_identity_hessian_is_per_block_magnitude():
    W, _ = _layer(seed=2)
    H = torch.eye(16, dtype=torch.float64)
    res = sparsegpt_layer(W, H, 0.5, blocksize=16, dtype=torch.float64)
    assert torch.equal(res.mask, magnitude_layer(W, 0.5).mask)


def test_sparsegpt_bad_inputs():
    W, H = _layer()
    with pytest.raises(ValueError, match="sparsity"):
        sparsegpt_layer(W, H, 1.5)
    with pytest.raises(ValueError, match="does not divide"):
        sparsegpt_layer(W, H, 0.5, "3:5")
    with pytest.raises(ValueError, match="W must be"):
        sparsegpt_layer(W, H[:4, :4], 0.5)
