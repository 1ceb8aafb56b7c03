"""λ_max of a trained network's full-batch loss: curvlab's Lanczos against PyHessian's power iteration.

Protocol (issue 4, "Speed"):

* Data: all 1797 scikit-learn digits (8×8, pixels / 16), one full batch, float32.
* Models, trained to (near) convergence by full-batch gradient descent, as in Cohen et al.
  (2021): a 64-64-32-10 tanh MLP on mean-squared error against one-hot targets (lr 0.5,
  so it trains at the edge of stability, where the top Hessian eigenvalues crowd at
  ≈ 2/lr), and a small CNN (conv 1→8 3×3, conv 8→16 3×3, tanh, linear 256→10) on
  cross-entropy. Trained weights are cached on disk (``--cache``) so reruns skip training.
* Reference: the top two eigenvalues of the dense Hessian of a float64 copy
  (``curvlab.curvature.dense_hessian`` + ``scipy.linalg.eigvalsh``); the gap (λ₁ − λ₂)/λ₁ is
  reported — it is what decides how slow power iteration is.
* curvlab: ``max_stable_lr(model, loss, (X, y), tol=1e-4, seed=s)`` — Lanczos stopped by its
  a-posteriori Kato–Temple bound at 1e-4 relative (a guarantee, no tuning against the
  reference; see ``docs/curvature.md``).
* PyHessian: ``hessian(model, loss, data=(X, y), cuda=False).eigenvalues(tol=τ, maxIter=10⁵)``,
  with τ the loosest value on a fine ladder at which *every* seed lands within 1e-4 of the
  reference (chosen with hindsight from recorded runs, which favours PyHessian, then
  verified by the timed runs). One Hessian-vector product per power iteration (counted).
* Same model object, same data, same dtype (float32), same thread count; per seed the two
  methods run back to back in alternating order (interleaved); one untimed warm-up call each.
  Time = wall clock of the whole call, setup included (PyHessian's create-graph backward,
  our operator and its gradient graph). Medians over the seeds (start vectors).

    .venv/bin/python benchmarks/bench_curvature.py [--quick] [--seeds 7] [--cache DIR]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import torch
from sklearn.datasets import load_digits
from torch import nn
from tqdm import tqdm

import pyhessian  # noqa: F401  (the package; the class lives in pyhessian.hessian)
from curvlab.curvature import HessianOperator, dense_hessian, max_stable_lr
from curvlab.curvature.lanczos import lanczos_tridiagonal

pyh_module = importlib.import_module("pyhessian.hessian")  # the module (the package re-exports the class under that name)
from pyhessian.utils import group_product  # noqa: E402

TARGET = 1e-4
LADDER = (1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6, 2e-6, 1e-6, 5e-7, 2e-7, 1e-7, 5e-8)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target)


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(1, 8, 3)    # 8×8 → 6×6
        self.conv2 = nn.Conv2d(8, 16, 3)   # 6×6 → 4×4
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, 8, 8)         # (N, 64) → (N, 1, 8, 8)
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.fc(x.flatten(1))       # (N, 256) → (N, 10)


def mse_onehot(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error against one-hot targets (Cohen et al. 2021): mean over N·C entries."""
    return nn.functional.mse_loss(out, nn.functional.one_hot(y, out.shape[1]).to(out.dtype))


def train(name: str, make, loss_fn, X, y, steps: int, lr: float, cache: Path) -> nn.Module:
    """Full-batch gradient descent, cached on disk by (name, steps, lr)."""
    model = make()
    path = cache / f"{name}-gd{steps}-lr{lr}.pt"
    if path.exists():
        model.load_state_dict(torch.load(path))
        return model
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in tqdm(range(steps), desc=f"training {name}", disable=None):
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def reference(model: nn.Module, loss_fn, X, y, cache: Path, chunk_size: int) -> dict:
    """Top two eigenvalues of the dense float64 Hessian (cached by a hash of the weights)."""
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:16]
    path = cache / f"ref-{digest}.json"
    if path.exists():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    m64 = copy.deepcopy(model).double()
    H = dense_hessian(m64, loss_fn, (X.double(), y), chunk_size=chunk_size).numpy()
    P = H.shape[0]
    lam = scipy.linalg.eigvalsh(H, subset_by_index=[P - 2, P - 1])  # ascending
    ref = {"lam1": float(lam[1]), "lam2": float(lam[0]), "seconds": time.perf_counter() - t0}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ref))
    return ref


# ---------------------------------------------------------------------------------- runs
def run_curvlab(model, loss_fn, X, y, seed: int) -> dict:
    t0 = time.perf_counter()
    res = max_stable_lr(model, loss_fn, (X, y), tol=TARGET, seed=seed, max_matvecs=2000)
    secs = time.perf_counter() - t0
    return {"lam": res.lam_max, "hvps": res.num_matvecs, "secs": secs, "bound": res.lam_max_error / res.lam_max}


class _Enough(Exception):
    pass


