"""Elastic net; references: scikit-learn ElasticNet/Lasso (explicit augmented matrix), enet_path,
ElasticNetCV, and the KKT conditions checked by brute force."""

import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes

from curvlab.linear import (ElasticNet, ElasticNetCV, enet_objective, enet_path, notes_to_sklearn,
                            sklearn_to_notes)

TIGHT = dict(tol=1e-14, max_iter=100_000)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("alpha,l1_ratio", [(0.01, 0.7), (0.1, 0.2), (0.001, 1.0)])
def test_objective_matches_sklearn(diabetes, alpha, l1_ratio):
    # reference: sklearn.linear_model.ElasticNet, objective compared in the notes' scale
    X, y = diabetes
    ours = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    ref = sk.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    F_ours = ours.objective(X, y)
    F_ref = enet_objective(X, y, ref.coef_, ref.intercept_, ours.lam1_, ours.lam2_)
    assert abs(F_ours - F_ref) / F_ref < 1e-8
    assert F_ours <= F_ref * (1 + 1e-12)


def test_equals_lasso_on_augmented_data(diabetes):
    # reference: sklearn Lasso on the explicit X̂ = [Xc; √λ₁ I], ŷ = [yc; 0] (eqs. (25)–(26) corrected)
    X, y = diabetes
    n, p = X.shape
    lam1, lam2 = 50.0, 400.0
    ours = ElasticNet(lam1=lam1, lam2=lam2, **TIGHT).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    X_aug = np.vstack([Xc, np.sqrt(lam1) * np.eye(p)])
    y_aug = np.concatenate([yc, np.zeros(p)])
    # Lasso: 1/(2(n+p))‖ŷ − X̂β‖² + a‖β‖₁  ⇔  ‖ŷ − X̂β‖² + 2(n+p)a‖β‖₁, so a = λ₂/(2(n+p))
    lasso = sk.Lasso(alpha=lam2 / (2 * (n + p)), fit_intercept=False, **TIGHT).fit(X_aug, y_aug)
    F_ref = enet_objective(X, y, lasso.coef_, y.mean() - X.mean(0) @ lasso.coef_, lam1, lam2)
    assert abs(ours.objective(X, y) - F_ref) / F_ref < 1e-8


def test_parametrizations_agree_and_map_back(diabetes):
    # reference: the algebraic mapping F = 2N f, round trip
    X, y = diabetes
    n = len(y)
    lam1, lam2 = sklearn_to_notes(0.02, 0.3, n)
    np.testing.assert_allclose(notes_to_sklearn(lam1, lam2, n), (0.02, 0.3), rtol=1e-14)
    a = ElasticNet(alpha=0.02, l1_ratio=0.3, **TIGHT).fit(X, y)
    b = ElasticNet(lam1=lam1, lam2=lam2, **TIGHT).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-9)


def test_kkt_conditions_brute_force(diabetes):
    # reference: optimality conditions of ‖r‖² + λ₁‖β‖² + λ₂‖β‖₁ computed directly
    X, y = diabetes
    m = ElasticNet(alpha=0.05, l1_ratio=0.9, **TIGHT).fit(X, y)
    r = y - m.predict(X)
    grad = -2 * X.T @ r + 2 * m.lam1_ * m.coef_  # gradient of the smooth part
    nz = m.coef_ != 0
    assert nz.any() and (~nz).any()
    np.testing.assert_allclose(grad[nz], -m.lam2_ * np.sign(m.coef_[nz]), atol=1e-6 * m.lam2_)
    assert np.all(np.abs(grad[~nz]) <= m.lam2_ * (1 + 1e-9))
    assert abs(r.sum()) < 1e-6 * np.abs(y).sum()  # unpenalised intercept


def test_weights_and_multi_target_match_sklearn(diabetes):
    # reference: sklearn ElasticNet with sample_weight, and per-column fits
    X, y = diabetes
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2.0, size=len(y))
    ours = ElasticNet(alpha=0.01, l1_ratio=0.5, **TIGHT).fit(X, y, sample_weight=w)
    ref = sk.ElasticNet(alpha=0.01, l1_ratio=0.5, **TIGHT).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-6)
    Y = np.column_stack([y, y[::-1]])
    multi = ElasticNet(alpha=0.01, **TIGHT).fit(X, Y)
    for k in range(2):
        single = sk.ElasticNet(alpha=0.01, **TIGHT).fit(X, Y[:, k])
        np.testing.assert_allclose(multi.coef_[k], single.coef_, rtol=1e-7, atol=1e-6)


