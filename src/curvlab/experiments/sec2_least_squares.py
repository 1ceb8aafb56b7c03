"""§2.2–2.3: the expected training error of least squares is (N − d)/N · σ² (eq. 13).

Measured by Monte Carlo: for each (N, d) we draw a Gaussian design X and noise ε ~ N(0, σ²I)
many times, fit least squares, and average the training error ‖(A − I)ε‖²/N. The mean gets a
confidence interval (Bonferroni-corrected over all (N, d) pairs, family level 99 %) that must
contain the prediction. The same is done on a real design (scikit-learn's diabetes data with
an intercept column), and the identity tr(I − A) = N − d is checked on several designs.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from ..linear.theory import expected_training_error, residual_trace
from . import experiment, progress
from .findings import Figure, Finding, check, new_figure

SIGMA2 = 2.0          # noise variance of the simulations
FAMILY_ALPHA = 0.01   # family-wise level of the confidence intervals

_SIZES = {
    "quick": {"reps": 1500, "pairs": [(40, 4), (40, 20), (40, 36), (200, 190)], "sweep_N": 40, "sweep_reps": 300},
    "full": {"reps": 20000, "pairs": [(40, 4), (40, 20), (40, 36), (200, 20), (200, 190), (1000, 500)],
             "sweep_N": 60, "sweep_reps": 3000},
}


def _mc_training_errors(rng: np.random.Generator, N: int, d: int, reps: int, X_fixed=None,
                        chunk: int = 256, bar=None) -> np.ndarray:
    """Training errors ‖(I − A)ε‖²/N of `reps` independent least-squares fits (``bar``
    advances by the fits of each chunk)."""
    out = np.empty(reps)
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        if X_fixed is None:
            X = rng.standard_normal((m, N, d))                     # (m, N, d) fresh designs
        else:
            X = np.broadcast_to(X_fixed, (m, N, d))
        eps = rng.normal(0.0, np.sqrt(SIGMA2), size=(m, N, 1))     # (m, N, 1)
        Q, _ = np.linalg.qr(X)                                     # (m, N, d), batched thin QR
        resid = eps - Q @ (np.swapaxes(Q, 1, 2) @ eps)             # (I − A) ε, (m, N, 1)
        out[start:start + m] = np.sum(resid[..., 0] ** 2, axis=1) / N
        if bar is not None:
            bar.update(m)
    return out


def _interval(samples: np.ndarray, z: float) -> tuple[float, float, float]:
    mean = float(samples.mean())
    half = z * float(samples.std(ddof=1)) / np.sqrt(samples.size)
    return mean, mean - half, mean + half


def _diabetes_design() -> np.ndarray:
    from sklearn.datasets import load_diabetes

    X = load_diabetes().data                                        # (442, 10), real covariates
    return np.column_stack([np.ones(X.shape[0]), X])                # (442, 11) with intercept


@experiment(section="2", name="training-error")
def training_error(size: str, seed: int) -> list[Finding]:
    # Thousands of tiny QR factorizations: BLAS threads only add contention here.
    with threadpool_limits(limits=1, user_api="blas"):
        return _training_error(size, seed)


def _training_error(size: str, seed: int) -> list[Finding]:
    cfg = _SIZES[size]
    rng = np.random.default_rng([seed, 2])
    X_real = _diabetes_design()
    cases = [(N, d, None) for N, d in cfg["pairs"]] + [(X_real.shape[0], X_real.shape[1], X_real)]
    z = float(stats.norm.ppf(1 - FAMILY_ALPHA / (2 * len(cases))))
    findings: list[Finding] = []
    rows = []
    ds = np.arange(1, cfg["sweep_N"], max(1, cfg["sweep_N"] // 20))
    bar = progress(total=len(cases) * cfg["reps"] + len(ds) * cfg["sweep_reps"], desc="§2 least-squares fits",
                   unit="fit")
    for N, d, X in cases:
        errs = _mc_training_errors(rng, N, d, cfg["reps"], X, bar=bar)
        mean, lo, hi = _interval(errs, z)
        pred = expected_training_error(N, d, SIGMA2)
        label = "diabetes design" if X is not None else "Gaussian design"
        rows.append({"N": N, "d": d, "design": label, "measured": mean, "ci_low": lo, "ci_high": hi,
                     "predicted": pred})
        findings.append(Finding(
            section="2", ref="§2.2, eq. (13)",
            claim=f"expected least-squares training error, N={N}, d={d} ({label}, σ²={SIGMA2:g})",
            measured=mean, predicted=pred,
            tolerance=f"{100 * (1 - FAMILY_ALPHA):g}% family-wise CI [{lo:.4g}, {hi:.4g}], {cfg['reps']} fits",
            verdict=check(lo <= pred <= hi),
            equation="E[‖(X(XᵀX)⁻¹Xᵀ − I)ε‖² / N] = (N − d)/N · σ²",
            details={"replicates": cfg["reps"], "ci_low": lo, "ci_high": hi, "z": z},
        ))

    # §2.3: the curve in d at fixed N, against the theory line (1 − d/N)σ².
    N = cfg["sweep_N"]
    z_sweep = float(stats.norm.ppf(1 - FAMILY_ALPHA / (2 * len(ds))))
    sweep = [_interval(_mc_training_errors(rng, N, int(d), cfg["sweep_reps"], bar=bar), z_sweep) for d in ds]
    bar.close()
    means = np.array([s[0] for s in sweep])
    hits = sum(lo <= expected_training_error(N, int(d), SIGMA2) <= hi for d, (_, lo, hi) in zip(ds, sweep))
    inside = hits == len(ds)
    decreasing = bool(np.all(np.diff(means) < 0))
    fig, ax = new_figure(size=(6.2, 4.0))
    ax.errorbar(ds / N, means, yerr=[means - [s[1] for s in sweep], [s[2] for s in sweep] - means],
                fmt="o", ms=4, capsize=2, label=f"Monte Carlo, N={N} (family 99% CI)")
    for row in rows:
        ax.plot(row["d"] / row["N"], row["measured"], "s", ms=6, mfc="none",
                label=f"N={row['N']}, d={row['d']} ({row['design'].split()[0]})")
    grid = np.linspace(0, 1, 101)
    ax.plot(grid, (1 - grid) * SIGMA2, "k-", lw=1.2, label="(N − d)/N · σ²  (13)")
    ax.set_xlabel("d / N")
    ax.set_ylabel("mean training error ‖ŷ − y‖²/N")
    ax.set_title("Least squares: training error falls linearly to 0 at d = N")
    ax.legend(fontsize=7)
    figure = Figure.from_matplotlib(fig, "sec2-training-error", "Measured training error against d/N, with "
                                    "the theory line (N − d)/N·σ² of eq. (13).")
    findings.append(Finding(
        section="2", ref="§2.3",
        claim=f"the training error falls linearly in d and vanishes as d → N (N={N}, {len(ds)} values of d)",
        measured=f"{hits}/{len(ds)} in CI" + ("" if decreasing else ", not decreasing"),
        predicted=f"{len(ds)}/{len(ds)} in CI",
        tolerance=f"every point's family-wise 99% CI contains the line; means strictly decreasing",
        verdict=check(inside and decreasing),
        equation="E[training error] = (1 − d/N) σ²",
        details={"curve": [{"d": int(d), "measured": m, "predicted": expected_training_error(N, int(d), SIGMA2)}
                           for d, m in zip(ds, means)], "cases": rows},
        figures=(figure,),
    ))

    # The trace identity tr(I − A) = N − d, on well- and ill-conditioned designs.
    designs = {
        "Gaussian 50×10": rng.standard_normal((50, 10)),
        "diabetes 442×11": X_real,
        "Vandermonde 30×8 (cond ≈ 1e9)": np.vander(np.linspace(0, 1, 30), 8, increasing=True),
    }
    trace_rows = []
    for name, X in designs.items():
        tr = residual_trace(X)
        trace_rows.append({"design": name, "trace": tr, "N - d": X.shape[0] - X.shape[1],
                           "cond": float(np.linalg.cond(X))})
    worst = max(abs(r["trace"] - r["N - d"]) for r in trace_rows)
    findings.append(Finding(
        section="2", ref="§2.2, eqs. (12)–(13)",
        claim="the residual projector I − A has trace N − d (A idempotent, tr A = rank X)",
        measured=worst, predicted=0.0, tolerance="max |tr(I − A) − (N − d)| ≤ 1e-8",
        verdict=check(worst <= 1e-8),
        equation="tr(I − X(XᵀX)⁻¹Xᵀ) = N − d",
        details={"designs": trace_rows},
    ))
    return findings
