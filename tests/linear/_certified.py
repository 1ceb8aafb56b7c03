"""Certified values used as references by the tests (not outputs of curvlab).

Longley: NIST StRD certified regression results (15 significant digits),
https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml — intercept first, then
GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR.
Wampler1/2: NIST StRD polynomial problems, y = Σ_{k=0..5} x^k and Σ (0.1)^k x^k for
x = 0..20, whose exact coefficients are 1 and 0.1^k.
"""

import numpy as np

LONGLEY_PARAMS = np.array([
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355])
LONGLEY_BSE = np.array([
    890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699,
    0.214274163161675, 0.226073200069370, 455.478499142212])
LONGLEY_RESIDUAL_SD = 304.854073561965
LONGLEY_R2 = 0.995479004577296


def wampler(which: int):
    """(X (21, 5) = [x, x², …, x⁵], y, exact coefficients [b₀, …, b₅])."""
    x = np.arange(21.0)
    coef = np.ones(6) if which == 1 else 0.1 ** np.arange(6)
    V = x[:, None] ** np.arange(6)  # (21, 6)
    return V[:, 1:], V @ coef, coef


def correct_digits(estimate, exact):
    """Number of correct significant digits, per entry (capped at 16)."""
    estimate, exact = np.asarray(estimate, float), np.asarray(exact, float)
    rel = np.abs(estimate - exact) / np.abs(exact)
    return np.minimum(-np.log10(np.maximum(rel, 1e-16)), 16.0)
