"""Benchmark: marginalized dropout (closed form) vs sampled dropout SGD, to the same coefficients.

For each data set and rate, the reference is the marginalized solution ω* (notes §4, (30)
corrected). Sampled dropout SGD runs until its (averaged) coefficients are within ``--tol``
(default 1e-3) relative distance of ω*: a first run with a cap on the epochs finds the first
epoch E that reaches the target, then a fresh run of exactly E epochs with the same seed (the
same trajectory, checked) is timed. The closed form is timed as the median of many fits; the
peer for it is scikit-learn's ``Ridge(alpha=σ²)`` on features rescaled by diag(XᵀX)^{-1/2}
(timed including the rescaling). Objectives J_R of the results are compared.

    .venv/bin/python benchmarks/bench_dropout.py            # full
    .venv/bin/python benchmarks/bench_dropout.py --quick    # diabetes, one SGD setting, 1 seed
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from curvlab.dropout import DropoutRegression, fit_sampled, noise_variance


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def datasets(quick: bool):
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes (442×10, standardized)", (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    if not quick:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((2000, 20)) * rng.uniform(0.5, 2.0, 20)
        yield "synthetic (2000×20)", X, X @ rng.standard_normal(20) + rng.standard_normal(2000)


SGD_SETTINGS = {
    "default (batch 32, invscaling, averaged)": {},
    "full batch, constant lr, averaged": {"batch_size": 10**9, "lr_schedule": "constant"},
}


def objective(X, y, w, b, sigma2) -> float:
    """J_R / N of (30), corrected."""
    return float(np.mean((y - X @ w - b) ** 2) + sigma2 * np.sum(w**2 * np.mean(X**2, 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--max-epochs", type=int, default=200_000)
    args = ap.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    settings = ({k: v for k, v in SGD_SETTINGS.items() if "full batch" in k} if args.quick else SGD_SETTINGS)
    rates = [0.5]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; python {platform.python_version()}, numpy "
          f"{np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}")
    print(f"target: relative coefficient distance ≤ {args.tol:g}; seeds {seeds}\n")
    header = ("| data | rate | method | epochs | time (s) | rel. distance | J_R/N − J_R*/N | ratio to closed form |\n"
              "|---|---|---|---|---|---|---|---|")
    print(header)
    for name, X, y in datasets(args.quick):
        for rate in rates:
            sigma2 = noise_variance(rate)
            t_closed, model = timed(lambda: DropoutRegression(rate=rate).fit(X, y), 50)
            w_star, b_star = model.coef_, model.intercept_
            J_star = objective(X, y, w_star, b_star, sigma2)
            D = np.sum(X**2, 0)

            def ridge_fit():
                r = Ridge(alpha=sigma2, solver="cholesky").fit(X / np.sqrt(D), y)
                return r.coef_ / np.sqrt(D)

            t_ridge, w_ridge = timed(ridge_fit, 50)
            rel_ridge = np.linalg.norm(w_ridge - w_star) / np.linalg.norm(w_star)
            print(f"| {name} | {rate} | marginalized (curvlab) | — | {t_closed:.2e} | 0 | 0 | 1 |")
            print(f"| {name} | {rate} | sklearn Ridge on rescaled X (peer) | — | {t_ridge:.2e} | "
                  f"{rel_ridge:.1e} | {objective(X, y, w_ridge, model.intercept_, sigma2) - J_star:.1e} | "
                  f"{t_ridge / t_closed:.2g} |")
            for label, extra in settings.items():
                times, epochs, dists, gaps = [], [], [], []
                for seed in seeds:
                    scale = np.linalg.norm(w_star)

                    def reached(epoch, coef, intercept):
                        return np.linalg.norm(coef - w_star) / scale <= args.tol

                    scan = fit_sampled(X, y, rate, epochs=args.max_epochs, seed=seed, progress=False,
                                       callback=reached, **_sgd_kwargs(extra))
                    dist = np.linalg.norm(scan.coef_history - w_star, axis=1) / scale
                    hit = np.flatnonzero(dist <= args.tol)
                    if hit.size == 0:
                        print(f"| {name} | {rate} | sampled, {label} | > {args.max_epochs} | — | "
                              f"{dist[-1]:.1e} (not reached) | — | — |")
                        break
                    E = int(hit[0])
                    est = DropoutRegression(rate=rate, solver="sampled", max_iter=E, seed=seed,
                                            progress=False, **extra)
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    times.append(time.perf_counter() - t0)
                    assert np.array_equal(est.coef_, scan.coef_history[E]), "timed run must replay the scan"
                    epochs.append(E)
                    dists.append(dist[E])
                    gaps.append(objective(X, y, est.coef_, est.intercept_, sigma2) - J_star)
                else:
                    t = statistics.median(times)
                    print(f"| {name} | {rate} | sampled, {label} | {int(statistics.median(epochs))} | "
                          f"{t:.2f} | {max(dists):.1e} | {max(gaps):.1e} | {t / t_closed:.1e} |")


def _sgd_kwargs(extra: dict) -> dict:
    return {"batch_size": 32, **extra}


if __name__ == "__main__":
    main()
