"""A small layer-wise OBS baseline (OBC / SparseGPT's objective, exact per row).

For a linear layer with calibration inputs X (N, d_in) the reconstruction loss
‖XWᵀ − XŴᵀ‖²/N separates over output rows and every row has the same Hessian
H = 2XᵀX/N. Each row is pruned by the exact greedy OBS loop of
:func:`curvlab.prune.layerwise.obs_exact` (OBC: eqs. (7)–(8) with rank-1 downdates of the
row's own H⁻¹) to the layer's sparsity, layers in order, each seeing the outputs of the
already-pruned layers before it (Frantar et al. 2022; SparseGPT, Frantar & Alistarh 2023,
approximates this loop for speed). This module only walks an ``nn.Sequential``; the
transformer driver is :func:`curvlab.prune.driver.prune_model`. It is the §1 baseline on
small MLPs.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_in_range, check_positive
from .layerwise import obs_exact
from .masks import apply_mask, restore_on_error

__all__ = ["prune_layerwise_obs"]


@torch.no_grad()
def prune_layerwise_obs(model: nn.Sequential, sparsity: float, X: torch.Tensor, *,
                        damping: float = 0.01) -> nn.Sequential:
    """Prune every ``nn.Linear`` of a sequential ``model`` in place, row by row with its layer Hessian.

    Parameters
    ----------
    model : an ``nn.Sequential`` of ``nn.Linear`` and elementwise layers; modified in place.
    sparsity : fraction of each row's weights removed, in [0, 1).
    X : (N, d_in) calibration inputs.
    damping : relative damping: H + damping·mean(diag H)·I; inputs that never fire on X are
        dead and their weights are removed first (they cost nothing).
    """
    sparsity = check_in_range(sparsity, "sparsity", 0.0, 1.0)
    damping = check_positive(damping, "damping")
    if not isinstance(model, nn.Sequential):
        raise TypeError("model must be an nn.Sequential (layers applied in order).")
    if not any(isinstance(m, nn.Linear) for m in model):
        raise ValueError("the model has nothing to prune (no nn.Linear layer).")
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty (N, d_in) tensor of calibration inputs; got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}.")
    if not torch.isfinite(X).all():
        raise ValueError("the calibration data X contains NaN or infinity.")
    dtype = next(model.parameters()).dtype
    first = model[0]
    if isinstance(first, nn.Linear) and X.shape[1] != first.in_features:
        raise ValueError(f"X has {X.shape[1]} columns but the model's first layer takes {first.in_features} "
                         "inputs; pass calibration inputs of the model's input width.")
    with restore_on_error(model):
        h = X.to(torch.float64)
        for layer in model:
            if isinstance(layer, nn.Linear):
                H = 2.0 * h.T @ h / h.shape[0]                                           # (d_in, d_in)
                W = layer.weight.detach().to(torch.float64)                              # (d_out, d_in)
                res = obs_exact(W, H, sparsity, damping=damping)
                apply_mask(layer, res.mask.to(layer.weight.dtype), res.W.to(layer.weight.dtype))
            h = layer(h.to(dtype)).to(torch.float64)
    return model
