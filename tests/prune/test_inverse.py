"""curvlab.curvature.inverse against direct references: numpy/torch inverses, the Schur complement."""

import numpy as np
import pytest
import torch

from curvlab.curvature.inverse import (
    block_diagonal_inverse,
    damped_inverse,
    obs_downdate,
    woodbury_fisher_inverse,
)


def _spd(P, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g, dtype=torch.float64)
    return A @ A.T / P + 0.1 * torch.eye(P, dtype=torch.float64)


def test_damped_inverse_matches_numpy_inverse():
    H = _spd(12)
    ref = np.linalg.inv(H.numpy() + 0.3 * np.eye(12))          # reference: LAPACK getri via numpy
    assert np.allclose(damped_inverse(H, 0.3).numpy(), ref, atol=1e-12)


def test_damped_inverse_accepts_numpy():
    H = _spd(5).numpy()
    assert np.allclose(damped_inverse(H).numpy() @ H, np.eye(5), atol=1e-10)


@pytest.mark.parametrize("method", ["woodbury", "sequential"])
def test_woodbury_fisher_equals_direct_inverse(method):
    g = torch.Generator().manual_seed(1)
    G = torch.randn(7, 15, generator=g, dtype=torch.float64)      # N = 7 < P = 15: F singular without λ
    lam = 0.05
    F = lam * torch.eye(15, dtype=torch.float64) + G.T @ G / 7
    ref = np.linalg.inv(F.numpy())
    assert np.allclose(woodbury_fisher_inverse(G, lam, method=method).numpy(), ref, rtol=1e-9, atol=1e-9)


def test_obs_downdate_is_inverse_of_remaining_block():
    # Reference: removing q and holding it at 0, the inverse curvature of the rest is inv(H[R, R]).
    H = _spd(9, seed=2)
    H_inv = torch.linalg.inv(H)
    out = obs_downdate(H_inv, 4)
    rest = [i for i in range(9) if i != 4]
    assert np.allclose(out[rest][:, rest].numpy(), np.linalg.inv(H[rest][:, rest].numpy()), atol=1e-12)
    assert torch.all(out[4] == 0) and torch.all(out[:, 4] == 0)
    Q = [1, 5, 7]
    out = obs_downdate(H_inv, Q)
    rest = [i for i in range(9) if i not in Q]
    assert np.allclose(out[rest][:, rest].numpy(), np.linalg.inv(H[rest][:, rest].numpy()), atol=1e-12)


def test_block_diagonal_inverse_matches_dense_inverse():
    B1, B2 = _spd(3, 3), _spd(4, 4)
    dense = torch.block_diag(B1, B2)
    blocks = block_diagonal_inverse([B1, B2], damping=0.01)
    ref = np.linalg.inv(dense.numpy() + 0.01 * np.eye(7))
    assert np.allclose(torch.block_diag(*blocks).numpy(), ref, atol=1e-12)


def test_bad_inputs():
    indefinite = torch.diag(torch.tensor([1.0, -2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="not positive definite.*damping > 2"):
        damped_inverse(indefinite, 0.5)
    assert torch.allclose(damped_inverse(indefinite, 3.0) @ (indefinite + 3 * torch.eye(2, dtype=torch.float64)),
                          torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="square"):
        damped_inverse(torch.ones(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        damped_inverse(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="symmetric"):
        damped_inverse(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="damping"):
        damped_inverse(torch.eye(2), -1.0)
    with pytest.raises(ValueError, match="damping"):
        woodbury_fisher_inverse(torch.ones(2, 3), 0.0)
    with pytest.raises(ValueError, match="method"):
        woodbury_fisher_inverse(torch.ones(2, 3), 1.0, method="magic")
    with pytest.raises(ValueError, match="q must index"):
        obs_downdate(torch.eye(3, dtype=torch.float64), 5)
    with pytest.raises(ValueError, match="already removed"):
        obs_downdate(obs_downdate(torch.eye(3, dtype=torch.float64), 1), 1)
    with pytest.raises(ValueError, match="block 1"):
        block_diagonal_inverse([torch.eye(2), -torch.eye(2)])