def run_pyhessian(model, loss_fn, X, y, seed: int, tol: float, *, record_until: float | None = None,
                  max_iter: int = 100_000) -> dict:
    """One PyHessian top-eigenvalue call; with ``record_until`` = λ_ref, record the Rayleigh
    quotients it computes (one per product) and abort once one is within TARGET/4 of λ_ref."""
    trace: list[float] = []
    original = pyh_module.hessian_vector_product

    def counted(gradsH, params, v):
        Hv = original(gradsH, params, v)
        trace.append(float(group_product(Hv, v)))  # the Rayleigh quotient PyHessian forms next
        if record_until is not None and abs(record_until - trace[-1]) <= TARGET / 4 * record_until:
            raise _Enough
        return Hv

    pyh_module.hessian_vector_product = counted
    try:
        torch.manual_seed(seed)  # PyHessian draws its start vector from the global generator
        t0 = time.perf_counter()
        h = pyh_module.hessian(model, loss_fn, data=(X, y), cuda=False)
        lam = float("nan")
        try:
            eig, _ = h.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
            lam = eig[0]
        except _Enough:
            pass
        secs = time.perf_counter() - t0
    finally:
        pyh_module.hessian_vector_product = original
        model.zero_grad(set_to_none=True)
    return {"lam": lam, "hvps": len(trace), "secs": secs, "trace": trace}


def pyhessian_stop(trace: list[float], tol: float, max_iter: int = 100_000) -> tuple[int, float] | None:
    """(products, returned value) of PyHessian's rule on a recorded trace; None if beyond it.

    eigenvalues() stops at the first i ≥ 1 with |e_i − e_{i−1}|/(|e_{i−1}| + 1e-6) < tol and
    returns e_{i−1} (after i + 1 products), or e_{maxIter−1} after maxIter products.
    """
    for i in range(1, min(len(trace), max_iter)):
        if abs(trace[i - 1] - trace[i]) / (abs(trace[i - 1]) + 1e-6) < tol:
            return i + 1, trace[i - 1]
    if len(trace) >= max_iter:
        return max_iter, trace[max_iter - 1]
    return None


def lanczos_oracle(model, loss_fn, X, y, seed: int, steps: int, lam_ref: float) -> int:
    """Products after which the top Ritz value is first within TARGET of λ_ref (hindsight)."""
    alpha, beta, _ = lanczos_tridiagonal(HessianOperator(model, loss_fn, (X, y)), steps, seed=seed)
    for m in range(1, len(alpha) + 1):
        theta = scipy.linalg.eigvalsh_tridiagonal(alpha[:m], beta[: m - 1]) if m > 1 else alpha[:1]
        if (lam_ref - theta[-1]) <= TARGET * lam_ref:
            return m
    return len(alpha) + 1


def calibrate_pyhessian(model, loss_fn, X, y, lam_ref: float, seeds) -> tuple[float, list[dict]]:
    traces = [run_pyhessian(model, loss_fn, X, y, s, tol=0.0, record_until=lam_ref)["trace"] for s in seeds]
    for tol in LADDER:
        stops = [pyhessian_stop(t, tol) for t in traces]
        if all(st is None or abs(lam_ref - st[1]) <= TARGET * lam_ref for st in stops):
            return tol, traces
    return LADDER[-1], traces