def test_path_matches_sklearn_enet_path(diabetes):
    # reference: sklearn.linear_model.enet_path (same grid, same tolerance)
    X, y = diabetes
    Xc, yc = X - X.mean(0), y - y.mean()
    a1, c1, g1, _ = enet_path(Xc, yc, l1_ratio=0.5, n_alphas=30, tol=1e-12, max_iter=100_000)
    a2, c2, _ = sk.enet_path(Xc, yc, l1_ratio=0.5, alphas=30, tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose(a1, a2, rtol=1e-12)
    np.testing.assert_allclose(c1, c2, rtol=1e-6, atol=1e-4)
    assert np.all(g1 <= 1e-12 * (yc @ yc) / len(yc))
    for screening in (False,):
        _, c3, _, _ = enet_path(Xc, yc, l1_ratio=0.5, n_alphas=30, tol=1e-12, screening=screening)
        np.testing.assert_allclose(c1, c3, rtol=1e-6, atol=1e-4)


def test_elastic_net_cv_matches_sklearn(diabetes):
    # reference: sklearn ElasticNetCV (same folds, same grid)
    X, y = diabetes
    kw = dict(l1_ratio=[0.3, 0.9], cv=4, tol=1e-10, max_iter=100_000)
    ours = ElasticNetCV(n_alphas=20, **kw).fit(X, y)
    ref = sk.ElasticNetCV(alphas=20, **kw).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    assert ours.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-4)


