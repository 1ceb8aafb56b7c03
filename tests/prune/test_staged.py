"""Staged block statistics and the fit of earlier outputs, against least squares and hooks."""

import copy

import numpy as np
import pytest
import torch

from curvlab.curvature.layer_hessian import weight_matrix
from curvlab.prune import staged
from curvlab.prune.driver import ObsOptions, prune_model


def _problem(seed=5):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(80, 6, generator=g, dtype=torch.float64) + 0.7             # new inputs (mean ≠ 0)
    X_old = X + 0.3 * torch.randn(80, 6, generator=g, dtype=torch.float64)      # the inputs before
    W = torch.randn(4, 6, generator=g, dtype=torch.float64)
    return X, X_old, W, 2 * X.T @ X / 80, 2 * X.T @ X_old / 80


def test_fit_target_is_the_least_squares_fit_of_the_earlier_outputs():
    X, X_old, W, H, G = _problem()
    ref, *_ = np.linalg.lstsq(X.numpy(), X_old.numpy() @ W.numpy().T, rcond=None)      # (6, 4)
    W_fit, shift, U = staged.fit_target(W, H, G, damping=0.0, mix=1.0)
    assert shift is None
    torch.testing.assert_close(U.T @ U, torch.linalg.inv(H))                  # the sweep's factor
    np.testing.assert_allclose(W_fit.numpy(), ref.T, atol=1e-10)
    W_half, _, _ = staged.fit_target(W, H, G, damping=0.0, mix=0.3)                 # 0.3·fit + 0.7·own
    np.testing.assert_allclose(W_half.numpy(), 0.3 * ref.T + 0.7 * W.numpy(), atol=1e-10)


def test_fit_target_with_an_intercept():
    X, X_old, W, H, G = _problem(6)
    X1 = np.hstack([X.numpy(), np.ones((80, 1))])
    ref, *_ = np.linalg.lstsq(X1, X_old.numpy() @ W.numpy().T, rcond=None)            # (7, 4)
    W_fit, shift, _ = staged.fit_target(W, H, G, damping=0.0, mix=1.0, mean=X.mean(0), mean_dense=X_old.mean(0))
    np.testing.assert_allclose(W_fit.numpy(), ref[:6].T, atol=1e-9)
    np.testing.assert_allclose(shift.numpy(), ref[6], atol=1e-9)
    W32, shift32, _ = staged.fit_target(W, H, G, damping=0.0, mix=1.0, mean=X.mean(0), mean_dense=X_old.mean(0),
                                     dtype=torch.float32)
    np.testing.assert_allclose(W32.numpy(), ref[:6].T, atol=1e-3)
    with pytest.raises(ValueError, match="mix"):
        staged.fit_target(W, H, G, damping=0.0, mix=1.5)


def _block_calls(model, batches):
    calls = []
    h = model.encoder.layer[0].register_forward_pre_hook(
        lambda m, a, kw: calls.append((a, kw)), with_kwargs=True)
    with torch.no_grad():
        for b in batches:
            model(**b)
    h.remove()
    return calls, [b["attention_mask"] for b in batches]


def test_collect_block_keeps_the_dense_inputs_of_the_later_layers(tiny, inputs_of):
    model, batches = tiny
    block = model.encoder.layer[0]
    targets = {n: m for n, m in block.named_modules() if isinstance(m, torch.nn.Linear)}
    calls, masks = _block_calls(model, batches)
    stats = staged.collect_block(block, targets, calls, masks, keep_local=True)
    assert set(stats.hessians) == {"attention.self.query", "attention.self.key", "attention.self.value"}
    assert set(stats.local) == {"attention.output.dense", "intermediate.dense", "output.dense"}
    X = torch.cat(inputs_of(model, block.attention.self.query, batches))
    torch.testing.assert_close(stats.hessians["attention.self.key"].H, 2 * X.T @ X / X.shape[0])
    for name in stats.local:
        ref = inputs_of(model, targets[name], batches)
        for got, want in zip(stats.local[name], ref):
            torch.testing.assert_close(got, want.float())
    everything = staged.collect_block(block, targets, calls, masks, keep_local=False)
    assert set(everything.hessians) == set(targets) and not everything.local


