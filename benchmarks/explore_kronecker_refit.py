"""Exploration (not library code): refit the kept weights for the model's output, rows coupled.

The layer-wise refit minimizes ½ tr(ΔW H ΔWᵀ), every output row on its own. To first order the
model's output moves by J δy, and with the Kronecker (K-FAC) approximation of its Gauss–Newton
matrix the output error of layer l is

    ½ tr(ΔW H ΔWᵀ G),    G = E_t[J_tᵀ J_t]  (R × R, output side),

which couples the rows: a pruned weight of one row can be compensated through the others. G comes
from the same Hutchinson probes as the output sensitivities (E_v[(Jᵀv)(Jᵀv)ᵀ] = JᵀJ), here the full
outer products. This script wraps ``prune_layer`` so that, after the library's OBS + row refit,
CG on the masked weights minimizes the coupled objective with G̃ = G/mean(diag G) + γ·I — γ mixes
the layer's own error back in (γ → ∞ is the row refit).

    .venv/bin/python benchmarks/explore_kronecker_refit.py SEQUENCES CG_ITERS GAMMA \\
        --threads 1 --calibration 128 --eval 200 --probe-train 64 --validation --configs 2:4 --methods "obs +refit"

Results are in ``benchmarks/minilm.md`` ("Kronecker-coupled refit").
"""

from __future__ import annotations

import sys

import torch

import bench_minilm
import curvlab.prune.driver as drv
from curvlab.curvature.output_sensitivity import model_output
from curvlab.prune import layerwise as lw

G: dict[str, torch.Tensor] = {}
state: dict = {}


def collect_G(model, calls, layers, probes=4):
    """G_l = mean over probes and real tokens of g gᵀ, g = J_lᵀv at layer l's output."""
    outs = []
    handles = [m.register_forward_hook(lambda mod, a, y, n=n: outs.append((n, y))) for n, m in layers.items()]
    generator = torch.Generator().manual_seed(0)
    counts = {}
    with torch.enable_grad():
        for args, kwargs in calls:
            for _ in range(probes):
                outs.clear()
                f = model_output(model(*args, **kwargs))
                keep = kwargs["attention_mask"].bool()
                v = torch.randn(f.shape, generator=generator) * keep.unsqueeze(-1)
                grads = torch.autograd.grad((f * v).sum(), [y for _, y in outs])
                for (name, _), g in zip(outs, grads):
                    g = g[keep].double()
                    G[name] = G.get(name, 0) + g.T @ g
                    counts[name] = counts.get(name, 0) + g.shape[0]
    for h in handles:
        h.remove()
    for name in G:
        G[name] /= counts[name]


def coupled_refit(W, H, G_l, mask, X0, gamma, iters):
    """CG on min ½ tr((X − W) H (X − W)ᵀ G̃) over X with X[~mask] = 0, from X0."""
    G_l = G_l / G_l.diagonal().mean() + gamma * torch.eye(G_l.shape[0], dtype=G_l.dtype)
    H_d, _ = lw.damp(H.double(), drv.DEFAULT_DAMPING["obs"])
    X = X0.clone()
    r = -(G_l @ (X - W) @ H_d) * mask
    p, rs = r.clone(), (r * r).sum()
    for _ in range(iters):
        Ap = (G_l @ p @ H_d) * mask
        alpha = rs / (p * Ap).sum()
        X, r = X + alpha * p, r - alpha * Ap
        rs_new = (r * r).sum()
        p, rs = r + rs_new / rs * p, rs_new
    return X * mask


def main():
    sequences, iters, gamma = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    prune_model, prune_layer = drv.prune_model, drv.prune_layer

    def wrapped_model(model, calibration, *args, **kwargs):
        G.clear()
        batches = list(calibration)
        layers = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n}
        if (args[2] if len(args) > 2 else kwargs.get("method", "obs")) == "obs":
            collect_G(model, drv._first_rows(batches, sequences, "cpu"), layers)
        state.update(order=list(layers), i=0)
        return prune_model(model, batches, *args, **kwargs)

    def wrapped_layer(W, H, sparsity, pattern, method, **kwargs):
        result = prune_layer(W, H, sparsity, pattern, method, **kwargs)
        if method != "obs" or not G:
            return result
        name = state["order"][state["i"]]
        state["i"] += 1
        X = coupled_refit(W.double(), H, G[name], result.mask, result.W.double(), gamma, iters)
        return lw.LayerResult(X, result.mask, result.loss)

    drv.prune_layer = wrapped_layer
    bench_minilm.prune_model = wrapped_model
    bench_minilm.main(sys.argv[4:])


if __name__ == "__main__":
    main()
