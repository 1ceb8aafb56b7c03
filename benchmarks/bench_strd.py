"""Correct digits on the eleven NIST StRD linear-regression sets: curvlab vs its peers.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_strd.py [--markdown]

For each set (data and certified values in ``tests/linear/_certified.py``, each checked against
NIST by ``tests/linear/test_strd_data.py``), X is built in float64 as a user builds it
(x parsed to float64, then ``x[:, None] ** arange(1, degree + 1)``) and fitted by

* curvlab ``OLS()`` (default solver "auto"),
* statsmodels ``OLS(y, add_constant(X)).fit()`` (pinv, its default),
* ``numpy.linalg.lstsq([1 X], y)``, standard errors from ``numpy.linalg.pinv``,
* Householder QR of [1 X] (``scipy.linalg.qr``, economic), β = R⁻¹Qᵀy, (ZᵀZ)⁻¹ = R⁻¹R⁻ᵀ,
* and the bound: the same float64 problem solved exactly in 60-digit arithmetic (mpmath).

The score is NIST's LRE (log relative error = number of correct significant digits, capped
at 15; for a certified 0 the absolute error), the minimum over the coefficients and over the
standard errors of a set. Accuracy is deterministic: no repeats, no timing.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "linear"))
from _certified import STRD, lre  # noqa: E402


def _design(s):
    return np.column_stack([np.ones(len(s.y)), s.X]) if s.intercept else s.X


def _inference(Z, y, beta, C):
    r = y - Z @ beta
    df = Z.shape[0] - Z.shape[1]
    return beta, np.sqrt(r @ r / df * np.diag(C))


def fit_curvlab(s):
    from curvlab.linear import OLS

    m = OLS(fit_intercept=s.intercept).fit(s.X, s.y)
    return m.params_, m.bse_


def fit_statsmodels(s):
    import statsmodels.api as sm

    res = sm.OLS(s.y, _design(s)).fit()
    return res.params, res.bse


def fit_lstsq(s):
    Z = _design(s)
    beta = np.linalg.lstsq(Z, s.y, rcond=None)[0]
    P = np.linalg.pinv(Z)
    return _inference(Z, s.y, beta, P @ P.T)


def fit_qr(s):
    Z = _design(s)
    Q, R = scipy.linalg.qr(Z, mode="economic")
    beta = scipy.linalg.solve_triangular(R, Q.T @ s.y)
    R_inv = scipy.linalg.solve_triangular(R, np.eye(R.shape[0]))
    return _inference(Z, s.y, beta, R_inv @ R_inv.T)


def fit_exact(s):
    """The bound: the float64 problem solved exactly (mpmath, 60 digits)."""
    import mpmath as mp

    with mp.workdps(60):
        Z = mp.matrix([[mp.mpf(float(v)) for v in row] for row in _design(s)])
        y = mp.matrix([mp.mpf(float(v)) for v in s.y])
        G = Z.T * Z
        beta = mp.lu_solve(G, Z.T * y)
        r = y - Z * beta
        C = mp.inverse(G)
        s2 = sum(v**2 for v in r) / (Z.rows - Z.cols)
        return (np.array([float(v) for v in beta]),
                np.array([float(mp.sqrt(s2 * C[j, j])) for j in range(Z.cols)]))


PEERS = {"curvlab": fit_curvlab, "statsmodels": fit_statsmodels, "lstsq": fit_lstsq,
         "QR": fit_qr, "bound (exact, float64 data)": fit_exact}


def table() -> dict[str, dict[str, tuple[float, float]]]:
    """name → solver → (min LRE of the coefficients, min LRE of the standard errors)."""
    out = {}
    for name, s in STRD.items():
        out[name] = {}
        for solver, fit in PEERS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, bse = fit(s)
            out[name][solver] = (float(lre(params, s.params).min()), float(lre(bse, s.bse).min()))
    return out


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    t = table()
    head = "| set | " + " | ".join(f"{p} coef / SE" for p in PEERS) + " |"
    print(head)
    print("|---" * (len(PEERS) + 1) + "|")
    for name, row in t.items():
        cells = [f"{c:.1f} / {e:.1f}" for c, e in row.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
