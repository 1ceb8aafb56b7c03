"""OLS().summary() names its rows as statsmodels does: by the DataFrame's column names."""

import numpy as np
import pandas as pd
import pytest

from curvlab.data.longley import load_longley
from curvlab.linear import OLS

sm = pytest.importorskip("statsmodels.api")


def test_summary_rows_carry_the_dataframe_column_names():
    d = load_longley()
    X = pd.DataFrame(d.X, columns=list(d.feature_names))
    X = X.rename(columns={"GNPDEFL": "GNP deflator (1954 = 100)"})        # longer than the old 12-char cut
    ours = OLS().fit(X, d.y)
    ref = sm.OLS(d.y, sm.add_constant(X)).fit()
    rows = ours.summary().splitlines()[2:]
    names = [r.rsplit(maxsplit=6)[0].strip() for r in rows]
    assert names == ["intercept", *ref.params.index[1:]]
    coefs = np.array([float(r.rsplit(maxsplit=6)[1]) for r in rows])
    np.testing.assert_allclose(coefs, ref.params.to_numpy(), rtol=1e-5)


def test_summary_without_names_numbers_the_columns():
    d = load_longley()
    rows = OLS().fit(d.X, d.y).summary().splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["intercept"] + [f"x{j}" for j in range(6)]
