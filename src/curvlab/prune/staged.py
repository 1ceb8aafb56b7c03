"""A block's layer statistics as the block is pruned layer by layer, and the targets they fit.

The plain driver takes every layer's H = 2XXᵀ/N from one pass of the still-dense block. Once
the first layers of the block are pruned, the later ones see different inputs X̂. Two ways to
use that, both here:

* **staged statistics** (:func:`layer_statistics`): run the partly pruned block again and take
  the layer's H from X̂, so it is pruned for the inputs it will really get;
* **a target to fit** (:func:`fit_target`): instead of the layer's own outputs W X̂, fit the
  outputs it had before, W X, from X̂, so the layer compensates what the pruned layers before it
  changed. X is the layer's input in the dense *block* on the same block inputs (kept from the
  first pass by :func:`collect_block`, ``target="block"``). (Taking X from a dense copy of the
  whole *model* instead lost on validation — MiniLM 2:4 cosine 0.9089 against 0.9127,
  benchmarks/minilm.md — and was removed.)

Fitting the full correction overfits the calibration tokens: on MiniLM (2:4, validation reviews)
``target="block"`` gives cosine 0.9060 with the full target, 0.9119 / 0.9127 / 0.9116 with the
mix α = 0.3 / 0.5 / 0.6 of :func:`fit_target`, against 0.9030 without it (unstructured: no gain
at 50 %, +0.007 at 60 %, +0.018 at 70 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..curvature.layer_hessian import LayerHessian, layer_inputs, weight_matrix
from . import layerwise as lw
from .stages import reduce_statistics

__all__ = ["BlockStatistics", "collect_block", "fit_target", "layer_statistics"]


def without_padding(x: Tensor, token_mask: Tensor | None) -> Tensor:
    """The real tokens of a layer input ``x``: (B, T, d) with a (B, T) ``token_mask``, or the
    same tokens flattened to (B·T, d) (OPT's feed-forward layers); other inputs unchanged."""
    if token_mask is None:
        return x
    if x.dim() == 3 and tuple(token_mask.shape) == tuple(x.shape[:2]):
        return x[token_mask.to(torch.bool)]                                       # (m, d)
    if x.dim() == 2 and token_mask.dim() == 2 and x.shape[0] == token_mask.numel():
        return x[token_mask.reshape(-1).to(torch.bool)]                           # (m, d)
    return x


def rows_of(module: nn.Module, x: Tensor, token_mask: Tensor | None) -> Tensor:
    """The calibration rows (m, d) of one call of ``module`` on ``x``, padding excluded, float64."""
    return layer_inputs(module, without_padding(x, token_mask)).to(torch.float64)   # (m, d)


class _Stop(Exception):
    """Raised by a hook once the layer it watches has run: the rest of the block is not needed."""


@dataclass
class BlockStatistics:
    """What one pass of the dense block gives: (H, μ) of the layers that read the block's own
    input (``hessians``; of every layer with ``every_hessian``), and, for the others, their input
    rows per calibration batch in the dense block (``local``, float32), to be fitted once the
    layers before them are pruned."""

    hessians: dict[str, LayerHessian] = field(default_factory=dict)
    local: dict[str, list[Tensor]] = field(default_factory=dict)

    def nbytes(self) -> int:
        h = sum((s.H.numel() + s.mean.numel()) * s.H.element_size() for s in self.hessians.values())
        return h + sum(r.numel() * r.element_size() for rows in self.local.values() for r in rows)


@torch.no_grad()
def collect_block(block: nn.Module, targets: dict[str, nn.Module], inputs: list, token_masks: list,
                  *, keep_local: bool, every_hessian: bool = False) -> BlockStatistics:
    """One pass of the block over the calibration inputs.

    Without ``keep_local`` every target layer gets its (H, μ). With it, only the layers that
    read the input of the first target layer the block runs (a transformer's query, key and
    value: nothing pruned in the block comes before them) do; every other layer's input rows
    are kept instead (float32), as the dense-block target of :func:`fit_target` — their H must come from
    :func:`layer_statistics` after the layers before them are pruned anyway. ``every_hessian``
    collects the (H, μ) of every layer as well (the split of a block's sparsity budget needs
    them all at once).
    """
    stats = BlockStatistics()
    state: dict[str, Any] = {"tm": None, "x0": None}

    def hook(name: str, module: nn.Module):
        def run(mod, args, output):
            x = args[0]
            if state["x0"] is None:                     # the first target layer the block runs
                state["x0"] = x
            reads_block_input = x is state["x0"] or (x.shape == state["x0"].shape
                                                     and x.data_ptr() == state["x0"].data_ptr())
            if not keep_local or reads_block_input or every_hessian:
                if name not in stats.hessians:
                    stats.hessians[name] = LayerHessian(module)
                stats.hessians[name].add_batch(without_padding(x, state["tm"]))
            if keep_local and not reads_block_input:
                stats.local.setdefault(name, []).append(rows_of(mod, x, state["tm"]).to(torch.float32))
        return run

    handles = [m.register_forward_hook(hook(n, m)) for n, m in targets.items()]
    try:
        for (args, kwargs), tm in zip(inputs, token_masks):
            state["tm"], state["x0"] = tm, None
            block(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    reduce_statistics(stats.hessians)
    missing = set(targets) - set(stats.hessians) - set(stats.local)
    if missing:
        raise ValueError(f"layers {sorted(missing)} were not called by their block's forward; "
                         "prune only layers the model uses.")
    return stats


@torch.no_grad()
def layer_statistics(block: nn.Module, module: nn.Module, inputs: list, token_masks: list, *,
                     dense_rows: list | None = None) -> tuple[Tensor, Tensor | None, int, Tensor, Tensor]:
    """H = 2 X̂ X̂ᵀ/N of ``module``'s inputs X̂ in the (partly pruned) ``block``, and the cross term
    G = 2 X̂ Xᵀ/N with the inputs X the layer had in the dense block, ``dense_rows`` (from
    :func:`collect_block`). Returns (H, G or None, N, μ̂, μ) — μ̂, μ the means of X̂ and X. The
    sums and N go through :func:`~curvlab.prune.stages.reduce_statistics` (all ranks' tokens).

    Each pass stops as soon as the layer has run (the rest of the block is not needed), so a
    layer called twice in one forward counts its first call only.
    """
    d = weight_matrix(module).shape[1]
    dev = module.weight.device
    H = torch.zeros(d, d, dtype=torch.float64, device=dev)
    G = torch.zeros(d, d, dtype=torch.float64, device=dev) if dense_rows is not None else None
    total = torch.zeros(d, dtype=torch.float64, device=dev)
    total_dense = torch.zeros(d, dtype=torch.float64, device=dev)
    state: dict[str, Any] = {"n": 0, "tm": None}

    def hook(mod, args, output):
        X = rows_of(mod, args[0], state["tm"])                                   # (m, d)
        H.addmm_(X.t(), X, alpha=2.0)
        total.add_(X.sum(0))
        if G is not None:
            X_dense = state.pop("xd")
            if X_dense.shape != X.shape:
                raise ValueError(f"the layer's dense inputs {tuple(X_dense.shape)} do not match its pruned ones "
                                 f"{tuple(X.shape)}; its block must call it once per forward.")
            G.addmm_(X.t(), X_dense, alpha=2.0)
            total_dense.add_(X_dense.sum(0))
        state["n"] += X.shape[0]
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        for i, ((args, kwargs), tm) in enumerate(zip(inputs, token_masks)):
            state["tm"] = tm
            if dense_rows is not None:
                state["xd"] = dense_rows[i].to(torch.float64)
            try:
                block(*args, **kwargs)
            except _Stop:
                pass
    finally:
        handle.remove()
    count = torch.tensor([float(state["n"])], dtype=torch.float64)
    reduce_statistics(sums=[t for t in (H, G, total, total_dense) if t is not None], counts=count)
    n_total = int(count.item())
    n = max(n_total, 1)
    return H / n, (G / n if G is not None else None), n_total, total / n, total_dense / n


def fit_target(W: Tensor, H: Tensor, G: Tensor, damping: float, mix: float = 0.5, *,
               mean: Tensor | None = None, mean_dense: Tensor | None = None,
               dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor | None, Tensor]:
    """The weights whose outputs on the new inputs X̂ best match the outputs W X of the old ones:

        min_W′ ‖W X − W′ X̂‖²  ⇔  min_W′ ½ Σ_rows (ŵ − w′)ᵀ H (ŵ − w′) + const,
        w′ = H⁻¹ G w   (H = 2X̂X̂ᵀ/N damped, G = 2X̂Xᵀ/N),

    row by row the least-squares estimate (16) of the notes with regressors X̂ and responses
    wᵀX (the damping makes it the ridge form (24)),

    so pruning W′ with the usual H and the layer's own refit fits the old outputs. With ``mean``
    (μ̂ of X̂) and ``mean_dense`` (μ of X) the fit has an intercept: on x̃ = (x̂, 1),
    H̃ = [[H, 2μ̂], [2μ̂ᵀ, 2]] and (w′, β′) = H̃⁻¹ (G w, 2 μᵀw), β′ a shift of the bias.

    ``mix`` α returns α·(w′, β′) + (1 − α)·(w, 0): the least-squares fit of the mixed target
    α·W X + (1 − α)·W X̂, equivalently a ridge towards w in the metric of H (penalty
    κ‖w′ − w‖²_H, α = 1/(1 + κ)). With N calibration rows the d × d cross term G fits noise as well as
    the correction, and α < 1 shrinks towards the layer's own outputs.

    H̃ is factored once (:func:`~curvlab.prune.layerwise.reversed_cholesky`, in ``dtype``): its
    Cholesky factor solves for (w′, β′), and the leading d × d block of its inverse factor U is
    returned too — the factor the column sweep of :func:`~curvlab.prune.layerwise.obs_blocked`
    needs, with the bias as a last, never-pruned column (the saliencies (8) count on the bias to
    compensate as well), which saves the sweep its own factorization. Returns (W′ (R, d) float64,
    β′ (R,) or None, U (d, d)).
    """
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1]; got {mix!r}.")
    H_d, dead = lw.damp(H, damping)
    d = H.shape[0]
    W_c = W.to(dtype)
    rhs = G.to(dtype) @ W_c.t()                                                   # (d, R)
    if mean is None or mean_dense is None:
        A = H_d
    else:
        A = lw.with_bias(H_d, dead, mean, damping)                                   # H̃ (d + 1, d + 1)
        rhs = torch.cat([rhs, 2 * (mean_dense.to(W_c) @ W_c.t()).unsqueeze(0)], 0)   # (d + 1, R)
    L, U = lw.reversed_cholesky(A, dtype)                                         # J A J = L Lᵀ, A⁻¹ = UᵀU
    y = torch.linalg.solve_triangular(L, rhs.to(L.dtype).flip(0), upper=False)
    theta = torch.linalg.solve_triangular(L.t(), y, upper=True).flip(0).t().to(torch.float64)   # (A⁻¹ rhs)ᵀ
    W_fit = mix * theta[:, :d] + (1 - mix) * W.to(torch.float64)
    return W_fit, (mix * theta[:, d] if theta.shape[1] > d else None), U[:d, :d]
