"""Benchmark: one-shot pruning of the digits MLP (64-64-32-10 tanh), no retraining.

Every method runs in this process on the same network, data and split; every
hyperparameter (damping, and for iterative OBS the damping and the sparsity step of the rounds) is chosen on the
validation split, and the test split is only reported. Results: mean test accuracy over
seeds at each sparsity, plus the wall time of each method.

    .venv/bin/python benchmarks/bench_prune_mlp.py [--quick] [--seeds 0 1 2]
        [--methods magnitude layer-magnitude obd fisher gauss-newton abs-hessian layer-obs iterative]
        [--expensive-seeds 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from curvlab.experiments.sec1_obs import ALL_METHODS, TARGETS, run_digits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small MLP, one seed (seconds)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS)
    ap.add_argument("--expensive-seeds", type=int, default=None,
                    help="run the dense Gauss–Newton / |H| peers on only the first K seeds")
    ap.add_argument("--iterative-steps", type=float, nargs="+", default=None,
                    help="candidate sparsity increments per round of iterative OBS, chosen on "
                         "validation with the damping (default 0.025 0.05)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="write the raw results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    size = "quick" if args.quick else "full"
    seeds = tuple(args.seeds[:1] if args.quick else args.seeds)
    t0 = time.perf_counter()
    r = run_digits(size, seeds, tuple(args.methods), expensive_seeds=args.expensive_seeds,
                   iterative_steps=tuple(args.iterative_steps) if args.iterative_steps else None)
    elapsed = time.perf_counter() - t0
    sp = r["sparsities"]
    print(f"\ndigits MLP {'-'.join(map(str, r['sizes']))}, seeds {list(seeds)}, dense test accuracy "
          f"{np.mean([d[1] for d in r['dense']]):.1%} (per seed {[round(d[1], 4) for d in r['dense']]})")
    head = "| method | " + " | ".join(f"{s:.0%}" for s in sp) + " | seeds | time (s, all seeds) |"
    print(head)
    print("|" + "---|" * (len(sp) + 3))
    for name, row in r["table"].items():
        n = len(r["per_seed"][name])
        key = {"global magnitude": "global magnitude", "layer-wise magnitude": "layer-wise magnitude"}.get(name, name)
        t = next((v for k, v in r["timing"].items() if k.split()[0].lower() in key.lower()), float("nan"))
        print(f"| {name} | " + " | ".join(f"{row[s]:.1%}" for s in sp) + f" | {n} | {t:.0f} |")
    ours = r["table"].get("iterative OBS (Fisher, recomputed)")
    if ours and not args.quick:
        for s, target in TARGETS.items():
            print(f"target {s:.0%}: ≥ {target:.0%} → iterative OBS {ours[s]:.1%} "
                  f"({'met' if ours[s] >= target else 'NOT met'})")
    print(f"timing by method (s): { {k: round(v, 1) for k, v in r['timing'].items()} }; total {elapsed:.0f} s")
    print(f"hyperparameters chosen on validation: {r['chosen']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({k: v for k, v in r.items()}, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
