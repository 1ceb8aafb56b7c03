"""Global OBS against independent references: a naive loop that re-inverts the remaining
block of H at every step, the exact quadratic, brute force, and torch.nn.utils.prune."""

import io

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils import prune as torch_prune

from curvlab.prune.global_obs import QuotaGroups, global_obs, prune_global


def _spd(P, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(P, P, generator=g, dtype=torch.float64)
    return A @ A.T / P + 0.05 * torch.eye(P, dtype=torch.float64)


def _naive_obs(H, w, n):
    """Reference: each step minimizes ½δwᵀHδw with all removed weights held at 0, by solving on the
    remaining block directly (np.linalg.inv of H[R, R]); no downdates."""
    H, w = H.numpy(), w.numpy().copy()
    removed = []
    for _ in range(n):
        R = [i for i in range(len(w)) if i not in removed]
        H_inv = np.linalg.inv(H[np.ix_(R, R)])
        sal = 0.5 * w[R] ** 2 / np.diag(H_inv)
        j = int(np.argmin(sal))
        q = R[j]
        w[R] -= w[q] / H_inv[j, j] * H_inv[:, j]
        w[q] = 0.0
        removed.append(q)
    return w, removed


@pytest.mark.parametrize("delay", [1, 4, 64])
def test_delayed_downdates_equal_naive_loop(delay):
    P, n = 30, 22
    H = _spd(P, 0)
    w = torch.randn(P, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    res = global_obs(w, torch.linalg.inv(H), n, delay=delay)
    w_ref, order_ref = _naive_obs(H, w, n)
    assert res.order.tolist() == order_ref
    assert np.allclose(res.w.numpy(), w_ref, atol=1e-10)


@pytest.mark.parametrize("joint", [1, 3])
def test_predicted_increase_is_exact_on_a_quadratic(joint):
    # L(w) = ½(w − w*)ᵀH(w − w*) at its minimum w*: the actual increase is the quadratic itself.
    P = 25
    H = _spd(P, 2)
    w = torch.randn(P, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    res = global_obs(w, torch.linalg.inv(H), 15, joint=joint, delay=5)
    dw = res.w - w
    actual = float(0.5 * dw @ H @ dw)
    assert res.predicted_increase == pytest.approx(actual, abs=1e-10)
    assert int((~res.mask).sum()) == 15 and torch.all(res.w[~res.mask] == 0)


def test_first_pick_is_brute_force_best():
    P = 10
    H = _spd(P, 4)
    w = torch.randn(P, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    res = global_obs(w, torch.linalg.inv(H), 1)
    costs = []
    for q in range(P):          # brute force: minimize over δw with δw_q = −w_q by elimination
        R = [i for i in range(P) if i != q]
        Hn = H.numpy()
        dR = np.linalg.solve(Hn[np.ix_(R, R)], Hn[R, q] * w[q].item())
        dw = np.zeros(P)
        dw[q] = -w[q].item()
        dw[R] = dR
        costs.append(0.5 * dw @ Hn @ dw)
    assert int(res.order[0]) == int(np.argmin(costs))
    assert res.predicted_increase == pytest.approx(min(costs), rel=1e-10)


def test_quotas_respected_and_candidates_kept():
    P = 20
    w = torch.randn(P, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    group = torch.arange(P) // 5                        # 4 groups of 5
    quota = torch.tensor([1, 2, 3, 0])
    cand = torch.ones(P, dtype=torch.bool)
    cand[0] = False
    res = global_obs(w, torch.linalg.inv(_spd(P, 7)), 6, candidates=cand, quotas=[QuotaGroups(group, quota)])
    removed = torch.bincount(group[~res.mask], minlength=4)
    assert removed.tolist() == [1, 2, 3, 0] and bool(res.mask[0])
    with pytest.raises(ValueError, match="exceeds"):
        global_obs(w, torch.eye(P, dtype=torch.float64), 7, quotas=[QuotaGroups(group, quota)])


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 12), nn.Tanh(), nn.Linear(12, 4)).double()


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(40, 8, generator=g, dtype=torch.float64), torch.randint(0, 4, (40,), generator=g)


def test_magnitude_equals_torch_global_and_layerwise_l1():
    X, y = _data()
    ours, ref = _mlp(), _mlp()
    prune_global(ours, 0.6, (X, y), curvature="magnitude")
    torch_prune.global_unstructured([(ref[0], "weight"), (ref[2], "weight")],
                                    pruning_method=torch_prune.L1Unstructured, amount=0.6)
    for i in (0, 2):
        assert torch.equal(ours[i].weight_mask, ref[i].weight_mask)
        assert torch.equal(ours[i].weight, ref[i].weight)          # δw = −w_q e_q: the rest untouched
    ours, ref = _mlp(), _mlp()
    prune_global(ours, 0.5, (X, y), curvature="magnitude", budget="layer")
    for i in (0, 2):
        torch_prune.l1_unstructured(ref[i], "weight", amount=0.5)
        assert torch.equal(ours[i].weight_mask, ref[i].weight_mask)


def test_nm_pattern():
    X, y = _data()
    model = _mlp()
    report = prune_global(model, None, (X, y), curvature="gauss_newton", pattern="2:4", rounds=2)
    for i in (0, 2):
        kept = model[i].weight_mask.reshape(model[i].weight.shape[0], -1, 4).sum(-1)   # (out, in/4)
        assert torch.all(kept == 2)
    assert report.total_sparsity == pytest.approx(0.5)


def test_obs_beats_magnitude_and_loss_reported():
    X, y = _data()
    trained = _mlp()
    opt = torch.optim.LBFGS(trained.parameters(), max_iter=200)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(trained(X), y)
        loss.backward()
        return loss

    opt.step(closure)
    losses = {}
    for curv in ("magnitude", "gauss_newton"):
        m = _mlp()
        m.load_state_dict(trained.state_dict())
        rep = prune_global(m, 0.5, (X, y), curvature=curv, damping=1e-3)
        with torch.no_grad():
            losses[curv] = float(nn.functional.cross_entropy(m(X), y))
        assert rep.rounds[-1].loss_after == pytest.approx(losses[curv], rel=1e-9)
    assert losses["gauss_newton"] < losses["magnitude"]


def test_masks_interoperate_with_torch_prune_and_reload(tmp_path):
    X, y = _data()
    model = _mlp()
    prune_global(model, 0.5, (X, y), curvature="abs_hessian", damping=0.1)
    w_pruned = model[0].weight.detach().clone()
    # pruning further with torch combines masks (PruningContainer)
    torch_prune.l1_unstructured(model[0], "weight", amount=0.2)
    assert int((model[0].weight == 0).sum()) >= int((w_pruned == 0).sum())
    # and prune_global on an already pruned model keeps the old zeros
    prune_global(model, 0.8, (X, y), curvature="gauss_newton")
    assert torch.all(model[0].weight[w_pruned == 0] == 0)
    for i in (0, 2):
        torch_prune.remove(model[i], "weight")
    assert not torch_prune.is_pruned(model)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "m.safetensors")
    fresh = _mlp(1)
    fresh.load_state_dict(load_file(tmp_path / "m.safetensors"))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh2 = _mlp(2)
    fresh2.load_state_dict(torch.load(buf, weights_only=True))
    for m in (fresh, fresh2):
        assert torch.equal(m(X), model(X))
    zeros = sum(int((model[i].weight == 0).sum()) for i in (0, 2))
    assert zeros / (8 * 12 + 12 * 4) == pytest.approx(0.8, abs=1 / 144)


def test_pruned_state_dict_with_masks_loads_weights_only():
    X, y = _data()
    model = _mlp()
    prune_global(model, 0.5, (X, y), curvature="magnitude")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert {"0.weight_orig", "0.weight_mask"} <= set(state)
    fresh = _mlp(3)
    for i in (0, 2):
        torch_prune.identity(fresh[i], "weight")
    fresh.load_state_dict(state)
    assert torch.equal(fresh(X), model(X))


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kwargs, match", [
    (dict(sparsity=1.0), "sparsity"),
    (dict(sparsity=-0.1), "sparsity"),
    (dict(sparsity=None, pattern="2:5"), "multiple of 5"),
    (dict(sparsity=0.5, pattern="2-4"), "N:M"),
    (dict(sparsity=0.5, curvature="hessian", damping=0.0), "not positive definite"),
    (dict(sparsity=0.5, curvature="cubic"), "curvature"),
    (dict(sparsity=0.5, budget="row"), "budget"),
    (dict(sparsity=0.5, modules=["7"]), "not Linear"),
])
def test_bad_input_leaves_model_unchanged(kwargs, match):
    X, y = _data()
    model = _mlp()
    torch_prune.l1_unstructured(model[2], "weight", amount=0.25)
    before = _snapshot(model)
    sparsity = kwargs.pop("sparsity")
    with pytest.raises(ValueError, match=match):
        prune_global(model, sparsity, (X, y), **kwargs)
    after = _snapshot(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not hasattr(model[0], "weight_orig")


def test_bad_model_and_data():
    X, y = _data()
    with pytest.raises(ValueError, match="nothing to prune"):
        prune_global(nn.Sequential(nn.Tanh()), 0.5, (X, y))
    model = _mlp()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prune_global(model, 0.5, (X, y))
    X_bad = X.clone()
    X_bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prune_global(_mlp(), 0.5, (X_bad, y))
    with pytest.raises(TypeError, match="data"):
        prune_global(_mlp(), 0.5, X)


def test_block_diagonal_by_layer_matches_numpy_block_inverses():
    # Reference: H⁻¹ assembled from np.linalg.inv of each module's block (weights + bias).
    from curvlab.prune.curvatures import curvature_matrix

    X, y = _data()
    model = _mlp()
    params = list(model.parameters())
    G = curvature_matrix("gauss_newton", model, nn.CrossEntropyLoss(), X, y, params).numpy()
    sizes = [p.numel() for p in params]
    edges = np.cumsum([0] + sizes)
    H_inv = np.zeros_like(G)
    for a, b in ((edges[0], edges[2]), (edges[2], edges[4])):
        B = G[a:b, a:b]
        H_inv[a:b, a:b] = np.linalg.inv(B + 0.01 * np.mean(np.diag(B)) * np.eye(b - a))
    theta = torch.cat([p.detach().reshape(-1) for p in params])
    prunable = torch.cat([torch.full((p.numel(),), p.ndim == 2) for p in params])
    ref = global_obs(theta, torch.from_numpy(H_inv), int(round(0.5 * int(prunable.sum()))), candidates=prunable)
    prune_global(model, 0.5, (X, y), curvature="gauss_newton", damping=0.01, blocks="layer")
    ours = torch.cat([model[0].weight_mask.reshape(-1), torch.ones(12), model[2].weight_mask.reshape(-1),
                      torch.ones(4)]).bool()
    assert torch.equal(ours, ref.mask)
    with pytest.raises(ValueError, match="blocks"):
        prune_global(_mlp(), 0.5, (X, y), blocks="rows")