def test_layer_statistics_see_the_pruned_layers_and_stop_early(tiny, inputs_of):
    model0, batches = tiny
    model = copy.deepcopy(model0)
    block = model.encoder.layer[0]
    calls, masks = _block_calls(model0, batches)
    dense_rows = [x.float() for x in inputs_of(model0, model0.encoder.layer[0].attention.output.dense, batches)]
    with torch.no_grad():
        block.attention.self.value.weight[:, ::2] = 0                        # prune a layer before
    ran_later = []
    h = block.output.dense.register_forward_hook(lambda *a: ran_later.append(1))
    H, G, n, mu, mu_old = staged.layer_statistics(block, block.attention.output.dense, calls, masks,
                                                   dense_rows=dense_rows)
    h.remove()
    assert not ran_later                                                    # the pass stopped at the layer
    X_new = torch.cat(inputs_of(model, block.attention.output.dense, batches))
    X_old = torch.cat([x.double() for x in dense_rows])
    assert n == X_new.shape[0]
    torch.testing.assert_close(H, 2 * X_new.T @ X_new / n)
    torch.testing.assert_close(G, 2 * X_new.T @ X_old / n)
    torch.testing.assert_close(mu, X_new.mean(0))
    torch.testing.assert_close(mu_old, X_old.mean(0))
    assert not torch.allclose(X_new, X_old)


def test_block_target_fits_the_dense_block_outputs_better(tiny, inputs_of):
    model0, batches = tiny
    o0 = model0.encoder.layer[0].attention.output.dense
    X_dense = torch.cat(inputs_of(model0, o0, batches))
    errors, reports = {}, {}
    for target in ("input", "block"):
        model = copy.deepcopy(model0)
        reports[target] = prune_model(model, batches, pattern="2:4", progress=False,
                                      options=ObsOptions(target=target, target_mix=1.0))
        o1 = model.encoder.layer[0].attention.output.dense
        X_new = torch.cat(inputs_of(model, o1, batches))
        old = X_dense @ weight_matrix(o0).double().T + o0.bias.detach().double()
        new = X_new @ weight_matrix(o1).double().T + o1.bias.detach().double()
        errors[target] = float(((old - new) ** 2).sum())
    assert errors["block"] < errors["input"]
    # per block: one pass to collect, one per later layer (3), one to propagate
    assert reports["block"].calibration_passes == 2 * (1 + 3 + 1)
    assert reports["input"].calibration_passes == 2 * (1 + 1)


def test_target_options_are_checked():
    with pytest.raises(ValueError, match="target must be"):
        ObsOptions(target="outputs")
    with pytest.raises(ValueError, match="target_mix"):
        ObsOptions(target_mix=2)
    with pytest.raises(ValueError, match="target_max_inputs"):
        ObsOptions(target_max_inputs=0)


def test_block_target_with_the_unstructured_allocation(tiny):
    # the budget split needs every layer's H from the first pass; the later layers keep their rows too
    model0, batches = tiny
    model = copy.deepcopy(model0)
    report = prune_model(model, batches, 0.5, progress=False, options=ObsOptions(target="block", sensitivity=0,
                                                                                 allocation="obs"))
    assert report.overall_sparsity == pytest.approx(0.5, abs=1e-9)
    assert len({round(r.sparsity, 3) for r in report.layers}) > 1                # the split moved sparsity
    assert report.calibration_passes == 2 * (1 + 3 + 1)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    assert report.peak_hessian_bytes == 8 * (4 * 16 * 16 + 16 * 16 + 32 * 32 + 4 * 16 + 16 + 32) \
        + 4 * tokens * (16 + 16 + 32)
