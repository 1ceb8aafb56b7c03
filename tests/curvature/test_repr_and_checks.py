"""Compact reprs of the curvature results, and the checks that turn torch errors into
``ValueError``s naming the data (issue #15 points 2–3, #16 point 5)."""

import numpy as np
import pytest
import torch
from torch import nn

from curvlab.curvature import HessianOperator, SharpnessTracker, hutchpp, lanczos, slq_density

F64 = torch.float64


def test_lanczos_repr_is_short_and_shows_the_eigenvalues():
    # reference: the eigenvalues of a diagonal matrix are its diagonal
    lam = torch.cat([torch.linspace(0.0, 1.0, 292, dtype=F64), 2.0 ** torch.arange(1.0, 9.0, dtype=F64)])
    res = lanczos(torch.diag(lam), k=8, tol=1e-8)
    text = repr(res)
    assert f"{float(lam[-1]):.6g}" in text and f"{float(lam[-2]):.6g}" in text
    assert "8 in all" in text and "P=300" in text and f"num_matvecs={res.num_matvecs}" in text
    assert len(text) < 200


def test_trace_and_density_reprs_are_short():
    A = torch.diag(torch.arange(1.0, 301.0, dtype=F64))
    est = hutchpp(A, num_matvecs=900)          # m/3 = 300 = P: exact
    assert est.trace == pytest.approx(45150.0)
    assert "trace=45150" in repr(est) and len(repr(est)) < 120
    dens = slq_density(A, num_steps=20, num_vectors=4)
    assert "P=300" in repr(dens) and "vectors=4" in repr(dens) and len(repr(dens)) < 150


def test_tracker_repr_counts_measurements():
    torch.manual_seed(0)
    X, y = torch.randn(30, 3, dtype=F64), torch.randn(30, 1, dtype=F64)
    model = nn.Linear(3, 1).double()
    tracker = SharpnessTracker(nn.MSELoss(), (X, y), every=1)
    for step in range(3):
        tracker(model, step)
    # reference: H of the mean squared error of a linear model is 2/N [X 1]ᵀ[X 1]
    A = torch.cat([X, torch.ones(30, 1, dtype=F64)], 1)
    lam = float(torch.linalg.eigvalsh(2 * A.T @ A / 30)[-1])
    assert tracker.sharpness[-1] == pytest.approx(lam, rel=1e-3)
    assert "measurements=3" in repr(tracker) and len(repr(tracker)) < 120


class _MatMul(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.ones(4, 1, dtype=F64))

    def forward(self, x):
        return x @ self.W       # a torch error from C++ on the caller's own line


def test_a_torch_error_in_the_callers_model_is_explained():
    X, y = torch.ones(5, 3, dtype=F64), torch.ones(5, 1, dtype=F64)
    with pytest.raises(ValueError, match=r"model\(X\) failed.*shape \(5, 3\).*mat1 and mat2"):
        HessianOperator(_MatMul(), nn.MSELoss(), (X, y))


def test_the_callers_own_exception_propagates_unchanged():
    def loss_fn(out, y):
        raise RuntimeError("my own error")

    X, y = torch.ones(5, 4, dtype=F64), torch.ones(5, 1, dtype=F64)
    with pytest.raises(RuntimeError, match="my own error"):
        HessianOperator(_MatMul(), loss_fn, (X, y))


class _SymmetricOperator:
    """A symmetric operator behind the plain matvec interface (not a matrix, not a Hessian)."""

    def __init__(self, A):
        self.A, self.dim, self.num_matvecs = A, A.shape[0], 0
        self.dtype, self.device = A.dtype, A.device

    def matvec(self, v):
        self.num_matvecs += 1
        return self.A @ v


def test_the_randomized_symmetry_check_accepts_a_symmetric_operator_and_costs_no_counted_products():
    B = torch.randn(40, 40, generator=torch.Generator().manual_seed(0), dtype=F64)
    A = B + B.T
    op = _SymmetricOperator(A)
    res = lanczos(op, k=1, tol=1e-10)
    assert res.lam_max == pytest.approx(float(torch.linalg.eigvalsh(A)[-1]), rel=1e-9)
    assert res.num_matvecs == op.num_matvecs           # the two test products are not counted


def test_a_slightly_asymmetric_matrix_is_rejected_but_round_off_is_not():
    B = torch.randn(30, 30, generator=torch.Generator().manual_seed(1), dtype=F64)
    A = B @ B.T
    lanczos(A + 1e-15 * torch.triu(torch.ones_like(A)), k=1)        # round-off: accepted
    with pytest.raises(ValueError, match="A must be symmetric"):
        lanczos(A + 1e-6 * torch.triu(torch.ones_like(A), 1), k=1)


def test_nan_in_a_later_batch_is_named():
    X, y = torch.randn(20, 3, dtype=F64), torch.randn(20, 1, dtype=F64)
    X2 = X[10:].clone()
    X2[3, 1] = float("inf")
    with pytest.raises(ValueError, match=r"batch 1: X contains NaN or infinity \(first at index \(3, 1\)\)"):
        HessianOperator(nn.Linear(3, 1).double(), nn.MSELoss(), [(X[:10], y[:10]), (X2, y[10:])])
    assert np.isfinite(X.numpy()).all()


class _MeanOverTokens(nn.Module):
    def forward(self, h):
        return h.mean(dim=1)     # (B, T, d) → (B, d)


def test_batches_of_different_sequence_lengths_are_accepted():
    # token batches (B, T_b) padded per batch: T differs; the loss over all of them is the
    # size-weighted mean of the batch losses (reference: the same sum computed by hand)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 3), _MeanOverTokens(), nn.Linear(3, 1)).double()
    b1 = (torch.randint(0, 10, (4, 5)), torch.randn(4, 1, dtype=F64))
    b2 = (torch.randint(0, 10, (2, 7)), torch.randn(2, 1, dtype=F64))
    H = HessianOperator(model, nn.MSELoss(), [b1, b2])
    assert H.matvec(torch.randn(H.dim, dtype=F64)).shape == (H.dim,)
    with torch.no_grad():
        manual = (4 * nn.functional.mse_loss(model(b1[0]), b1[1]) + 2 * nn.functional.mse_loss(model(b2[0]), b2[1])) / 6
    assert H.objective.loss() == pytest.approx(float(manual))
