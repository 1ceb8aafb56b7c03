"""The ADMM layer solver of the current one-shot pruning frontier, as ``method="admm"``.

Re-implemented from the papers' descriptions (no code taken): Boža 2024, "Fast and optimal
weight update for pruned large language models" (ADMM for the layer-wise problem, mask chosen
by projection, exact update on the final mask) and ALPS, Meng et al. 2024 (the penalty ρ
raised as the support settles, then a least-squares solve on the fixed support).

The layer problem of the notes' eq. (7)–(8) family: with H = 2XXᵀ/N,

    min_Ŵ  ½ Σ_rows (w − ŵ)ᵀ H (w − ŵ)   subject to Ŵ having the sparsity pattern S,

split as Ŵ = Z with Z ∈ S and solved by scaled ADMM (Boyd et al. 2011, §5):

    Ŵ ← (W H + ρ (Z − V)) (H + ρI)⁻¹                 (ridge step, one eigendecomposition of H)
    Z ← Π_S(Ŵ + V)                                     (keep the largest entries, or N of every M)
    V ← V + Ŵ − Z.

Settings (ALPS, §3 and its experiments): H scaled to unit diagonal first (each input column
normalized, as both papers do, so that Π_S compares |w_j|·‖X_j‖ — Wanda's score — and ρ is
on a fixed scale), ρ₀ = 0.1, and after each iteration ρ ×1.3 if more than 10 % of the support
changed, ×1.2 if more than 0.5 %, else ×1.1; stop when the support has not changed for a few
iterations and ‖Ŵ − Z‖ is small, or after ``iters`` iterations (ALPS allows 300; the default
here is 20, Boža's order of iterations: on SmolLM2 300 did not finish one model in 10 CPU
minutes on this machine, see benchmarks/llm.md). The result is the
exact least-squares refit on the final support (:func:`curvlab.prune.layerwise.refit`, where
ALPS runs preconditioned CG to convergence).
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import layerwise as lw

__all__ = ["admm_layer"]


@torch.no_grad()
def admm_layer(W: Tensor, H: Tensor, sparsity: float = 0.5, pattern: lw.Pattern | str = None, *,
               damping: float = 0.01, iters: int = 20, rho0: float = 0.1, tol: float = 1e-4) -> lw.LayerResult:
    """Prune the (R, d) weights ``W`` of a layer with calibration Hessian ``H`` (d, d) by ADMM.

    ``sparsity`` of each row's weights is removed (the projection is row-wise, as Wanda's and
    SparseGPT's masks), or m − n of every group of m for an N:M ``pattern``. ``damping`` λ adds
    λ·mean(diag H) to the diagonal (as SparseGPT's percdamp). Returns the pruned weights, the
    keep-mask and the loss ½Σ(w − ŵ)ᵀH_damped(w − ŵ).

    Example
    -------
    >>> X = torch.randn(200, 8, dtype=torch.float64)
    >>> res = admm_layer(torch.randn(4, 8, dtype=torch.float64), 2 * X.T @ X / 200, 0.5)
    >>> int(res.mask.sum())
    16
    """
    pattern = lw.parse_pattern(pattern)
    sparsity = lw._check_sparsity(sparsity)
    W, H = lw._check_layer(W, H)
    R, d = W.shape
    lw._check_pattern_fits(d, pattern)
    for name, v in (("iters", iters),):
        if not (isinstance(v, int) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}.")
    if not (isinstance(rho0, (int, float)) and rho0 > 0):
        raise ValueError(f"rho0 must be a number > 0 (ALPS: 0.1); got {rho0!r}.")
    W = W.to(torch.float64)
    H_d, dead = lw.damp(H.to(W.device, torch.float64), damping)
    W = W.clone()
    W[:, dead] = 0
    D = torch.diagonal(H_d).sqrt()                                              # (d,) column scales ‖X_j‖
    Hn = H_d / D.unsqueeze(0) / D.unsqueeze(1)                                  # unit diagonal
    lam, Q = torch.linalg.eigh(Hn)                                              # Hn = Q Λ Qᵀ
    Wn = W * D                                                                  # (R, d) in normalized inputs
    WH = Wn @ Hn                                                                # (R, d)
    k_row = lw.prune_count(d, sparsity)

    def project(A: Tensor) -> Tensor:
        return lw.select_mask(A.abs(), sparsity, pattern, scope="row")

    mask = project(Wn)
    Z = Wn * mask
    V = torch.zeros_like(Wn)
    rho, steady = float(rho0), 0
    for _ in range(iters):
        rhs = (WH + rho * (Z - V)) @ Q                                          # (R, d)
        Wh = (rhs / (lam + rho)) @ Q.T                                          # (W H + ρ(Z − V))(H + ρI)⁻¹
        new_mask = project(Wh + V)
        changed = int((new_mask != mask).sum())
        mask = new_mask
        Z = (Wh + V) * mask
        V += Wh - Z
        gap = float((Wh - Z).norm() / Wn.norm().clamp_min(1e-300))
        removed = R * k_row if pattern is None else R * d * (pattern[1] - pattern[0]) // pattern[1]
        if changed > 0.1 * removed:
            rho *= 1.3
        elif changed > 0.005 * removed:
            rho *= 1.2
        else:
            rho *= 1.1
        steady = steady + 1 if changed == 0 else 0
        if steady >= 3 and gap < tol:
            break
    result = lw.refit(W, H, mask, damping=damping, W_init=Z / D, cg_iters=50)     # least squares on the support
    return lw.LayerResult(result.W, mask, result.loss)
