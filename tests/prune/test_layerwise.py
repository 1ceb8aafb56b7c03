"""Row-wise OBS (exact and blocked) against brute force, magnitude pruning and explicit algebra."""


import numpy as np
import pytest
import torch

from curvlab.prune import layerwise as lw
from curvlab.prune.baselines import magnitude_layer, wanda_layer


def _layer(R=4, d=8, N=40, seed=0, corr=0.6):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, d, generator=g, dtype=torch.float64)
    X = X + corr * X[:, :1]                                               # correlated inputs
    W = torch.randn(R, d, generator=g, dtype=torch.float64)
    return W, 2 * X.T @ X / N, X


def _ls_loss(w, H, keep):
    """Brute force: the exact constrained least-squares loss of one row with support `keep`
    (numpy solve on the kept block) and the refitted row."""
    w, H = w.numpy(), H.numpy()
    S = np.flatnonzero(keep)
    w_hat = np.zeros_like(w)
    if S.size:
        w_hat[S] = np.linalg.solve(H[np.ix_(S, S)], (H @ w)[S])
    delta = w - w_hat
    return 0.5 * delta @ H @ delta, w_hat


def _brute_greedy(w, H, k, pattern=None):
    """Brute-force greedy: at each step try every allowed removal with a full LS refit."""
    d = w.shape[0]
    keep = np.ones(d, dtype=bool)
    for _ in range(k):
        best = None
        for q in np.flatnonzero(keep):
            if pattern is not None:
                n, m = pattern
                g = q // m
                if (~keep[g * m:(g + 1) * m]).sum() >= m - n:
                    continue
            trial = keep.copy()
            trial[q] = False
            loss, _ = _ls_loss(w, H, trial)
            if best is None or loss < best[0]:
                best = (loss, trial)
        keep = best[1]
    return keep


@pytest.mark.parametrize("pattern", [None, (2, 4)])
def test_exact_obs_is_brute_force_greedy(pattern):
    W, H, _ = _layer(R=3, d=8)
    res = lw.obs_exact(W, H, 0.5, pattern, damping=0.0)
    for i in range(W.shape[0]):
        keep = _brute_greedy(W[i], H, 4, pattern)
        assert res.mask[i].numpy().tolist() == keep.tolist()
        loss, w_hat = _ls_loss(W[i], H, keep)
        np.testing.assert_allclose(res.W[i].numpy(), w_hat, atol=1e-9)
    # the summed OBS losses (8) equal the final reconstruction error (OBS is exact on a quadratic)
    assert res.loss == pytest.approx(lw.layer_loss(W, res.W, H), rel=1e-9)


def test_single_removal_matches_eq_7_and_8():
    # one removal: L_q = ½ w_q²/[H⁻¹]_qq and δw = −(w_q/[H⁻¹]_qq) H⁻¹e_q, vs brute-force LS
    W, H, _ = _layer(R=1, d=5, seed=3)
    res = lw.obs_exact(W, H, 0.2, None, damping=0.0)                      # removes 1 of 5
    losses = [_ls_loss(W[0], H, np.arange(5) != q)[0] for q in range(5)]
    q = int(np.argmin(losses))
    assert not res.mask[0, q]
    assert res.loss == pytest.approx(min(losses), rel=1e-9)


@pytest.mark.parametrize("pattern", [None, (2, 4)])
def test_blocked_with_identity_is_magnitude(pattern):
    W, _, _ = _layer(R=6, d=16, seed=4)
    H = torch.eye(16, dtype=torch.float64)
    res = lw.obs_blocked(W, H, 0.5, pattern, block_size=16 if pattern is None else 4)
    ref = magnitude_layer(W, 0.5, pattern)
    assert torch.equal(res.mask, ref.mask)
    assert torch.equal(res.W, ref.W)


def test_blocked_loss_is_its_reconstruction_error_and_refit_is_least_squares():
    W, H, _ = _layer(R=5, d=12, seed=5)
    res = lw.obs_blocked(W, H, 0.5, None, block_size=4, damping=0.0)
    assert res.loss == pytest.approx(lw.layer_loss(W, res.W, H), rel=1e-9)
    ref = lw.refit(W, H, res.mask, damping=0.0, method="cholesky")
    cg = lw.refit(W, H, res.mask, damping=0.0, method="cg", W_init=res.W, cg_iters=60)
    for i in range(5):
        loss_i, w_hat = _ls_loss(W[i], H, res.mask[i].numpy())
        np.testing.assert_allclose(ref.W[i].numpy(), w_hat, atol=1e-9)
        np.testing.assert_allclose(cg.W[i].numpy(), w_hat, atol=1e-6)
    assert ref.loss <= res.loss + 1e-12


def test_blocked_matches_exact_on_small_layer():
    # on a small layer the fast mode (+ refit) reaches the exact mode's reconstruction error
    W, H, _ = _layer(R=16, d=16, N=200, seed=6, corr=0.3)
    exact = lw.obs_exact(W, H, 0.5, None, damping=0.01)
    blocked = lw.obs_blocked(W, H, 0.5, None, damping=0.01, block_size=16)
    refit = lw.refit(W, H, blocked.mask, damping=0.01)
    assert refit.loss <= 1.1 * exact.loss


