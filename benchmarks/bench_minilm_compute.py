"""Pruning compute of OBS variants vs SparseGPT on identical Hessians (no forward passes).

The Hessians of all 36 Linear layers of all-MiniLM-L6-v2 are collected once (dense model, 128
calibration reviews); then each method prunes every layer, methods interleaved, ``--repeats``
times. CPU seconds (``time.process_time``, all threads) are reported as well as wall seconds,
because the machine is shared: CPU time is what the arithmetic costs, wall time what it waited.

    .venv/bin/python benchmarks/bench_minilm_compute.py [--repeats 3] [--pattern 2:4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from curvlab.curvature.layer_hessian import HessianCollector, is_prunable, weight_matrix
from curvlab.data.texts import fine_food_reviews
from curvlab.models.minilm import load_minilm
from curvlab.prune.driver import ObsOptions, prune_layer
from curvlab.prune.layerwise import parse_pattern

VARIANTS = {
    "sparsegpt": ("sparsegpt", ObsOptions()),
    "obs +refit": ("obs", ObsOptions()),
    "obs +refit +alternate": ("obs", ObsOptions(alternate=40)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pattern", default=None)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--blocks", type=int, default=6)
    args = ap.parse_args()
    enc = load_minilm()
    texts, _ = fine_food_reviews("train", n=128, seed=0)
    mods = {n: m for n, m in enc.model.named_modules() if is_prunable(m) and n.startswith("encoder.layer.")
            and int(n.split(".")[2]) < args.blocks}
    with HessianCollector(mods) as hc, torch.no_grad():
        for i in range(0, len(texts), 32):
            b = enc.tokenize(texts[i:i + 32])
            hc.token_mask = b["attention_mask"]
            enc.model(**b)
    layers = [(weight_matrix(m), hc[n].H) for n, m in mods.items()]
    pattern = parse_pattern(args.pattern)
    cpu = {k: [] for k in VARIANTS}
    wall = {k: [] for k in VARIANTS}
    for _ in range(args.repeats):
        for label, (method, options) in VARIANTS.items():
            c0, w0 = time.process_time(), time.perf_counter()
            for W, H in layers:
                prune_layer(W, H, args.sparsity, pattern, method, options=options)
            cpu[label].append(time.process_time() - c0)
            wall[label].append(time.perf_counter() - w0)
    base = statistics.median(cpu["sparsegpt"])
    print(f"{len(layers)} layers, pattern {args.pattern or 'unstructured'}, {args.repeats} repeats (median)")
    print("| method | CPU s | wall s | CPU / SparseGPT |")
    print("|---|---|---|---|")
    for label in VARIANTS:
        c = statistics.median(cpu[label])
        print(f"| {label} | {c:.1f} | {statistics.median(wall[label]):.1f} | {c / base:.2f} |")


if __name__ == "__main__":
    main()
