"""OLS: certified values (NIST Longley, Wampler), numpy.polyfit/lstsq, statsmodels inference."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings, strategies as st

from curvlab.data.longley import load_longley
from curvlab.linear import OLS, RankDeficiencyWarning

from ._certified import (LONGLEY_BSE, LONGLEY_PARAMS, LONGLEY_R2, LONGLEY_RESIDUAL_SD,
                         correct_digits, wampler)


@pytest.fixture(scope="module")
def longley():
    return load_longley()


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
def test_longley_certified_10_digits(longley, solver):
    # reference: NIST StRD certified values
    m = OLS(solver=solver).fit(longley.X, longley.y)
    assert correct_digits(m.params_, LONGLEY_PARAMS).min() >= 10
    assert correct_digits(m.bse_, LONGLEY_BSE).min() >= 10
    assert correct_digits(np.sqrt(m.scale_), LONGLEY_RESIDUAL_SD) >= 10
    assert correct_digits(m.rsquared_, LONGLEY_R2) >= 10


def test_auto_avoids_normal_equations_on_longley(longley):
    # reference: NIST — the normal equations lose digits here, auto must not use them
    assert OLS().fit(longley.X, longley.y).solver_ == "qr"
    chol = OLS(solver="cholesky").fit(longley.X, longley.y)
    assert correct_digits(chol.params_, LONGLEY_PARAMS).min() < 10  # why auto switches


@pytest.mark.parametrize("which", [1, 2])
@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
def test_wampler_certified_8_digits(which, solver):
    # reference: exact Wampler coefficients (NIST StRD)
    X, y, coef = wampler(which)
    m = OLS(solver=solver).fit(X, y)
    assert correct_digits(m.params_, coef).min() >= 8


def test_polyfit_degree_10_at_least_as_many_digits():
    # reference: numpy.polyfit on a Vandermonde design with κ ≈ 3e15 (lstsq: ~0 digits)
    x = np.arange(31.0)
    V = x[:, None] ** np.arange(11)  # (31, 11)
    coef = np.ones(11)
    y = V @ coef
    assert np.linalg.cond(V) > 1e15
    ours = correct_digits(OLS().fit(V[:, 1:], y).params_, coef)
    poly = correct_digits(np.polyfit(x, y, 10)[::-1], coef)
    lstsq = correct_digits(np.linalg.lstsq(V, y, rcond=None)[0], coef)
    assert lstsq.min() < 1
    assert np.all(ours >= poly - 1e-12), (ours, poly)


def test_rank_deficient_warns_and_gives_min_norm():
    # reference: numpy.linalg.lstsq (minimum-norm solution)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # exact collinearity
    y = rng.normal(size=30)
    with pytest.warns(RankDeficiencyWarning, match="minimum-norm"):
        m = OLS(fit_intercept=False).fit(X, y)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(m.coef_, ref, rtol=1e-10, atol=1e-12)
    assert m.rank_ == 3
    with pytest.warns(RankDeficiencyWarning):
        mi = OLS().fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    np.testing.assert_allclose(mi.coef_, np.linalg.lstsq(Xc, yc, rcond=None)[0], rtol=1e-10, atol=1e-12)


def test_inference_matches_statsmodels_longley(longley):
    # reference: statsmodels OLS
    ref = sm.OLS(longley.y, sm.add_constant(longley.X)).fit()
    m = OLS().fit(longley.X, longley.y)
    for name in ["params", "bse", "tvalues", "pvalues"]:
        np.testing.assert_allclose(getattr(m, name + "_"), getattr(ref, name), rtol=1e-8)
    np.testing.assert_allclose(m.conf_int(0.1), ref.conf_int(0.1), rtol=1e-8)
    np.testing.assert_allclose([m.scale_, m.rsquared_, m.rsquared_adj_, m.ssr_],
                               [ref.scale, ref.rsquared, ref.rsquared_adj, ref.ssr], rtol=1e-8)
    assert m.df_resid_ == ref.df_resid
    np.testing.assert_allclose(m.cov_params_, ref.cov_params(), rtol=1e-8)
    assert "std err" in m.summary()


def test_weights_and_no_intercept_match_statsmodels_wls():
    # reference: statsmodels WLS
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=40)
    w = rng.uniform(0.2, 3.0, size=40)
    for intercept in (True, False):
        exog = sm.add_constant(X) if intercept else X
        ref = sm.WLS(y, exog, weights=w).fit()
        for solver in ("auto", "qr", "svd", "cholesky"):
            m = OLS(fit_intercept=intercept, solver=solver).fit(X, y, sample_weight=w)
            np.testing.assert_allclose(m.params_, ref.params, rtol=1e-9)
            np.testing.assert_allclose(m.bse_, ref.bse, rtol=1e-9)
            np.testing.assert_allclose(m.rsquared_, ref.rsquared, rtol=1e-9)


def test_multi_target_equals_separate_fits():
    # reference: statsmodels OLS per column
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(25, 3)), rng.normal(size=(25, 2))
    m = OLS().fit(X, Y)
    for k in range(2):
        ref = sm.OLS(Y[:, k], sm.add_constant(X)).fit()
        np.testing.assert_allclose(m.params_[k], ref.params, rtol=1e-10)
        np.testing.assert_allclose(m.bse_[k], ref.bse, rtol=1e-10)
    assert m.predict(X).shape == (25, 2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(8, 40), d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       solver=st.sampled_from(["auto", "cholesky", "qr", "svd"]))
def test_solvers_agree_with_lstsq(n, d, seed, solver):
    # reference: numpy.linalg.lstsq on [1 X]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d) + rng.normal(size=d)
    y = rng.normal(size=n)
    ref = np.linalg.lstsq(np.column_stack([np.ones(n), X]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = OLS(solver=solver).fit(X, y)
    np.testing.assert_allclose(m.params_, ref, rtol=1e-7, atol=1e-9)


def test_chunked_fit_equals_in_memory(tmp_path):
    # reference: statsmodels OLS on all rows at once
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 4)) + 2.0
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.normal(size=1000)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    Xm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=X.shape)
    Xm[:] = X
    blocks = ((X[i:i + 128], y[i:i + 128]) for i in range(0, 1000, 128))
    for solver, data in [("auto", blocks), ("auto", (Xm, y)), ("qr", (Xm, y))]:
        m = OLS(solver=solver).fit_chunks(data, chunk_size=100)
        np.testing.assert_allclose(m.params_, ref.params, rtol=1e-9)
        np.testing.assert_allclose(m.bse_, ref.bse, rtol=1e-9)
        np.testing.assert_allclose(m.rsquared_, ref.rsquared, rtol=1e-9)


def test_chunked_ill_conditioned_streaming_qr(longley):
    # reference: NIST certified Longley values. The centred TSQR keeps ≥ 11 digits in one
    # pass, from arrays and from a one-shot iterator alike.
    m = OLS().fit_chunks((longley.X, longley.y), chunk_size=5)
    assert m.n_passes_ == 1
    assert correct_digits(m.params_, LONGLEY_PARAMS).min() >= 11
    one_shot = ((longley.X[i:i + 5], longley.y[i:i + 5]) for i in range(0, 16, 5))
    m1 = OLS().fit_chunks(one_shot)
    assert correct_digits(m1.params_, LONGLEY_PARAMS).min() >= 11
    assert correct_digits(m1.bse_, LONGLEY_BSE).min() >= 11


def test_bad_input():
    X, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError, match="NaN"):
        OLS().fit(np.array([[np.nan, 1.0]] * 5), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        OLS().fit(X, np.ones(4))
    with pytest.raises(ValueError, match="solver must be one of"):
        OLS(solver="lu").fit(X, y)
    with pytest.raises(ValueError):
        OLS().fit(np.empty((0, 2)), np.empty(0))
    with pytest.raises(ValueError, match="sample_weight"):
        OLS().fit(X, y, sample_weight=-np.ones(5))
    with pytest.raises(ValueError, match="empty"):
        OLS().fit_chunks(iter([]))
    with pytest.raises(ValueError, match="columns"):
        OLS().fit_chunks(iter([(np.ones((3, 2)), np.ones(3)), (np.ones((3, 3)), np.ones(3))]))
    with pytest.raises(ValueError, match="alpha must lie"):
        OLS().fit(np.random.default_rng(0).normal(size=(9, 2)), np.arange(9.0)).conf_int(1.5)
