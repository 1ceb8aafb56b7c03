"""The Longley (1967) data, bundled so that the runtime needs no statsmodels.

Sixteen yearly observations (1947–1962) of US employment and six macroeconomic
predictors, famous for its near-collinearity: the design's condition number is about
5·10⁹ (about 10⁸ after centering). NIST's Statistical Reference Datasets (StRD) give
certified least-squares results for it, to 15 significant digits, which makes it the
standard accuracy test of a linear-regression solver.

Reference: J. W. Longley, "An appraisal of least squares programs for the electronic
computer from the point of view of the user", JASA 62 (1967) 819–841; NIST StRD,
https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml.

Example
-------
>>> data = load_longley()
>>> data.X.shape, data.y.shape
((16, 6), (16,))
>>> data.feature_names[0]
'GNPDEFL'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Longley", "load_longley"]

_CSV = Path(__file__).with_name("longley.csv")


@dataclass(frozen=True)
class Longley:
    """The data: ``X`` (16, 6) predictors, ``y`` (16,) total employment (TOTEMP)."""

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str


def load_longley() -> Longley:
    """Load the bundled Longley data (columns GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR)."""
    with _CSV.open() as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    header = lines[0].strip().split(",")
    table = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])  # (16, 7)
    return Longley(X=table[:, 1:].copy(), y=table[:, 0].copy(),
                   feature_names=tuple(header[1:]), target_name=header[0])
