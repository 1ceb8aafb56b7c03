"""Pruning compute of OBS variants vs SparseGPT on identical Hessians (no forward passes).

The Hessians of all 36 Linear layers of all-MiniLM-L6-v2 are collected once (dense model, 128
calibration reviews); then each method prunes every layer, methods interleaved, ``--repeats``
times. CPU seconds (``time.process_time``, all threads) are reported as well as wall seconds,
because the machine is shared: CPU time is what the arithmetic costs, wall time what it waited.

    .venv/bin/python benchmarks/bench_minilm_compute.py [--repeats 3] [--pattern 2:4] [--blocks 6]
        [--methods "sparsegpt,obs +refit,obs +refit +alloc +bias"]

Methods are labels of ``bench_minilm.py`` (``obs`` with switches); ``+alloc`` includes the
block-level split of the budget (:func:`curvlab.prune.driver.allocate`), as in ``prune_model``.

``--whole`` times ``prune_model`` itself on the real model instead (each repeat on a fresh copy):
the report's compute (the pruning arithmetic, the issue's definition: no forward passes), the
CPU seconds of the whole call (every calibration forward pass included) and the number of
passes of a block over the calibration data. This is the measurement for options that change
the statistics (``target="block"``, the N:M default), which identical Hessians cannot show.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from threadpoolctl import threadpool_limits

from curvlab.curvature.layer_hessian import HessianCollector, is_prunable, weight_matrix
from curvlab.data.texts import fine_food_reviews
from curvlab.models.minilm import load_minilm
from curvlab.curvature.output_sensitivity import output_sensitivities
from curvlab.prune.driver import DEFAULT_DAMPING, allocate, _clip_to_mean, _first_rows, _shared_factors, prune_layer, \
    prune_model
from curvlab.prune.layerwise import parse_pattern

from bench_minilm import method_of


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pattern", default=None)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--methods", default="sparsegpt,obs +refit,obs +refit +alternate")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--whole", action="store_true", help="time prune_model on the model (forward passes too)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # numpy/scipy's BLAS (LAPACK calls on the CPU) get the same number of threads as torch
    threadpool_limits(torch.get_num_threads())
    VARIANTS = {label: method_of(label) for label in args.methods.split(",")}
    if "sparsegpt" not in VARIANTS:
        raise SystemExit("--methods must include sparsegpt (the baseline of the ratio)")
    enc = load_minilm()
    texts, _ = fine_food_reviews("train", n=128, seed=0)
    if args.whole:
        return whole(enc, texts, VARIANTS, args)
    mods = {n: m for n, m in enc.model.named_modules() if is_prunable(m) and n.startswith("encoder.layer.")
            and int(n.split(".")[2]) < args.blocks}
    with HessianCollector(mods) as hc, torch.no_grad():
        for i in range(0, len(texts), 32):
            b = enc.tokenize(texts[i:i + 32])
            hc.token_mask = b["attention_mask"]
            enc.model(**b)
    blocks: dict[int, list] = {}
    for n, m in mods.items():
        blocks.setdefault(int(n.split(".")[2]), []).append((n, weight_matrix(m), hc[n].H, hc[n].mean))
    calibration = [enc.tokenize(texts[i:i + 32]) for i in range(0, len(texts), 32)]
    n_layers = len(mods)
    pattern = parse_pattern(args.pattern)
    cpu = {k: [] for k in VARIANTS}
    wall = {k: [] for k in VARIANTS}
    for _ in range(args.repeats):
        for label, (method, options) in VARIANTS.items():
            c0, w0 = time.process_time(), time.perf_counter()
            c = {}
            if method == "obs" and options.sensitivity and pattern is None:        # as prune_model does
                c = output_sensitivities(enc.model, mods, _first_rows(calibration, options.sensitivity, "cpu"))
                c = {n: _clip_to_mean(v, options.sensitivity_clip) for n, v in c.items()}
            for layers in blocks.values():
                split, Us = [args.sparsity] * len(layers), [None] * len(layers)
                if method == "obs" and options.mode == "blocked":                   # as prune_model: one U per H
                    shared = _shared_factors({n: H for n, _, H, _ in layers}, DEFAULT_DAMPING["obs"],
                                             torch.float32 if options.fast_dtype else torch.float64)
                    Us = [shared[n] for n, _, _, _ in layers]
                if method == "obs" and options.allocation != "uniform" and pattern is None:  # as prune_model
                    lam = DEFAULT_DAMPING["obs"]
                    split = allocate([W for _, W, _, _ in layers], [H for _, _, H, _ in layers], args.sparsity,
                                      lam, options.max_shift, Us=Us,
                                      row_weights=([c[n] for n, _, _, _ in layers]
                                                   if options.allocation == "output" else None))
                for (n, W, H, mean), s, U in zip(layers, split, Us):
                    prune_layer(W, H, s, pattern, method, options=options, mean=mean, U=U, row_weights=c.get(n))
            cpu[label].append(time.process_time() - c0)
            wall[label].append(time.perf_counter() - w0)
    base = statistics.median(cpu["sparsegpt"])
    print(f"{n_layers} layers, pattern {args.pattern or 'unstructured'}, {args.repeats} repeats (median)")
    print("| method | CPU s | wall s | CPU / SparseGPT |")
    print("|---|---|---|---|")
    for label in VARIANTS:
        c = statistics.median(cpu[label])
        print(f"| {label} | {c:.1f} | {statistics.median(wall[label]):.1f} | {c / base:.2f} |")


def whole(enc, texts, variants, args):
    """prune_model per method, methods interleaved, on fresh copies of the model."""
    calibration = [enc.tokenize(texts[i:i + 32]) for i in range(0, len(texts), 32)]
    rows = {k: [] for k in variants}
    for _ in range(args.repeats):
        for label, (method, options) in variants.items():
            model = copy.deepcopy(enc.model)
            c0 = time.process_time()
            report = prune_model(model, calibration, args.sparsity, args.pattern, method, options=options,
                                 progress=False)
            rows[label].append((report.compute_s, time.process_time() - c0, report.calibration_passes))
    base = [statistics.median(r[i] for r in rows["sparsegpt"]) for i in range(2)]
    print(f"prune_model, pattern {args.pattern or 'unstructured'}, {args.repeats} repeats (median), "
          f"{torch.get_num_threads()} thread(s)")
    print("| method | compute s (no forward passes) | compute / SparseGPT | whole call CPU s | whole / SparseGPT "
          "| block passes |")
    print("|---|---|---|---|---|---|")
    for label, r in rows.items():
        c, w = (statistics.median(x[i] for x in r) for i in range(2))
        print(f"| {label} | {c:.1f} | {c / base[0]:.2f} | {w:.1f} | {w / base[1]:.2f} | {r[0][2]} |")


if __name__ == "__main__":
    main()
