"""The OBS rule (eqs. (7)–(10)) against brute force: the equality-constrained quadratic solved
directly through its KKT system, and exhaustive search over every candidate set."""

import itertools

import numpy as np
import pytest
import torch

from curvlab.prune.core import inverse_curvature, obs_multi_update, obs_saliency, obs_update


def _spd(P, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g, dtype=torch.float64)
    return A @ A.T / P + 0.05 * torch.eye(P, dtype=torch.float64)


def _kkt(H: np.ndarray, w: np.ndarray, Q: list[int]):
    """Brute force: min ½ δwᵀHδw s.t. δw_Q = −w_Q via the KKT system [[H, E], [Eᵀ, 0]]."""
    P, k = H.shape[0], len(Q)
    E = np.zeros((P, k))
    E[Q, range(k)] = 1.0
    K = np.block([[H, E], [E.T, np.zeros((k, k))]])
    sol = np.linalg.solve(K, np.concatenate([np.zeros(P), -w[Q]]))
    dw = sol[:P]
    return dw, 0.5 * dw @ H @ dw


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_weight_matches_constrained_minimum(seed):
    P = 8
    H = _spd(P, seed)
    w = torch.randn(P, generator=torch.Generator().manual_seed(10 + seed), dtype=torch.float64)
    H_inv = torch.linalg.inv(H)
    saliency = obs_saliency(w, H_inv)
    for q in range(P):
        dw_ref, cost_ref = _kkt(H.numpy(), w.numpy(), [q])
        assert np.allclose(obs_update(w, H_inv, q).numpy(), dw_ref, atol=1e-12)
        assert saliency[q].item() == pytest.approx(cost_ref, rel=1e-10)
    # OBS picks the cheapest weight (brute force over every candidate).
    costs = [_kkt(H.numpy(), w.numpy(), [q])[1] for q in range(P)]
    assert int(torch.argmin(saliency)) == int(np.argmin(costs))


@pytest.mark.parametrize("Q", [[0, 3], [1, 2, 6], [0, 1, 2, 3, 4]])
def test_multi_weight_matches_constrained_minimum(Q):
    P = 7
    H = _spd(P, 5)
    w = torch.randn(P, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    dw, cost = obs_multi_update(w, torch.linalg.inv(H), Q)
    dw_ref, cost_ref = _kkt(H.numpy(), w.numpy(), Q)
    assert np.allclose(dw.numpy(), dw_ref, atol=1e-12)
    assert cost == pytest.approx(cost_ref, rel=1e-10)


def test_identity_is_magnitude_pruning():
    # H = I: saliency ½w² (10), update −w_q e_q (9) — compared with the magnitude rule written out.
    w = torch.tensor([0.3, -1.2, 0.05, 2.0, -0.7], dtype=torch.float64)
    H_inv = inverse_curvature("identity", size=5)
    assert torch.equal(obs_saliency(w, H_inv), 0.5 * w**2)
    for q in range(5):
        expected = torch.zeros(5, dtype=torch.float64)
        expected[q] = -w[q]
        assert torch.equal(obs_update(w, H_inv, q), expected)


def test_diagonal_is_obd():
    # H = diag(h): L_q = ½ h_q w_q² (LeCun et al. 1990) and nothing else moves.
    h = torch.tensor([2.0, 0.5, 3.0], dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    H_inv = inverse_curvature("diagonal", h)
    assert torch.allclose(obs_saliency(w, H_inv), 0.5 * h * w**2, rtol=1e-14)
    assert torch.allclose(obs_update(w, H_inv, 1), torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64))


def test_full_inverse_with_damping_matches_numpy():
    H = _spd(6, 9)
    ref = np.linalg.inv(H.numpy() + 0.2 * np.eye(6))
    assert np.allclose(inverse_curvature("full", H, damping=0.2).numpy(), ref, atol=1e-12)


def test_joint_removal_cost_is_best_over_all_pairs():
    # Brute force over every pair: the pair with the smallest joint cost (exhaustive search).
    P = 6
    H = _spd(P, 4)
    w = torch.randn(P, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    H_inv = torch.linalg.inv(H)
    costs = {Q: obs_multi_update(w, H_inv, list(Q))[1] for Q in itertools.combinations(range(P), 2)}
    ref = {Q: _kkt(H.numpy(), w.numpy(), list(Q))[1] for Q in costs}
    assert min(costs, key=costs.get) == min(ref, key=ref.get)


def test_bad_inputs():
    w = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="kind"):
        inverse_curvature("cubic", torch.eye(3))
    with pytest.raises(ValueError, match="damping"):
        inverse_curvature("diagonal", torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="not positive definite"):
        inverse_curvature("full", -torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="H_inv must be"):
        obs_saliency(w, torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="flat"):
        obs_saliency(torch.ones(3, 1), torch.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        obs_saliency(torch.tensor([1.0, float("nan"), 0.0]), torch.eye(3))
    with pytest.raises(ValueError, match="q must index"):
        obs_update(w, torch.eye(3, dtype=torch.float64), 3)
    with pytest.raises(ValueError, match="distinct"):
        obs_multi_update(w, torch.eye(3, dtype=torch.float64), [0, 0])
    with pytest.raises(TypeError):
        obs_saliency([1.0], torch.eye(1))
