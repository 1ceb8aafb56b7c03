"""The embedded NIST StRD data reproduce NIST's certified values (so a typo cannot hide).

Reference: the certified values themselves; the least-squares problem is solved from the
decimal text of the data in 60-digit arithmetic (mpmath), independent of curvlab and of
float64 rounding. Every certified coefficient, standard error and residual SD must come out
to at least 13 of its 15 printed digits (NIST's values are rounded to 15).
"""

import mpmath as mp
import numpy as np
import pytest

from ._certified import _WAMPLER_E, STRD


def _exact_fit(s):
    with mp.workdps(60):
        if s.degree:
            xs = [mp.mpf(v) for v in s.x_text]
            rows = [[x**k for k in range(1, s.degree + 1)] for x in xs]
        else:
            rows = [[mp.mpf(v) for v in r] for r in s.x_text]
        Z = mp.matrix([([1] if s.intercept else []) + r for r in rows])  # (n, p)
        y = mp.matrix([mp.mpf(v) for v in s.y_text])
        G = Z.T * Z
        beta = mp.lu_solve(G, Z.T * y)
        r = y - Z * beta
        ssr = sum(v**2 for v in r)
        df = Z.rows - Z.cols
        C = mp.inverse(G)
        bse = [mp.sqrt(ssr / df * C[j, j]) for j in range(Z.cols)]
        return ([float(v) for v in beta], [float(v) for v in bse], float(mp.sqrt(ssr / df)))


def _agree(a, b, digits=13):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.all(np.abs(a - b) <= 10.0**-digits * np.abs(b) + 1e-300)


@pytest.mark.parametrize("name", list(STRD))
def test_embedded_data_reproduce_certified_values(name):
    s = STRD[name]
    beta, bse, sd = _exact_fit(s)
    assert _agree(beta, s.params), (beta, s.params)
    if s.resid_sd == 0:  # Wampler1/2: an exact fit
        assert sd < 1e-40 and max(bse) < 1e-40
    else:
        assert _agree(bse, s.bse), (bse, s.bse)
        assert _agree(sd, s.resid_sd)


def test_wampler_3_to_5_are_wampler1_plus_a_scaled_orthogonal_perturbation():
    w1 = STRD["Wampler1"].y
    for which, c in ((3, 1), (4, 100), (5, 10000)):
        np.testing.assert_array_equal(STRD[f"Wampler{which}"].y - w1, c * _WAMPLER_E)