def test_alternate_respects_pattern_and_count():
    W, H, _ = _layer(R=8, d=16, seed=7)
    mask = lw.alternate(W, H, 0.5, (2, 4), iters=10).mask
    assert (mask.reshape(8, 4, 4).sum(-1) == 2).all()
    mask = lw.alternate(W, H, 0.25, None, iters=10).mask
    assert int((~mask).sum()) == 32


def test_select_mask_vs_numpy_sort():
    s = torch.rand(5, 12, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    mask = lw.select_mask(s, 0.5, None, scope="layer")
    thresh = np.sort(s.numpy().ravel())[29]
    assert mask.numpy().tolist() == (s.numpy() > thresh).tolist()
    row = lw.select_mask(s, 0.5, None, scope="row")
    assert row.numpy().tolist() == (s.numpy() > np.sort(s.numpy(), 1)[:, 5:6]).tolist()


@pytest.mark.parametrize("seed", range(6))
def test_select_mask_ties_go_to_the_earliest_position(seed):
    gen = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 4, (6, 10), generator=gen).to(torch.float64)        # many ties
    sparsity = [0.1, 0.35, 0.5, 0.62, 0.8, 0.95][seed]
    k = lw.prune_count(60, sparsity)
    order = sorted(range(60), key=lambda i: (float(s.reshape(-1)[i]), i))   # stable reference
    expected = torch.ones(60, dtype=torch.bool)
    expected[order[:k]] = False
    assert torch.equal(lw.select_mask(s, sparsity).reshape(-1), expected)


def test_wanda_scores_rows_by_weight_times_input_norm():
    W, H, X = _layer(R=3, d=8, seed=9)
    res = wanda_layer(W, H, 0.5)
    scores = W.abs().numpy() * np.linalg.norm(X.numpy(), axis=0)         # |W_ij|·‖X_j‖₂
    keep = scores > np.sort(scores, 1)[:, 3:4]
    assert res.mask.numpy().tolist() == keep.tolist()


def test_bad_inputs():
    W, H, _ = _layer(R=2, d=6)
    with pytest.raises(ValueError, match="sparsity"):
        lw.obs_blocked(W, H, 1.0)
    with pytest.raises(ValueError, match="sparsity"):
        lw.obs_exact(W, H, -0.1)
    with pytest.raises(ValueError, match="does not divide"):
        lw.obs_blocked(W, H, 0.5, (2, 4))
    with pytest.raises(ValueError, match="N:M"):
        lw.parse_pattern("4:2")
    with pytest.raises(ValueError, match="NaN"):
        lw.obs_blocked(W * float("nan"), H, 0.5)
    with pytest.raises(ValueError, match="positive definite"):
        lw.obs_blocked(W, torch.ones(6, 6, dtype=torch.float64), 0.5, damping=0.0)   # rank 1
    assert lw.parse_pattern("2:4") == (2, 4) and lw.parse_pattern("unstructured") is None


def test_refit_with_bias_is_least_squares_on_the_kept_inputs_and_a_constant():
    gen = torch.Generator().manual_seed(21)
    N, R, d = 300, 5, 12
    X = torch.randn(N, d, generator=gen, dtype=torch.float64) + 2.0               # inputs with a mean
    W = torch.randn(R, d, generator=gen, dtype=torch.float64)
    H, mean = 2 * X.T @ X / N, X.mean(0)
    mask = torch.rand(R, d, generator=gen) > 0.5
    res = lw.refit_with_bias(W, H, mean, mask, damping=0.0, method="cholesky")
    for r in range(R):
        keep = mask[r].numpy()
        A = np.column_stack([X.numpy()[:, keep], np.ones(N)])                     # kept inputs and 1
        sol, *_ = np.linalg.lstsq(A, X.numpy() @ W[r].numpy(), rcond=None)
        np.testing.assert_allclose(res.W[r].numpy()[keep], sol[:-1], atol=1e-9)
        np.testing.assert_allclose(float(res.bias_shift[r]), sol[-1], atol=1e-9)
        assert not res.W[r].numpy()[~keep].any()
    err = X @ (W - res.W).T - res.bias_shift                                       # (N, R) output error
    assert res.loss == pytest.approx(float(err.square().sum()) / N, rel=1e-9)
    no_bias = lw.refit(W, H, mask, damping=0.0, method="cholesky")
    assert res.loss < no_bias.loss


