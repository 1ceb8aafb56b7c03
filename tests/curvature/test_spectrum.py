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


# ----------------------------------------------------------------- the certified stopping rule
def _close_pair_matrix(P=300, gap=1e-2, seed=0):
    """A = U diag(λ) Uᵀ with λ₁ = 1, λ₂ = 1 − gap (the trained-network case) and the rest in [−0.3, 0.9]."""
    rng = np.random.default_rng(seed)
    lam = np.concatenate([[1.0, 1.0 - gap], rng.uniform(-0.3, 0.9, P - 2)])
    U, _ = np.linalg.qr(rng.standard_normal((P, P)))
    A = (U * lam) @ U.T
    return torch.from_numpy((A + A.T) / 2), np.linalg.eigvalsh((A + A.T) / 2)


@pytest.mark.parametrize("gap", [1e-1, 1e-2, 1e-3])
def test_residual_rule_guarantees_relative_accuracy(gap):
    A, lam = _close_pair_matrix(gap=gap)
    for tol in (1e-3, 1e-4, 1e-6):
        for seed in range(3):
            res = lanczos(A, k=1, tol=tol, seed=seed)  # bound="residual"
            theta, err = res.lam_max, float(res.errors[0])
            assert res.converged and err == res.residuals[0]
            assert theta <= lam[-1] + 1e-12  # Cauchy interlacing: the Ritz value is a lower bound
            assert err <= tol * abs(theta)
            assert lam[-1] - theta <= tol * lam[-1]  # the requested accuracy holds (vs eigvalsh)
            if gap > tol:  # λ_max ∈ [θ, θ + r]; a cluster narrower than tol may count as one eigenvalue
                assert lam[-1] - theta <= err + 1e-12


def test_gap_rule_holds_for_a_resolved_gap_and_fails_inside_a_cluster():
    # a resolved gap: the Kato–Temple bound holds and stops earlier than the residual rule
    A, lam = _close_pair_matrix(gap=1e-1)
    for seed in range(3):
        fast = lanczos(A, k=1, tol=1e-4, seed=seed, bound="gap")
        slow = lanczos(A, k=1, tol=1e-4, seed=seed)
        assert lam[-1] - fast.lam_max <= fast.errors[0] <= 1e-4 * fast.lam_max
        assert fast.errors[0] < fast.residuals[0] / 10  # the quadratic term is what stopped it
        assert fast.num_matvecs < slow.num_matvecs
    # λ₂ = (1 − 10⁻³)λ₁ with tol 10⁻⁴: the cluster is not resolved when the gap rule fires
    A, lam = _close_pair_matrix(gap=1e-3)
    errs = [lam[-1] - lanczos(A, k=1, tol=1e-4, seed=s, bound="gap").lam_max for s in range(3)]
    assert max(errs) > 1e-4 * lam[-1]  # the documented failure, measured against eigvalsh
    errs = [lam[-1] - lanczos(A, k=1, tol=1e-4, seed=s).lam_max for s in range(3)]
    assert max(errs) <= 1e-4 * lam[-1]


def test_stopping_rule_stops_at_the_first_certified_step():
    A, lam = _close_pair_matrix(gap=1e-2, seed=1)
    for bound in ("residual", "gap"):
        res = lanczos(A, k=1, tol=1e-4, seed=0, bound=bound)
        with pytest.warns(RuntimeWarning, match="did not reach"):
            short = lanczos(A, k=1, tol=1e-4, seed=0, max_matvecs=res.num_matvecs - 1, bound=bound)
        assert not short.converged and short.errors[0] > 1e-4 * short.lam_max
        # the residual is the true one, ‖A y − θ y‖, computed from the Ritz vector
        y = res.eigenvectors[:, 0]
        assert float(torch.linalg.vector_norm(A @ y - res.lam_max * y)) == pytest.approx(res.residuals[0], rel=1e-5)


@pytest.mark.parametrize("bound", ["residual", "gap"])
@pytest.mark.parametrize("which", ["LA", "SA"])
def test_stopping_rule_bounds_every_wanted_eigenvalue(hessian_pair, which, bound):
    H, H_ref = hessian_pair
    lam = np.linalg.eigvalsh(H_ref)
    res = lanczos(H, k=3, which=which, tol=1e-6, seed=2, bound=bound)
    expected = lam[::-1][:3] if which == "LA" else lam[:3]
    err = np.abs(res.eigenvalues.numpy() - expected)
    assert np.all(err <= res.errors + 1e-12) and res.converged
    assert np.all(res.errors <= 1e-6 * np.abs(res.eigenvalues.numpy()))


def test_single_ritz_value_is_not_certified_by_a_gap():
    # one product gives θ = vᵀAv and no information on λ₂: only the residual bound may be used
    A = torch.diag(torch.tensor([2.0, 1.0]))
    with pytest.warns(RuntimeWarning, match="did not reach"):
        res = lanczos(A, k=1, tol=1e-12, max_matvecs=1, v0=torch.tensor([1.0, 1.0]), bound="gap")
    assert res.errors[0] == pytest.approx(res.residuals[0])
    assert res.errors[0] >= 2.0 - res.lam_max - 1e-12  # θ = 1.5, r = 0.5: λ_max = 2 within the bound


def test_bad_bound(hessian_pair):
    H, _ = hessian_pair
    with pytest.raises(ValueError, match="bound must be one of"):
        lanczos(H, bound="kato")


def test_zero_hessian_block_from_a_linear_loss():
    # L = mean(Xθ): ∇L does not depend on θ, so H = 0 (the gradient has no graph at all)
    model = nn.Linear(3, 1)
    X = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    H = HessianOperator(model, lambda out, t: out.mean(), (X, torch.zeros(10)))
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(H.matvec(v), torch.zeros(H.dim), rtol=0, atol=0)
