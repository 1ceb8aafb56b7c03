"""A small layer-wise OBS baseline (OBC / SparseGPT's objective, exact per row).

For a linear layer with calibration inputs X (N, d_in) the reconstruction loss
‖XWᵀ − XŴᵀ‖²/N separates over output rows and every row has the same Hessian
H = 2XᵀX/N. Each row is pruned by the exact greedy OBS loop of
:func:`curvlab.prune.global_obs.global_obs` (eqs. (7)–(8) with rank-1 downdates) to the
layer's sparsity, layers in order, each seeing the outputs of the already-pruned layers
before it (Frantar et al. 2022; SparseGPT, Frantar & Alistarh 2023, approximates this
loop for speed). The full-featured layer-wise pruner lives in ``curvlab.prune.layerwise``;
this one exists as the §1 baseline on small MLPs.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_in_range, check_positive
from ..curvature.inverse import damped_inverse
from .global_obs import global_obs
from .masks import apply_mask, restore_on_error

__all__ = ["prune_layerwise_obs"]


@torch.no_grad()
def prune_layerwise_obs(model: nn.Sequential, sparsity: float, X: torch.Tensor, *,
                        damping: float = 0.01) -> nn.Sequential:
    """Prune every ``nn.Linear`` of a sequential ``model`` row by row with its layer Hessian.

    Parameters
    ----------
    model : an ``nn.Sequential`` of ``nn.Linear`` and elementwise layers; modified in place.
    sparsity : fraction of each row's weights removed, in [0, 1).
    X : (N, d_in) calibration inputs.
    damping : relative damping: H + damping·mean(diag H)·I (dead inputs get it too).
    """
    sparsity = check_in_range(sparsity, "sparsity", 0.0, 1.0)
    damping = check_positive(damping, "damping")
    if not isinstance(model, nn.Sequential):
        raise TypeError("model must be an nn.Sequential (layers applied in order).")
    if not any(isinstance(m, nn.Linear) for m in model):
        raise ValueError("the model has nothing to prune (no nn.Linear layer).")
    if not torch.isfinite(X).all():
        raise ValueError("the calibration data X contains NaN or infinity.")
    dtype = next(model.parameters()).dtype
    with restore_on_error(model):
        h = X.to(torch.float64)
        for layer in model:
            if isinstance(layer, nn.Linear):
                H = 2.0 * h.T @ h / h.shape[0]                                           # (d_in, d_in)
                H_inv = damped_inverse(H, damping * float(torch.diagonal(H).mean()) + 1e-12)
                W = layer.weight.detach().to(torch.float64)                              # (d_out, d_in)
                n_row = int(round(sparsity * W.shape[1]))
                W_new, keep = W.clone(), torch.ones_like(W, dtype=torch.bool)
                if n_row > 0:
                    for i in range(W.shape[0]):
                        row = global_obs(W[i], H_inv, n_row, progress=False)
                        W_new[i], keep[i] = row.w, row.mask
                apply_mask(layer, keep.to(layer.weight.dtype), W_new.to(layer.weight.dtype))
            h = layer(h.to(dtype)).to(torch.float64)
    return model
