"""Certified values used as references by the tests (not outputs of curvlab).

NIST Statistical Reference Datasets (StRD), linear least-squares regression:
https://www.itl.nist.gov/div898/strd/lls/lls.shtml — the eleven sets Norris, Pontius, NoInt1,
NoInt2, Longley, Wampler1–5 and Filip, with their certified coefficients (intercept first),
standard errors and residual standard deviations (15 significant digits, computed by NIST
in 500-digit arithmetic). The data and certified values are published facts; they were typed
here from the NIST files and are checked by ``test_strd_data.py``, which recomputes every
certified value from the embedded data in 80-digit arithmetic (mpmath): a typo in one datum
shows there as a failure.

The data are kept as decimal text so that a test can build X "as a user builds it": parse
to float64, then raise x to the powers in float64.
"""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from curvlab.data.longley import load_longley

_NORRIS = """
0.1 0.2
338.8 337.4
118.1 118.2
888.0 884.6
9.2 10.1
228.1 226.5
668.5 666.3
998.5 996.3
449.1 448.6
778.9 777.0
559.2 558.2
0.3 0.4
0.1 0.6
778.1 775.5
668.8 666.9
339.3 338.0
448.9 447.5
10.8 11.6
557.7 556.0
228.3 228.1
998.0 995.8
888.8 887.6
119.6 120.2
0.3 0.3
0.6 0.3
557.6 556.8
339.3 339.1
888.0 887.2
998.5 999.0
778.9 779.0
10.2 11.1
117.6 118.3
228.9 229.2
668.4 669.1
449.2 448.9
0.2 0.5
"""

_PONTIUS = """
.11019 150000
.21956 300000
.32949 450000
.43899 600000
.54803 750000
.65694 900000
.76562 1050000
.87487 1200000
.98292 1350000
1.09146 1500000
1.20001 1650000
1.30822 1800000
1.41599 1950000
1.52399 2100000
1.63194 2250000
1.73947 2400000
1.84646 2550000
1.95392 2700000
2.06128 2850000
2.16844 3000000
.11052 150000
.22018 300000
.32939 450000
.43886 600000
.54798 750000
.65739 900000
.76596 1050000
.87474 1200000
.98300 1350000
1.09150 1500000
1.20004 1650000
1.30818 1800000
1.41613 1950000
1.52408 2100000
1.63159 2250000
1.73965 2400000
1.84696 2550000
1.95445 2700000
2.06177 2850000
2.16829 3000000
"""

_FILIP = """
0.8116 -6.860120914
0.9072 -4.324130045
0.9052 -4.358625055
0.9039 -4.358426747
0.8053 -6.955852379
0.8377 -6.661145254
0.8667 -6.355462942
0.8809 -6.118102026
0.7975 -7.115148017
0.8162 -6.815308569
0.8515 -6.519993057
0.8766 -6.204119983
0.8885 -5.853871964
0.8859 -6.109523091
0.8959 -5.79832982
0.8913 -5.482672118
0.8959 -5.171791386
0.8971 -4.851705903
0.9021 -4.517126416
0.909 -4.143573228
0.9139 -3.709075441
0.9199 -3.499489089
0.8692 -6.300769497
0.8872 -5.953504836
0.89 -5.642065153
0.891 -5.031376979
0.8977 -4.680685696
0.9035 -4.329846955
0.9078 -3.928486195
0.7675 -8.56735134
0.7705 -8.363211311
0.7713 -8.107682739
0.7736 -7.823908741
0.7775 -7.522878745
0.7841 -7.218819279
0.7971 -6.920818754
0.8329 -6.628932138
0.8641 -6.323946875
0.8804 -5.991399828
0.7668 -8.781464495
0.7633 -8.663140179
0.7678 -8.473531488
0.7697 -8.247337057
0.77 -7.971428747
0.7749 -7.676129393
0.7796 -7.352812702
0.7897 -7.072065318
0.8131 -6.774174009
0.8498 -6.478861916
0.8741 -6.159517513
0.8061 -6.835647144
0.846 -6.53165267
0.8751 -6.224098421
0.8856 -5.910094889
0.8919 -5.598599459
0.8934 -5.290645224
0.894 -4.974284616
0.8957 -4.64454848
0.9047 -4.290560426
0.9129 -3.885055584
0.9209 -3.408378962
0.9219 -3.13200249
0.7739 -8.726767166
0.7681 -8.66695597
0.7665 -8.511026475
0.7703 -8.165388579
0.7702 -7.886056648
0.7761 -7.588043762
0.7809 -7.283412422
0.7961 -6.995678626
0.8253 -6.691862621
0.8602 -6.392544977
0.8809 -6.067374056
0.8301 -6.684029655
0.8664 -6.378719832
0.8834 -6.065855188
0.8898 -5.752272167
0.8964 -5.132414673
0.8963 -4.811352704
0.9074 -4.098269308
0.9119 -3.66174277
0.9228 -3.2644011
"""

