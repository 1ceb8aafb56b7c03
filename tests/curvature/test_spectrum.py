"""Lanczos, Hutchinson / Hutch++ and SLQ against the explicit Hessian's eigendecomposition.

References: ``numpy.linalg.eigvalsh`` / ``eigh`` of the dense Hessian from
``torch.autograd.functional.hessian`` (float64), and the exact trace.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.curvature import HessianOperator
from curvlab.curvature.density import slq_density
from curvlab.curvature.lanczos import lanczos
from curvlab.curvature.trace import hutchinson, hutchpp

from .conftest import mlp, mlp_loss_of_theta


@pytest.fixture
def hessian_pair():
    """A HessianOperator of a 3-8-2 tanh MLP (P = 50) and its explicit Hessian as numpy."""
    model = mlp(hidden=8)
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(40, 3, generator=g), torch.randn(40, 2, generator=g)
    L, theta0 = mlp_loss_of_theta(model, X, y)
    H_ref = torch.autograd.functional.hessian(L, theta0, vectorize=True).numpy()
    return HessianOperator(model, nn.MSELoss(), (X, y)), H_ref


@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_lanczos_matches_eigvalsh(hessian_pair, which):
    H, H_ref = hessian_pair
    lam = np.linalg.eigvalsh(H_ref)  # ascending
    res = lanczos(H, k=4, which=which, tol=1e-12, seed=1)
    expected = {"LA": lam[::-1][:4], "SA": lam[:4], "LM": lam[np.argsort(-np.abs(lam), kind="stable")][:4]}[which]
    np.testing.assert_allclose(res.eigenvalues.numpy(), expected, rtol=1e-9, atol=1e-12)
    assert res.converged and res.num_matvecs <= H.dim
    Y = res.eigenvectors.numpy()
    np.testing.assert_allclose(H_ref @ Y, Y * res.eigenvalues.numpy(), atol=1e-7)  # eigenvectors
    np.testing.assert_allclose(Y.T @ Y, np.eye(4), atol=1e-10)


def test_lanczos_error_estimate_bounds_true_error(hessian_pair):
    H, H_ref = hessian_pair
    lam_max = np.linalg.eigvalsh(H_ref)[-1]
    for tol in (1e-2, 1e-4, 1e-6):
        res = lanczos(H, k=1, tol=tol, seed=3)
        true_err = lam_max - res.lam_max
        assert -1e-12 <= true_err  # a Ritz value never exceeds λ_max
        assert true_err <= res.residuals[0] + 1e-12  # an eigenvalue within the residual
        assert true_err <= tol * lam_max * 10  # the gap-based estimate is not far off


def test_lanczos_exact_on_explicit_matrix():
    A = torch.diag(torch.tensor([5.0, 5.0 - 1e-3, 1.0, -2.0]))  # nearly equal top pair
    res = lanczos(A, k=2, tol=1e-12)
    np.testing.assert_allclose(res.eigenvalues.numpy(), [5.0, 5.0 - 1e-3], rtol=1e-12)


def test_trace_estimators_converge_to_exact_trace(hessian_pair):
    H, H_ref = hessian_pair
    exact = float(np.trace(H_ref))
    est = hutchinson(H, 60, seed=0)  # on Hessian-vector products
    assert est.num_matvecs == 60
    assert abs(est.trace - exact) <= 4 * est.std_error  # within 4 standard errors
    # the statistics on the explicit matrix (same operator interface, cheaper products)
    A = torch.from_numpy(H_ref)
    err = lambda m: np.mean([abs(hutchinson(A, m, seed=s).trace - exact) for s in range(20)])  # noqa: E731
    assert err(400) < err(25) / 2  # error shrinks like 1/√m: expect ÷4
    # Hutch++ with m/3 ≥ P is exact; with a smaller budget it beats Hutchinson on average
    assert hutchpp(H, 3 * H.dim, seed=0).trace == pytest.approx(exact, rel=1e-10)
    errpp = np.mean([abs(hutchpp(A, 60, seed=s).trace - exact) for s in range(20)])
    assert errpp < err(60)


def test_diagonal_trace_is_exact():
    A = torch.diag(torch.arange(1.0, 11.0))
    assert hutchinson(A, 5).trace == pytest.approx(55.0, abs=1e-12)


def test_slq_moments_match_eigendecomposition(hessian_pair):
    H, H_ref = hessian_pair
    lam = np.linalg.eigvalsh(H_ref)
    # with m = P steps the Gauss rule is exact for every polynomial, so the quadrature gives
    # each vector's vᵀ f(H) v / P; averaged over vectors it estimates (1/P) tr f(H)
    dens = slq_density(torch.from_numpy(H_ref), num_steps=H.dim, num_vectors=30, seed=0)
    np.testing.assert_allclose(dens.weights.sum(axis=1), 1.0, rtol=1e-10)
    f = lambda t: t ** 2  # noqa: E731
    exact = float(np.mean(f(lam)))
    assert dens.expectation(f) == pytest.approx(exact, rel=0.2)
    # the density integrates to 1 and its support covers [λ_min, λ_max]
    grid = np.linspace(lam[0] - 1, lam[-1] + 1, 4001)
    phi = dens.density(grid, sigma=0.05)
    assert np.trapezoid(phi, grid) == pytest.approx(1.0, abs=1e-3)
    assert dens.nodes.max() == pytest.approx(lam[-1], rel=1e-8)
    assert dens.nodes.min() == pytest.approx(lam[0], rel=1e-6, abs=1e-8)


def test_slq_quadrature_is_exact_for_low_degree(hessian_pair):
    H, H_ref = hessian_pair  # on Hessian-vector products
    v = torch.from_numpy(np.sign(np.random.default_rng(0).standard_normal(H.dim)))
    from curvlab.curvature.lanczos import lanczos_tridiagonal
    import scipy.linalg
    alpha, beta, _ = lanczos_tridiagonal(H, 6, v0=v)
    theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta)
    u = v.numpy() / np.linalg.norm(v.numpy())
    for p in range(0, 12):  # Gauss rule with 6 nodes: exact up to degree 11
        ref = u @ np.linalg.matrix_power(H_ref, p) @ u
        assert np.sum(S[0] ** 2 * theta ** p) == pytest.approx(ref, rel=1e-7, abs=1e-12)


def test_spectrum_bad_input(hessian_pair):
    H, _ = hessian_pair
    with pytest.raises(ValueError, match="k must be at most"):
        lanczos(H, k=H.dim + 1)
    with pytest.raises(ValueError, match="which"):
        lanczos(H, k=1, which="BE")
    with pytest.raises(ValueError, match="num_matvecs"):
        hutchinson(H, 0)
    with pytest.raises(ValueError, match="num_matvecs"):
        hutchpp(H, 2)
    with pytest.raises(TypeError, match="expected a HessianOperator"):
        lanczos("H")
