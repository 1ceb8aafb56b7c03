"""Baselines that choose a mask without compensating the kept weights.

* Magnitude: saliency w_q², the OBS saliency (8) with H = I (eq. (10)); the lowest
  ``sparsity`` fraction of the whole layer is removed (one threshold per layer).
* Wanda (Sun et al., "A Simple and Effective Pruning Approach for Large Language Models",
  2024): saliency |W_ij| · ‖X_j‖₂, compared within each output row. ‖X_j‖₂² = Σ_tokens x_j²
  is read off the layer Hessian: ‖X_j‖₂ ∝ sqrt(H_jj) (H = 2XXᵀ/N), and the constant factor
  does not change the ranking.

Both take an (R, d) weight matrix and return a :class:`~curvlab.prune.layerwise.LayerResult`
whose ``loss`` is ½ Σ_rows (w − ŵ)ᵀ H (w − ŵ) when H is given (else ½‖W − Ŵ‖², eq. (10)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .layerwise import LayerResult, Pattern, _check_pattern_fits, _check_sparsity, layer_loss, parse_pattern, \
    select_mask

__all__ = ["magnitude_layer", "wanda_layer"]


def _result(W: Tensor, mask: Tensor, H: Tensor | None) -> LayerResult:
    W_hat = W * mask
    H_eff = H if H is not None else torch.eye(W.shape[1], dtype=torch.float64, device=W.device)
    return LayerResult(W_hat, mask, layer_loss(W, W_hat, H_eff))


@torch.no_grad()
def magnitude_layer(W: Tensor, sparsity: float = 0.5, pattern: Pattern | str = None, *,
                    H: Tensor | None = None) -> LayerResult:
    """Remove the smallest |w|: the ``sparsity`` fraction of the layer, or m − n of every group."""
    sparsity = _check_sparsity(sparsity)
    pattern = parse_pattern(pattern)
    W = W.detach().to(torch.float64)
    _check_pattern_fits(W.shape[1], pattern)
    return _result(W, select_mask(W.square(), sparsity, pattern, scope="layer"), H)


@torch.no_grad()
def wanda_layer(W: Tensor, H: Tensor, sparsity: float = 0.5, pattern: Pattern | str = None) -> LayerResult:
    """Remove the lowest |W_ij|·‖X_j‖₂ in each output row (``sparsity`` of the row, or m − n of
    every group of m)."""
    sparsity = _check_sparsity(sparsity)
    pattern = parse_pattern(pattern)
    W = W.detach().to(torch.float64)
    H = H.detach().to(device=W.device, dtype=torch.float64)
    if H.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"H must be {W.shape[1]}×{W.shape[1]} to match W; got {tuple(H.shape)}.")
    _check_pattern_fits(W.shape[1], pattern)
    x_norm = torch.diagonal(H).clamp_min(0).sqrt()                               # ∝ ‖X_j‖₂
    scores = W.abs() * x_norm.unsqueeze(0)                                        # (R, d)
    return _result(W, select_mask(scores, sparsity, pattern, scope="row"), H)