def test_inverse_cholesky_upper_is_the_cholesky_factor_of_the_inverse():
    A = torch.randn(40, 30, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    H = A.T @ A / 40 + 0.05 * torch.eye(30, dtype=torch.float64)
    U = lw.inverse_cholesky_upper(H)
    assert torch.equal(U, torch.triu(U)) and bool((torch.diagonal(U) > 0).all())
    reference = np.linalg.cholesky(np.linalg.inv(H.numpy())).T                  # upper, UᵀU = H⁻¹
    np.testing.assert_allclose(U.numpy(), reference, rtol=1e-9, atol=1e-11)


def test_inverse_cholesky_upper_in_float32_and_its_float64_fallback():
    A = torch.randn(40, 30, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    H = A.T @ A / 40 + 0.05 * torch.eye(30, dtype=torch.float64)
    reference = np.linalg.cholesky(np.linalg.inv(H.numpy())).T
    U = lw.inverse_cholesky_upper(H, torch.float32)
    assert U.dtype == torch.float32
    np.testing.assert_allclose(U.numpy(), reference, rtol=1e-4, atol=1e-5)
    # eigenvalues 1 … 1e-9: float32 cannot factor it, float64 can — the answer must still be right
    Q, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    H = Q @ torch.diag(torch.logspace(0, -9, 12, dtype=torch.float64)) @ Q.T
    H = (H + H.T) / 2
    U = lw.inverse_cholesky_upper(H, torch.float32)
    assert U.dtype == torch.float64
    np.testing.assert_allclose((U.T @ U @ H).numpy(), np.eye(12), atol=1e-5)


@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_cg_refit_loss_from_the_residual_equals_the_layer_loss(dtype, rel):
    W, H, _ = _layer(R=6, d=140, seed=12)
    mask = torch.rand(6, 140, generator=torch.Generator().manual_seed(2)) > 0.5
    res = lw.refit(W, H, mask, method="cg", cg_iters=30, cg_dtype=dtype)
    assert res.loss == pytest.approx(lw.layer_loss(W, res.W, lw.damp(H, 0.01)[0]), rel=rel)
    exact = lw.refit(W, H, mask, method="cholesky")
    assert res.loss == pytest.approx(exact.loss, rel=1e-3)                  # and CG has converged
    zero_row = W.clone()
    zero_row[0] = 0                                                          # a converged row: no 0/0
    assert torch.isfinite(lw.refit(zero_row, H, mask, method="cg", cg_dtype=dtype).W).all()


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_bias_refit_by_cg_equals_the_exact_augmented_solve(dtype, tol):
    gen = torch.Generator().manual_seed(31)
    N, R, d = 400, 5, 140                                                        # d + 1 > 128: the CG path
    X = torch.randn(N, d, generator=gen, dtype=torch.float64) + 1.5
    W = torch.randn(R, d, generator=gen, dtype=torch.float64)
    H, mean = 2 * X.T @ X / N, X.mean(0)
    mask = torch.rand(R, d, generator=gen) > 0.5
    exact = lw.refit_with_bias(W, H, mean, mask, method="cholesky")
    cg = lw.refit_with_bias(W, H, mean, mask, method="cg", cg_iters=200, cg_dtype=dtype)
    torch.testing.assert_close(cg.W, exact.W, atol=tol * 10, rtol=tol * 10)
    torch.testing.assert_close(cg.bias_shift, exact.bias_shift, atol=tol * 10, rtol=tol * 10)
    assert cg.loss == pytest.approx(exact.loss, rel=tol * 10)


def test_bias_refit_and_factor_bad_input():
    W, H, X = _layer(R=3, d=8, seed=4)
    mask = torch.ones(3, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match="mean must have shape"):
        lw.refit_with_bias(W, H, torch.zeros(7, dtype=torch.float64), mask)
    with pytest.raises(ValueError, match="NaN"):
        lw.refit_with_bias(W, H, torch.full((8,), float("nan"), dtype=torch.float64), mask)
    with pytest.raises(ValueError, match="mask must have"):
        lw.refit_with_bias(W, H, X.mean(0), mask[:, :4])
    with pytest.raises(ValueError, match="U must be"):
        lw.obs_blocked(W, H, 0.5, U=torch.eye(4, dtype=torch.float64))


def test_row_weights_choose_the_mask_by_weighted_saliency():
    """With H = I and one layer-wide block, the unstructured mask keeps the largest c_r·w²
    (an independent sort), and unit weights change nothing."""
    W, _, _ = _layer(R=6, d=16, seed=8)
    H = torch.eye(16, dtype=torch.float64)
    c = torch.tensor([0.1, 1.0, 5.0, 1.0, 0.5, 2.0], dtype=torch.float64)
    res = lw.obs_blocked(W, H, 0.5, None, block_size=16, row_weights=c)
    scores = (c.unsqueeze(1) * W.square()).flatten()
    keep = torch.zeros(96, dtype=torch.bool)
    keep[scores.argsort(descending=True)[:48]] = True
    assert torch.equal(res.mask, keep.view(6, 16))
    assert res.mask[2].sum() > res.mask[0].sum()                         # the sensitive row keeps more
    for bad in (torch.ones(5), torch.tensor([1.0, -1, 1, 1, 1, 1]), torch.tensor([1.0, float("nan"), 1, 1, 1, 1])):
        with pytest.raises(ValueError, match="row_weights"):
            lw.obs_blocked(W, H, 0.5, None, row_weights=bad)
    plain = lw.obs_blocked(W, H, 0.5, None, block_size=16)
    assert torch.equal(lw.obs_blocked(W, H, 0.5, None, block_size=16, row_weights=torch.ones(6)).mask, plain.mask)
