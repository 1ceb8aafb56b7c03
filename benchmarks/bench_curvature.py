"""λ_max of a full-batch loss: curvlab's Lanczos against PyHessian's power iteration.

Both run in one process on the same model (float32) and the same data (all 1797 digits of
scikit-learn, full batch): a 64-32-10 tanh MLP and a small CNN, cross-entropy loss. The
reference λ_max is the top eigenvalue of the dense Hessian computed in float64
(``curvlab.curvature.dense_hessian`` on a float64 copy, then ``numpy.linalg.eigvalsh``).

Stopping rule, the same for both: reach 1e-4 relative accuracy against that reference.
Each method's tolerance is tightened along a ladder (1e-2, 3e-3, 1e-3, …) until every seeded run
reaches it; we then report the median Hessian-vector products and wall time over those
runs (setup — PyHessian's create-graph backward, our operator — included).

    .venv/bin/python benchmarks/bench_curvature.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import importlib

import pyhessian
from curvlab.curvature import HessianOperator, dense_hessian, lanczos

pyh_module = importlib.import_module("pyhessian.hessian")  # the module (the package re-exports the class under that name)

TARGET = 1e-4
LADDER = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8)


def digits():
    d = load_digits()
    X = torch.tensor(d.data / 16.0, dtype=torch.float32)
    return X, torch.tensor(d.target)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(1, 6, 3)   # 8×8 → 6×6
        self.conv2 = nn.Conv2d(6, 8, 3)   # 6×6 → 4×4
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = x.reshape(-1, 1, 8, 8)        # (N, 64) → (N, 1, 8, 8)
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.fc(x.flatten(1))      # (N, 128) → (N, 10)


def warm_up(model, X, y, steps=300, lr=0.5):
    """Train a little so the Hessian is not the one at initialization."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model


def reference(model, X, y):
    m64 = copy.deepcopy(model).double()
    H = dense_hessian(m64, nn.CrossEntropyLoss(), (X.double(), y), chunk_size=256)
    lam = np.linalg.eigvalsh(H.numpy())
    return float(lam[-1]), float(lam[-2])


def run_curvlab(model, X, y, tol, seed):
    t0 = time.perf_counter()
    H = HessianOperator(model, nn.CrossEntropyLoss(), (X, y))
    res = lanczos(H, k=1, tol=tol, seed=seed, max_matvecs=2000)
    return res.lam_max, res.num_matvecs, time.perf_counter() - t0


def run_pyhessian(model, X, y, tol, seed):
    count = [0]
    original = pyh_module.hessian_vector_product

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    pyh_module.hessian_vector_product = counted
    try:
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        h = pyh_module.hessian(model, nn.CrossEntropyLoss(), data=(X, y), cuda=False)
        eig, _ = h.eigenvalues(maxIter=100_000, tol=tol, top_n=1)
        elapsed = time.perf_counter() - t0
    finally:
        pyh_module.hessian_vector_product = original
        model.zero_grad(set_to_none=True)
    return eig[0], count[0], elapsed


def calibrate(fn, model, X, y, lam_ref, seeds):
    """The loosest tolerance of the ladder at which every seed reaches TARGET, and its runs."""
    for tol in LADDER:
        runs = [fn(model, X, y, tol, s) for s in seeds]
        errs = [abs(r[0] - lam_ref) / lam_ref for r in runs]
        if max(errs) <= TARGET:
            return tol, runs, errs
    return None, runs, errs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 seeds instead of 7, fewer warm-up steps")
    args = parser.parse_args()
    seeds = list(range(3 if args.quick else 7))
    print(f"machine: {platform.machine()} {platform.processor() or ''} · {torch.get_num_threads()} torch threads · "
          f"Python {platform.python_version()} · torch {torch.__version__} · pyhessian "
          f"{getattr(pyhessian, '__version__', '0.1 (PyPI)')} · numpy {np.__version__}")
    X, y = digits()
    rows = []
    for name, make in (("digits MLP 64-32-10", mlp), ("digits CNN", SmallCNN)):
        model = warm_up(make(), X, y, steps=100 if args.quick else 300)
        P = sum(p.numel() for p in model.parameters())
        lam1, lam2 = reference(model, X, y)
        print(f"\n{name}: P = {P}, N = {X.shape[0]}, dense λ1 = {lam1:.6f}, λ2 = {lam2:.6f} (λ2/λ1 = {lam2 / lam1:.4f})")
        res = {}
        for label, fn in (("curvlab lanczos", run_curvlab), ("pyhessian power", run_pyhessian)):
            fn(model, X, y, 1e-3, 0)  # warm-up: one-time imports and allocations are not timed
            tol, runs, errs = calibrate(fn, model, X, y, lam1, seeds)
            hvps = statistics.median(r[1] for r in runs)
            secs = statistics.median(r[2] for r in runs)
            res[label] = (hvps, secs)
            print(f"  {label:16s} tol={tol}  median HVPs {hvps:7.1f}  median time {secs * 1e3:8.1f} ms  "
                  f"max rel err {max(errs):.2e}")
            rows.append((name, P, label, tol, hvps, secs, max(errs)))
        (h_c, s_c), (h_p, s_p) = res["curvlab lanczos"], res["pyhessian power"]
        print(f"  ratio curvlab/pyhessian: HVPs {h_c / h_p:.3f}, time {s_c / s_p:.3f}")
    print("\n| model | P | method | tolerance needed | median HVPs | median time (ms) | max rel. error |")
    print("|---|---|---|---|---|---|---|")
    for name, P, label, tol, hvps, secs, err in rows:
        print(f"| {name} | {P} | {label} | {tol} | {hvps:.0f} | {secs * 1e3:.1f} | {err:.1e} |")


if __name__ == "__main__":
    main()