def bench_model(name, model, loss_fn, X, y, seeds, cache, log, chunk_size: int) -> dict:
    P = sum(p.numel() for p in model.parameters())
    ref = reference(model, loss_fn, X, y, cache, chunk_size)
    lam1, lam2 = ref["lam1"], ref["lam2"]
    gap = (lam1 - lam2) / lam1
    log(f"\n{name}: P = {P}, N = {X.shape[0]}, loss {loss_fn(model(X), y).item():.3e}, dense float64 "
        f"λ1 = {lam1:.6f}, λ2 = {lam2:.6f}, gap (λ1−λ2)/λ1 = {gap:.4f} (reference took {ref['seconds']:.0f} s)")

    # warm-up (one-time allocations, imports) — not timed
    run_curvlab(model, loss_fn, X, y, 0)
    run_pyhessian(model, loss_fn, X, y, 0, tol=1e-2)

    tol, traces = calibrate_pyhessian(model, loss_fn, X, y, lam1, seeds)
    defaults = [pyhessian_stop(t, 1e-3, max_iter=100) for t in traces]
    default_errs = [abs(lam1 - d[1]) / lam1 for d in defaults if d is not None]
    log(f"  PyHessian at its defaults (tol 1e-3, maxIter 100), from the recorded runs: relative error "
        f"{min(default_errs):.1e}–{max(default_errs):.1e} (low), {statistics.median(d[0] for d in defaults if d):.0f} products")

    while True:
        cur, pyh = [], []
        for i, s in enumerate(tqdm(seeds, desc=f"{name} timed runs", disable=None)):
            order = (0, 1) if i % 2 == 0 else (1, 0)  # interleaved, alternating which goes first
            for o in order:
                if o == 0:
                    cur.append(run_curvlab(model, loss_fn, X, y, s))
                else:
                    pyh.append(run_pyhessian(model, loss_fn, X, y, s, tol=tol))
        pyh_errs = [abs(lam1 - r["lam"]) / lam1 for r in pyh]
        if max(pyh_errs) <= TARGET or tol == LADDER[-1]:
            break
        log(f"  PyHessian tol {tol:g} missed 1e-4 on a timed run ({max(pyh_errs):.1e}); tightening")
        tol = LADDER[LADDER.index(tol) + 1]
    cur_errs = [abs(lam1 - r["lam"]) / lam1 for r in cur]
    oracle = [lanczos_oracle(model, loss_fn, X, y, s, max(r["hvps"], 1) + 5, lam1) for s, r in zip(seeds, cur)]
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    out = {
        "name": name, "P": P, "lam1": lam1, "lam2": lam2, "gap": gap,
        "cur_hvps": med(cur, "hvps"), "cur_secs": med(cur, "secs"), "cur_err": max(cur_errs),
        "cur_bound": max(r["bound"] for r in cur), "oracle_hvps": statistics.median(oracle),
        "pyh_tol": tol, "pyh_hvps": med(pyh, "hvps"), "pyh_secs": med(pyh, "secs"), "pyh_err": max(pyh_errs),
        "cur_all": [(r["hvps"], round(r["secs"], 3)) for r in cur],
        "pyh_all": [(r["hvps"], round(r["secs"], 3)) for r in pyh],
    }
    out["hvp_ratio"] = out["cur_hvps"] / out["pyh_hvps"]
    out["time_ratio"] = out["cur_secs"] / out["pyh_secs"]
    log(f"  curvlab  max_stable_lr(tol=1e-4): median {out['cur_hvps']:.0f} HVPs, {out['cur_secs'] * 1e3:.0f} ms; "
        f"max rel err {out['cur_err']:.1e} (certified bound ≤ {out['cur_bound']:.1e}); hindsight-oracle stop "
        f"{out['oracle_hvps']:.0f} HVPs   runs {out['cur_all']}")
    log(f"  PyHessian tol={tol:g}: median {out['pyh_hvps']:.0f} HVPs, {out['pyh_secs'] * 1e3:.0f} ms; max rel err "
        f"{out['pyh_err']:.1e}   runs {out['pyh_all']}")
    log(f"  ratio curvlab / PyHessian: HVPs {out['hvp_ratio']:.3f}, time {out['time_ratio']:.3f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds and shorter training (other models!)")
    parser.add_argument("--seeds", type=int, default=None, help="number of start-vector seeds (default 7; quick 3)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/curvlab-bench-cache"),
                        help="where trained weights and dense references are kept between runs")
    parser.add_argument("--only", choices=("mlp", "cnn", "cnn-mse"), default=None)
    args = parser.parse_args()
    seeds = list(range(args.seeds or (3 if args.quick else 7)))
    lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    log(f"machine: {platform.machine()} · {torch.get_num_threads()} torch threads · Python "
        f"{platform.python_version()} · torch {torch.__version__} · numpy {np.__version__} · scipy "
        f"{scipy.__version__} · pyhessian 0.1 (PyPI)")
    X, y = digits()
    steps = 300 if args.quick else 3000
    results = []
    if args.only in (None, "mlp"):
        model = train("mlp-64-64-32-10-mse", mlp, mse_onehot, X, y, steps, 0.5, args.cache)
        results.append(bench_model("digits MLP 64-64-32-10 tanh, MSE", model, mse_onehot, X, y, seeds, args.cache, log, 256))
    if args.only in (None, "cnn"):
        model = train("cnn-8-16-ce", SmallCNN, nn.CrossEntropyLoss(), X, y, steps // 3, 0.5, args.cache)
        results.append(bench_model("digits CNN 8-16 tanh, cross-entropy", model, nn.CrossEntropyLoss(), X, y,
                                   seeds, args.cache, log, 24))
    if args.only in (None, "cnn-mse"):
        # The MLP's protocol on the CNN: MSE on one-hot targets, full-batch GD to the edge of stability.
        model = train("cnn-8-16-mse", SmallCNN, mse_onehot, X, y, steps, 0.5, args.cache)
        results.append(bench_model("digits CNN 8-16 tanh, MSE", model, mse_onehot, X, y, seeds, args.cache, log, 24))
    log("\n| model | P | λ₁ | (λ₁−λ₂)/λ₁ | method | stopping rule | median HVPs | median time (ms) | max rel. error |")
    log("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        log(f"| {r['name']} | {r['P']} | {r['lam1']:.4f} | {r['gap']:.2e} | curvlab `max_stable_lr` | "
            f"tol=1e-4 (certified ≤ {r['cur_bound']:.1e}) | {r['cur_hvps']:.0f} | {r['cur_secs'] * 1e3:.0f} | {r['cur_err']:.1e} |")
        log(f"| | | | | PyHessian power | tol={r['pyh_tol']:g} (hindsight) | {r['pyh_hvps']:.0f} | "
            f"{r['pyh_secs'] * 1e3:.0f} | {r['pyh_err']:.1e} |")
        log(f"| | | | | **ratio** | | **{r['hvp_ratio']:.3f}** | **{r['time_ratio']:.3f}** | |")


if __name__ == "__main__":
    main()