def test_bad_input(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        ElasticNet(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must lie"):
        ElasticNet(l1_ratio=1.5).fit(X, y)
    with pytest.raises(ValueError, match="both lam1 and lam2"):
        ElasticNet(lam1=1.0).fit(X, y)
    with pytest.raises(ValueError, match="lam2 must be finite and >= 0"):
        ElasticNet(lam1=1.0, lam2=-2.0).fit(X, y)
    with pytest.raises(ValueError, match="same number of rows"):
        enet_path(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        ElasticNet().fit(np.where(X > 0.1, np.nan, X), y)
    with pytest.raises(ValueError, match="l1_ratio must lie"):
        ElasticNetCV(l1_ratio=0.0).fit(X, y)


def _correlated(n, p, rho=0.5, seed=0):
    """The benchmark's design: pairwise correlation rho, ≤ 10 true nonzeros, unit-variance y."""
    rng = np.random.default_rng(seed)
    X = np.sqrt(rho) * rng.standard_normal((n, 1)) + np.sqrt(1 - rho) * rng.standard_normal((n, p))
    beta = np.zeros(p)
    k = min(10, p)
    beta[:k] = rng.choice([-1, 1], k) * rng.uniform(0.5, 2, k)
    y = X @ beta + rng.standard_normal(n)
    y = y / y.std()
    return X - X.mean(0), y - y.mean()


def _f(X, y, coef, alpha, l1_ratio):
    """scikit-learn's objective, computed directly from X and y."""
    r = y - X @ coef
    return r @ r / (2 * len(y)) + alpha * l1_ratio * np.abs(coef).sum() + \
        0.5 * alpha * (1 - l1_ratio) * coef @ coef


@pytest.mark.parametrize("n,p", [(300, 60), (80, 120)])
def test_path_correlated_design_matches_sklearn(n, p):
    # reference: sklearn.linear_model.enet_path on a correlated design (ρ = 0.5), where the
    # conjugate-gradient phase and the strong rule do most of the work; objectives to 1e-8
    X, y = _correlated(n, p)
    a1, c1, g1, it = enet_path(X, y, l1_ratio=0.5, n_alphas=40, eps=1e-3, tol=1e-12,
                               max_iter=100_000)
    a2, c2, _ = sk.enet_path(X, y, l1_ratio=0.5, alphas=40, eps=1e-3, tol=1e-12,
                             max_iter=100_000)
    np.testing.assert_allclose(a1, a2, rtol=1e-12)
    F1 = np.array([_f(X, y, c1[:, k], a, 0.5) for k, a in enumerate(a1)])
    F2 = np.array([_f(X, y, c2[:, k], a, 0.5) for k, a in enumerate(a1)])
    assert np.max(np.abs(F1 - F2) / F2) < 1e-8
    assert np.all(F1 <= F2 * (1 + 1e-10))
    assert np.all(g1 <= 1e-12 * (y @ y) / n)
    assert np.count_nonzero(c1[:, -1]) > 20  # a real active set at the end of the path


def test_duality_gap_matches_augmented_formula():
    # reference: the gap written out on the explicit augmented data X̂ = [X; √λ₁I], ŷ = [y; 0]
    # in numpy (dual point θ = s·r̂ rescaled to ‖X̂ᵀθ‖_∞ ≤ μ), versus the O(p) kernel
    from curvlab.linear._cd import duality_gap

    X, y = _correlated(60, 15, seed=1)
    rng = np.random.default_rng(2)
    beta = rng.standard_normal(15) * (rng.random(15) < 0.5)
    lam1, mu = 3.0, 5.0
    X_aug = np.vstack([X, np.sqrt(lam1) * np.eye(15)])
    y_aug = np.concatenate([y, np.zeros(15)])
    r_aug = y_aug - X_aug @ beta
    P = 0.5 * r_aug @ r_aug + mu * np.abs(beta).sum()
    s = min(1.0, mu / np.max(np.abs(X_aug.T @ r_aug)))
    theta = s * r_aug
    D = y_aug @ theta - 0.5 * theta @ theta
    G, q = X.T @ X, X.T @ y
    gap, primal, s_k = duality_gap(q, y @ y, beta, q - G @ beta, lam1, mu)
    assert primal == pytest.approx(P, rel=1e-12)
    assert s_k == pytest.approx(s, rel=1e-12)
    assert gap == pytest.approx(P - D, rel=1e-9)


def test_elastic_net_p_greater_than_n_matches_augmented_lasso():
    # reference: sklearn Lasso on the explicit augmented matrix, correlated design with p > n
    X, y = _correlated(50, 80, seed=3)
    n, p = X.shape
    lam1, lam2 = 2.0, 6.0
    ours = ElasticNet(lam1=lam1, lam2=lam2, fit_intercept=False, **TIGHT).fit(X, y)
    X_aug = np.vstack([X, np.sqrt(lam1) * np.eye(p)])
    y_aug = np.concatenate([y, np.zeros(p)])
    lasso = sk.Lasso(alpha=lam2 / (2 * (n + p)), fit_intercept=False, **TIGHT).fit(X_aug, y_aug)
    F_ref = enet_objective(X, y, lasso.coef_, 0.0, lam1, lam2)
    assert abs(ours.objective(X, y) - F_ref) / F_ref < 1e-8


def test_path_gram_given_and_unchecked_input_agree():
    # reference: the same path with XᵀX and Xᵀy computed inside (bit-for-bit inputs)
    X, y = _correlated(120, 30, seed=4)
    G, q = X.T @ X, X.T @ y
    _, c1, _, _ = enet_path(X, y, n_alphas=20, tol=1e-10)
    _, c2, _, _ = enet_path(X, y, n_alphas=20, tol=1e-10, Gram=G, Xy=q, check_input=False)
    np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-14)


def test_path_bad_precomputed_input():
    X, y = _correlated(40, 5, seed=5)
    with pytest.raises(ValueError, match=r"Gram must be XᵀX of shape \(5, 5\)"):
        enet_path(X, y, Gram=np.eye(4))
    with pytest.raises(ValueError, match="Gram must be symmetric"):
        enet_path(X, y, Gram=np.triu(np.ones((5, 5))))
    with pytest.raises(ValueError, match=r"Xy must be Xᵀy of shape \(5,\)"):
        enet_path(X, y, Xy=np.ones(3))
    with pytest.raises(ValueError, match=r"coef_init must have shape \(5,\)"):
        enet_path(X, y, coef_init=np.ones(6))
    with pytest.raises(ValueError, match="Gram contains NaN"):
        enet_path(X, y, Gram=np.full((5, 5), np.nan))
