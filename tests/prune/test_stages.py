"""The driver's stages one by one, and prune_model's errors and rollback (issue #15, #16)."""

import copy

import pytest
import torch

from curvlab.curvature.layer_hessian import LayerHessian
from curvlab.prune import stages
from curvlab.prune.driver import ObsOptions, find_blocks, prune_model


def test_capture_gives_the_first_blocks_inputs_and_padding_masks(tiny):
    model, batches = tiny
    blocks = find_blocks(model)
    seen = []
    h = blocks[0].register_forward_pre_hook(lambda m, a, kw: seen.append(a[0] if a else kw["hidden_states"]),
                                            with_kwargs=True)
    with torch.no_grad():
        for b in batches:
            model(**b)
    h.remove()
    calls = stages.capture_block_inputs(model, blocks, batches)
    assert len(calls.hidden) == len(batches)
    for x, ref in zip(calls.hidden, seen):
        torch.testing.assert_close(x, ref)
    for tm, b in zip(calls.token_masks, batches):
        assert torch.equal(tm, b["attention_mask"])
    assert all("forward" not in vars(b) for b in blocks)                      # the identity patch is gone


def test_reduce_statistics_over_two_shards_equals_the_statistics_of_all_rows(monkeypatch):
    """Two ranks simulated: each reduces its shard's (H, μ, N); the all-reduce adds the other
    shard's contribution. Reference: H = 2XᵀX/N and μ of all rows at once."""
    lin = torch.nn.Linear(5, 3)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 5, generator=g, dtype=torch.float64)
    shards = [LayerHessian(lin), LayerHessian(lin)]
    shards[0].add_batch(X[:12].float())
    shards[1].add_batch(X[12:].float())
    sent = []                                                   # what rank 1 contributes, in call order
    monkeypatch.setattr(stages, "all_reduce_sum", lambda t: sent.append(t.clone()) or t)
    stages.reduce_statistics({"l": shards[1]})
    it = iter(sent)
    monkeypatch.setattr(stages, "all_reduce_sum", lambda t: t.add_(next(it)))
    stages.reduce_statistics({"l": shards[0]})
    Xf = X.float().double()
    assert shards[0].n_samples == 30
    torch.testing.assert_close(shards[0].H, 2 * Xf.T @ Xf / 30)
    torch.testing.assert_close(shards[0].mean, Xf.mean(0))


def test_reduce_statistics_alone_is_the_identity():
    lin = torch.nn.Linear(4, 2)
    h = LayerHessian(lin)
    h.add_batch(torch.randn(7, 4))
    H, mu = h.H.clone(), h.mean.clone()
    stages.reduce_statistics({"l": h})
    torch.testing.assert_close(h.H, H)
    torch.testing.assert_close(h.mean, mu)
    assert h.n_samples == 7


def test_a_failure_half_way_restores_the_same_objects_in_place(tiny, monkeypatch):
    from curvlab.prune import driver

    model0, batches = tiny
    model = copy.deepcopy(model0)
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    values = {k: v.detach().clone() for k, v in params.items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = {"n": 0}
    real = driver.write_layer

    def fault(*args, **kwargs):                              # the 8th layer (block 1) fails
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("injected fault")
        return real(*args, **kwargs)
    monkeypatch.setattr(driver, "write_layer", fault)
    with pytest.raises(RuntimeError, match="injected"):
        prune_model(model, batches, 0.5, progress=False)
    assert dict(model.named_modules()) == modules                 # the same module objects
    for name, p in model.named_parameters():
        assert p is params[name] and torch.equal(p, values[name])
    assert all(p is q for p, q in zip(opt.param_groups[0]["params"], model.parameters()))
    assert not any(hasattr(m, "weight_mask") or m._forward_pre_hooks for m in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(**batches[0]).last_hidden_state, model0(**batches[0]).last_hidden_state)


def test_no_prunable_layer_is_a_clear_error():
    model = torch.nn.Sequential(torch.nn.LayerNorm(4), torch.nn.ReLU())
    with pytest.raises(ValueError, match="no prunable layer"):
        prune_model(model, [torch.randn(3, 4)], 0.5, progress=False)
    with pytest.raises(ValueError, match="no prunable layer"):
        prune_model(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)), [torch.randn(3, 4)],
                    layers=["1"], progress=False)


@pytest.mark.parametrize("sensitivity", [8, 0])
def test_inputs_of_the_wrong_width_blame_the_calibration(sensitivity):
    model = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="calibration inputs"):
        prune_model(model, [torch.randn(5, 7)], 0.5, options=ObsOptions(sensitivity=sensitivity), progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_empty_or_all_padding_calibration_is_an_error(tiny):
    model0, batches = tiny
    model = copy.deepcopy(model0)
    with pytest.raises(ValueError, match="empty"):
        prune_model(torch.nn.Linear(4, 4), [torch.zeros(0, 4)], 0.5, progress=False)
    padded = [{"input_ids": b["input_ids"], "attention_mask": torch.zeros_like(b["attention_mask"])}
              for b in batches]
    with pytest.raises(ValueError, match="no tokens"):
        prune_model(model, padded, 0.5, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model0.state_dict().values()))


def test_report_prints_one_row_per_layer(tiny):
    model0, batches = tiny
    report = prune_model(copy.deepcopy(model0), batches, 0.5, "2:4", "sparsegpt", progress=False)
    report.layers[0].heldout_error = 0.0123
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("sparsegpt (2:4): sparsity 50.0% over 12 layers")
    assert len(lines) == 2 + 12 + 1                                          # header, columns, layers, mean
    for r, line in zip(report.layers, lines[2:]):
        assert r.name in line and f"{r.sparsity:.1%}" in line and f"{r.calibration_error:.4g}" in line
    assert "0.0123" in lines[2] and "held-out" in lines[1]
