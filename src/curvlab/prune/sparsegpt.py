"""SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned
in One-Shot", ICML 2023), re-implemented from Algorithm 1 of the paper as the baseline.

For one layer with H = 2XXᵀ/N (dead inputs get H_jj = 1 and zero weights; damping
λ = 0.01·mean(diag H)), the algorithm takes U = chol(H⁻¹) (upper, H⁻¹ = UᵀU) and visits the
columns in order, in blocks of B = 128:

* at the start of every block (unstructured; the paper's B_s = B) or every M columns (N:M) the
  mask of those columns is chosen from the saliency w_q² / U_qq² of the current weights — the
  ``sparsity`` fraction of all R × B_s entries, or the M − N lowest of each row's group;
* column q is then replaced by its masked value and the error e = (w_q − ŵ_q)/U_qq is
  propagated to the remaining columns of the block, w ← w − e U_q,q+1: (OBS update (7) with
  the sequentially downdated inverse);
* after the block, the remaining columns receive the block's errors at once: W ← W − E U_B,rest.

The only difference from :func:`curvlab.prune.layerwise.obs_blocked` is its defaults
(float32 arithmetic, as the paper's implementation), which is why the
two are tested against each other.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .layerwise import LayerResult, Pattern, _check_pattern_fits, _check_sparsity, parse_pattern

__all__ = ["sparsegpt_layer"]


@torch.no_grad()
def sparsegpt_layer(W: Tensor, H: Tensor, sparsity: float = 0.5, pattern: Pattern | str = None, *,
                    percdamp: float = 0.01, blocksize: int = 128,
                    dtype: torch.dtype = torch.float32) -> LayerResult:
    """Prune one (R, d) weight matrix with SparseGPT. Returns the pruned weights, the keep-mask
    and the summed OBS losses ½ Σ (w_q − ŵ_q)²/U_qq² (the predicted ‖WX − ŴX‖²/N)."""
    sparsity = _check_sparsity(sparsity)
    pattern = parse_pattern(pattern)
    if W.dim() != 2 or H.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"W must be (R, d) and H (d, d); got {tuple(W.shape)} and {tuple(H.shape)}.")
    R, d = W.shape
    _check_pattern_fits(d, pattern)
    W = W.detach().to(dtype).clone()
    H = H.detach().to(device=W.device, dtype=dtype).clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    damp = percdamp * torch.mean(torch.diag(H))
    H += damp * torch.eye(d, dtype=dtype, device=W.device)
    L, info = torch.linalg.cholesky_ex(H)
    if bool(info != 0):
        raise ValueError("H is not positive definite; increase percdamp.")
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)          # U, (d, d)
    keep = torch.ones(R, d, dtype=torch.bool, device=W.device)
    Losses = torch.zeros(R, dtype=dtype, device=W.device)
    for i1 in range(0, d, blocksize):
        i2 = min(i1 + blocksize, d)
        W1 = W[:, i1:i2].clone()                                                 # (R, B)
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            w = W1[:, i]
            u = Hinv1[i, i]
            if pattern is None and i == 0:
                # the block's mask: the round(sparsity·R·B) lowest w²/U_qq² of its (R, B) entries
                tmp = W1.square() / torch.diag(Hinv1).square()
                k = int(round(tmp.numel() * sparsity))
                block_prune = torch.zeros(tmp.numel(), dtype=torch.bool, device=W.device)
                block_prune[torch.argsort(tmp.flatten(), stable=True)[:k]] = True
                keep[:, i1:i2] = ~block_prune.view_as(tmp)
            if pattern is not None and i % pattern[1] == 0:
                n, m = pattern
                tmp = W1[:, i:i + m].square() / torch.diag(Hinv1)[i:i + m].square()
                prune_group = torch.zeros_like(tmp, dtype=torch.bool)
                prune_group.scatter_(1, torch.topk(tmp, m - n, dim=1, largest=False).indices, True)
                keep[:, col:col + m] = ~prune_group
            q = torch.where(keep[:, col], w, torch.zeros_like(w))
            Q1[:, i] = q
            Losses += (w - q).square() / u.square() / 2
            err1 = (w - q) / u
            W1[:, i:] -= err1.unsqueeze(1) @ Hinv1[i, i:].unsqueeze(0)
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    return LayerResult(W, keep, float(Losses.sum()))