# Wampler3–5 are Wampler1 (y = Σ_{k≤5} x^k) plus a perturbation orthogonal to every polynomial
# of degree ≤ 5, scaled by 1, 100, 10000: their certified coefficients are all exactly 1. The
# y values below are the NIST files' (test_strd_data checks y − Wampler1 = c·_WAMPLER_E).
_WAMPLER_E = np.array([759, -2048, 2048, -2048, 2523, -2048, 2048, -2048, 1838, -2048, 2048,
                       -2048, 1838, -2048, 2048, -2048, 2523, -2048, 2048, -2048, 759], float)
_WAMPLER_Y = {
    3: [760, -2042, 2111, -1684, 3888, 1858, 11379, 17560, 39287, 64382, 113159, 175108,
        273291, 400186, 581243, 811568, 1121004, 1506550, 2002767, 2611612, 3369180],
    4: [75901, -204794, 204863, -204436, 253665, -200894, 214131, -185192, 221249, -138370,
        315911, -27644, 455253, 197434, 783995, 608816, 1370781, 1303798, 2205519, 2408860,
        3444321],
    5: [7590001, -20479994, 20480063, -20479636, 25231365, -20476094, 20489331, -20460392,
        18417449, -20413570, 20591111, -20302844, 18651453, -20077766, 21059195, -19666384,
        26348481, -18971402, 22480719, -17866340, 10958421],
}
_WAMPLER_SE = np.array([2152.32624678170, 2363.55173469681, 779.343524331583,
                        101.475507550350, 5.64566512170752, 0.112324854679312])


