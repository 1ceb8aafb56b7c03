"""GLS, covariance structures and Kruskal's condition; references: statsmodels GLS/WLS, dense algebra."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.linalg import toeplitz

from curvlab.data.longley import load_longley
from curvlab.linear import AR1, GLS, OLS, ols_equals_gls


@pytest.fixture(scope="module")
def longley_gls():
    # statsmodels' own Longley GLS example (test_regression.TestGLS): AR(1) errors with ρ
    # estimated from the OLS residuals.
    d = load_longley()
    X = d.X[:, [1, 4]]  # GNP, POP
    exog = sm.add_constant(X)
    resid = sm.OLS(d.y, exog).fit().resid
    rho = np.corrcoef(resid[1:], resid[:-1])[0, 1]
    sigma = rho ** toeplitz(np.arange(16))
    return X, d.y, rho, sigma, sm.GLS(d.y, exog, sigma=sigma).fit()


@pytest.mark.parametrize("structure", ["dense", "ar1"])
def test_longley_gls_matches_statsmodels(longley_gls, structure):
    # reference: statsmodels GLS
    X, y, rho, sigma, ref = longley_gls
    m = GLS(sigma=sigma if structure == "dense" else AR1(rho)).fit(X, y)
    for name in ["params", "bse", "tvalues", "pvalues"]:
        np.testing.assert_allclose(getattr(m, name + "_"), getattr(ref, name), rtol=1e-8)
    np.testing.assert_allclose(m.conf_int(), ref.conf_int(), rtol=1e-8)
    np.testing.assert_allclose([m.scale_, m.rsquared_], [ref.scale, ref.rsquared], rtol=1e-8)
    np.testing.assert_allclose(m.cov_params_, ref.cov_params(), rtol=1e-8)


def test_variance_formula_is_sigma2_inverse_whitened_gram(longley_gls):
    # reference: σ̂²(XᵀΣ⁻¹X)⁻¹ by dense algebra (corrected eq. (20), first line)
    X, y, rho, sigma, _ = longley_gls
    m = GLS(sigma=sigma).fit(X, y)
    Z = np.column_stack([np.ones(len(y)), X])
    expected = m.scale_ * np.linalg.inv(Z.T @ np.linalg.solve(sigma, Z))
    np.testing.assert_allclose(m.cov_params_, expected, rtol=1e-7)


def test_diagonal_sigma_is_wls():
    # reference: statsmodels WLS with weights 1/σ²_i
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    s = rng.uniform(0.5, 4.0, size=50)
    y = X @ [1.0, -1.0] + np.sqrt(s) * rng.normal(size=50)
    ref = sm.WLS(y, sm.add_constant(X), weights=1 / s).fit()
    m = GLS(sigma=s).fit(X, y)
    np.testing.assert_allclose(m.params_, ref.params, rtol=1e-10)
    np.testing.assert_allclose(m.bse_, ref.bse, rtol=1e-10)


def test_ar1_whitening_and_matvec_match_dense():
    # reference: dense Σ, its inverse and Cholesky factor
    ar = AR1(-0.4)
    A = np.random.default_rng(1).normal(size=(12, 3))
    Sigma = ar.dense(12)
    W = ar.whiten(np.eye(12))
    np.testing.assert_allclose(W.T @ W, np.linalg.inv(Sigma), atol=1e-12)
    np.testing.assert_allclose(ar.matvec(A), Sigma @ A, atol=1e-12)


def test_feasible_gls_estimates_rho():
    # reference: the simulated AR(1) coefficient; dense GLS algebra at the estimated ρ
    rng = np.random.default_rng(2)
    n = 600
    X = rng.normal(size=(n, 2))
    e = np.zeros(n)
    u = rng.normal(size=n)
    for t in range(n):
        e[t] = (0.7 * e[t - 1] if t else u[0] / np.sqrt(1 - 0.49)) + (u[t] if t else 0.0)
    y = 1.0 + X @ [2.0, -1.0] + e
    m = GLS(sigma="ar1").fit(X, y)
    assert abs(m.rho_ - 0.7) < 4 * np.sqrt((1 - 0.49) / n)  # 4 standard errors
    Z = np.column_stack([np.ones(n), X])
    Si_Z = np.linalg.solve(m.rho_ ** toeplitz(np.arange(n)), Z)  # Σ⁻¹Z
    beta = np.linalg.solve(Z.T @ Si_Z, Si_Z.T @ y)
    np.testing.assert_allclose(m.params_, beta, rtol=1e-7)
    resid = y - m.predict(X)
    np.testing.assert_allclose(m.rho_, resid[1:] @ resid[:-1] / (resid @ resid), atol=1e-7)


def test_kruskal_condition():
    # reference: GLS computed densely; brute-force β comparison
    rng = np.random.default_rng(3)
    n = 30
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = rng.uniform(0.5, 3.0, size=n)
    Sigma = (Q * lam) @ Q.T
    X_inv = Q[:, :3] @ rng.normal(size=(3, 3))  # span of 3 eigenvectors: ΣX = XF
    X_gen = rng.normal(size=(n, 3))
    y = rng.normal(size=n)
    for X, expect in [(X_inv, True), (X_gen, False)]:
        res = ols_equals_gls(X, Sigma)
        assert res.holds is expect
        b_ols = np.linalg.lstsq(X, y, rcond=None)[0]
        Si = np.linalg.inv(Sigma)
        b_gls = np.linalg.solve(X.T @ Si @ X, X.T @ Si @ y)
        same = np.allclose(b_ols, b_gls, rtol=1e-9, atol=1e-12)
        assert same is expect
        if expect:
            np.testing.assert_allclose(X @ res.F, Sigma @ X, atol=1e-10)
            assert res.distance < 1e-13
        else:
            assert res.distance > 1e-3
    ols = OLS(fit_intercept=False).fit(X_inv, y)
    gls = GLS(sigma=Sigma, fit_intercept=False).fit(X_inv, y)
    np.testing.assert_allclose(ols.coef_, gls.coef_, rtol=1e-10)


def test_kruskal_ar1_structure_matches_dense():
    # reference: the same test with the dense AR(1) matrix
    X = np.column_stack([np.ones(40), np.arange(40.0)])
    a = ols_equals_gls(X, AR1(0.5))
    b = ols_equals_gls(X, AR1(0.5).dense(40))
    np.testing.assert_allclose(a.distance, b.distance, rtol=1e-10)
    assert not a.holds


def test_bad_sigma():
    X, y = np.random.default_rng(0).normal(size=(6, 2)), np.arange(6.0)
    with pytest.raises(ValueError, match="symmetric"):
        GLS(sigma=np.triu(np.ones((6, 6)))).fit(X, y)
    with pytest.raises(ValueError, match="positive definite"):
        GLS(sigma=np.ones((6, 6))).fit(X, y)
    with pytest.raises(ValueError, match="6 rows"):
        GLS(sigma=np.eye(5)).fit(X, y)
    with pytest.raises(ValueError, match="> 0"):
        GLS(sigma=-np.ones(6)).fit(X, y)
    with pytest.raises(ValueError, match="rho must lie"):
        AR1(1.0)
    with pytest.raises(ValueError, match="'ar1'"):
        GLS(sigma="ar2").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        GLS(sigma=np.full(6, np.nan)).fit(X, y)
    with pytest.raises(ValueError, match="fold the weights"):
        GLS(sigma=AR1(0.3)).fit(X, y, sample_weight=np.ones(6))
    with pytest.raises(ValueError, match="full column rank"):
        ols_equals_gls(np.ones((6, 2)), np.eye(6))
