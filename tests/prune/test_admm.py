"""The ADMM layer solver against SparseGPT and a direct least-squares solve on its mask."""

import numpy as np
import pytest
import torch

from curvlab.prune import layerwise as lw
from curvlab.prune.admm import admm_layer
from curvlab.prune.sparsegpt import sparsegpt_layer


def _layer(R=24, d=48, N=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64) / d ** 0.5
    X = torch.randn(N, d, generator=g, dtype=torch.float64) @ (torch.eye(d, dtype=torch.float64) + 2 * A)  # correlated
    W = torch.randn(R, d, generator=g, dtype=torch.float64)
    return W, X, 2 * X.T @ X / N


@pytest.mark.parametrize("sparsity, pattern", [(0.5, None), (0.7, None), (0.5, (2, 4))])
def test_admm_beats_sparsegpt_and_is_least_squares_on_its_mask(sparsity, pattern):
    W, X, H = _layer()
    res = admm_layer(W, H, sparsity, pattern, damping=0.01)
    ref = sparsegpt_layer(W, H, sparsity, pattern, percdamp=0.01, dtype=torch.float64)
    # the same sparsity up to rounding (row-wise counts vs SparseGPT's per-block ones); ADMM removes no fewer
    assert 0 <= int(ref.mask.sum() - res.mask.sum()) <= 24
    if pattern is not None:
        assert (res.mask.view(24, -1, 4).sum(-1) == 2).all()
    assert res.loss < ref.loss
    # reference: numpy lstsq per row on the kept columns, with the same damped H as regressors
    H_d, _ = lw.damp(H, 0.01)
    L = np.linalg.cholesky(H_d.numpy())                                           # H_d = L Lᵀ
    for r in range(24):
        keep = res.mask[r].numpy()
        target = L.T @ W[r].numpy()                                               # ‖Lᵀ(w − ŵ)‖² = (w − ŵ)ᵀ H_d (w − ŵ)
        coef, *_ = np.linalg.lstsq(L.T[:, keep], target, rcond=None)
        np.testing.assert_allclose(res.W[r].numpy()[keep], coef, rtol=1e-6, atol=1e-8)
        assert (res.W[r].numpy()[~keep] == 0).all()
    assert res.loss == pytest.approx(lw.layer_loss(W, res.W, H_d), rel=1e-9)


def test_admm_rejects_bad_settings():
    W, _, H = _layer(R=4, d=8)
    with pytest.raises(ValueError, match="iters"):
        admm_layer(W, H, 0.5, iters=0)
    with pytest.raises(ValueError, match="rho0"):
        admm_layer(W, H, 0.5, rho0=-1.0)
    with pytest.raises(ValueError, match="sparsity"):
        admm_layer(W, H, 1.5)