@dataclass(frozen=True)
class StRD:
    """One NIST StRD linear regression problem.

    X : (n, d) float64 design without the intercept column.   y : (n,).
    intercept : whether the model has one (NoInt1/2 do not).
    params, bse : certified coefficients and standard errors (intercept first).
    resid_sd : certified residual standard deviation √(SSR/(n − p)).
    difficulty : NIST's level (lower, average, higher).
    x_text, y_text : the data as decimal strings (for the exact recomputation).
    degree : polynomial degree when X = [x, x², …] (0 for a general design).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    intercept: bool
    params: np.ndarray
    bse: np.ndarray
    resid_sd: float
    difficulty: str
    x_text: tuple
    y_text: tuple
    degree: int


def _parse(text: str, y_first: bool = True):
    a, b = zip(*(ln.split() for ln in text.strip().splitlines()))
    return (a, b) if y_first else (b, a)


def _poly(x_text, degree):
    x = np.array([float(v) for v in x_text])
    return x[:, None] ** np.arange(1, degree + 1)  # (n, degree): as a user builds it


def _make(name, y_text, x_text, degree, params, bse, resid_sd, difficulty, intercept=True):
    X = _poly(x_text, degree) if degree else np.array([[float(v) for v in r] for r in x_text])
    return StRD(name, X, np.array([float(v) for v in y_text]), intercept, np.array(params, float),
                np.array(bse, float), float(resid_sd), difficulty, tuple(x_text), tuple(y_text),
                degree)


def _sets() -> dict[str, StRD]:
    out = {}
    y, x = _parse(_NORRIS)
    out["Norris"] = _make("Norris", y, x, 1, [-0.262323073774029, 1.00211681802045],
                          [0.232818234301152, 0.429796848199937e-03], 0.884796396144373, "lower")
    y, x = _parse(_PONTIUS)
    out["Pontius"] = _make(
        "Pontius", y, x, 2,
        [0.673565789473684e-03, 0.732059160401003e-06, -0.316081871345029e-14],
        [0.107938612033077e-03, 0.157817399981659e-09, 0.486652849992036e-16],
        0.205177424076185e-03, "lower")
    x = tuple(str(v) for v in range(60, 71))
    y = tuple(str(v) for v in range(130, 141))
    out["NoInt1"] = _make("NoInt1", y, x, 1, [2.07438016528926], [0.165289256198347e-01],
                          3.56753034006338, "average", intercept=False)
    out["NoInt2"] = _make("NoInt2", ("3", "4", "4"), ("4", "5", "6"), 1, [0.727272727272727],
                          [0.420827318078432e-01], 0.369274472937998, "average", intercept=False)
    d = load_longley()
    longley_x = tuple(tuple(repr(float(v)) for v in row) for row in d.X)
    out["Longley"] = StRD("Longley", d.X.copy(), d.y.copy(), True, LONGLEY_PARAMS.copy(),
                          LONGLEY_BSE.copy(), LONGLEY_RESIDUAL_SD, "higher", longley_x,
                          tuple(repr(float(v)) for v in d.y), 0)
    x = tuple(str(v) for v in range(21))
    xs = np.arange(21.0)
    w1 = tuple(str(int(v)) for v in (xs[:, None] ** np.arange(6)) @ np.ones(6))
    w2 = tuple(str(sum(Decimal(10) ** -k * int(v) ** k for k in range(6))) for v in x)  # exact decimals
    out["Wampler1"] = _make("Wampler1", w1, x, 5, np.ones(6), np.zeros(6), 0.0, "higher")
    out["Wampler2"] = _make("Wampler2", w2, x, 5, [1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001],
                            np.zeros(6), 0.0, "higher")
    for which, (scale, sd) in {3: (1, 2360.14502379268), 4: (100, 236014.502379268),
                               5: (10000, 23601450.2379268)}.items():
        y = tuple(str(v) for v in _WAMPLER_Y[which])
        out[f"Wampler{which}"] = _make(f"Wampler{which}", y, x, 5, np.ones(6), _WAMPLER_SE * scale,
                                       sd, "higher")
    y, x = _parse(_FILIP)
    out["Filip"] = _make(
        "Filip", y, x, 10,
        [-1467.48961422980, -2772.17959193342, -2316.37108160893, -1127.97394098372,
         -354.478233703349, -75.1242017393757, -10.8753180355343, -1.06221498588947,
         -0.670191154593408e-01, -0.246781078275479e-02, -0.402962525080404e-04],
        [298.084530995537, 559.779865474950, 466.477572127796, 227.204274477751,
         71.6478660875927, 15.2897178747400, 2.23691159816033, 0.221624321934227,
         0.142363763154724e-01, 0.535617408889821e-03, 0.896632837373868e-05],
        0.334801051324544e-02, "higher")
    return out


LONGLEY_PARAMS = np.array([
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355])
LONGLEY_BSE = np.array([
    890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699,
    0.214274163161675, 0.226073200069370, 455.478499142212])
LONGLEY_RESIDUAL_SD = 304.854073561965
LONGLEY_R2 = 0.995479004577296

STRD = _sets()  # name → StRD, in NIST's order


def wampler(which: int):
    """(X (21, 5) = [x, x², …, x⁵], y, exact coefficients [b₀, …, b₅]) for Wampler1/2."""
    s = STRD[f"Wampler{which}"]
    return s.X, s.y, s.params


def lre(estimate, certified, cap: float = 15.0):
    """NIST's log relative error (correct significant digits), per entry, capped at ``cap``.

    −log10(|est − cert| / |cert|); for a certified 0 the absolute error −log10|est|.
    """
    est, cert = np.asarray(estimate, float), np.asarray(certified, float)
    err = np.where(cert != 0, np.abs(est - cert) / np.where(cert != 0, np.abs(cert), 1.0),
                   np.abs(est))
    with np.errstate(divide="ignore"):
        digits = np.where(err > 0, -np.log10(np.where(err > 0, err, 1.0)), cap)
    return np.clip(np.where(np.isfinite(est), digits, 0.0), 0.0, cap)


def correct_digits(estimate, exact):
    """Number of correct significant digits, per entry (capped at 16)."""
    estimate, exact = np.asarray(estimate, float), np.asarray(exact, float)
    rel = np.abs(estimate - exact) / np.abs(exact)
    return np.minimum(-np.log10(np.maximum(rel, 1e-16)), 16.0)
