"""The whole-model driver on a tiny random BERT: sequential blocks, padding, reports, rollback."""

import copy

import numpy as np
import pytest
import torch

from curvlab.curvature.layer_hessian import weight_matrix
from curvlab.prune.driver import ObsOptions, find_blocks, prune_model
from curvlab.prune.evaluate import heldout_layer_errors, knn_agreement, mean_cosine, similarity_spearman


def _query_inputs(model, batches, block):
    """Independent reference: the real (unpadded) inputs of block `block`'s query layer in the
    final model, gathered by a hook on a full forward pass."""
    rows = []
    lin = model.encoder.layer[block].attention.self.query

    def hook(mod, args, out):
        rows.append(args[0])
    h = lin.register_forward_hook(hook)
    with torch.no_grad():
        for b in batches:
            model(**b)
    h.remove()
    return torch.cat([x[b["attention_mask"].bool()] for x, b in zip(rows, batches)]).double()


def test_blocks_are_found(tiny):
    model, _ = tiny
    assert find_blocks(model) == list(model.encoder.layer)


def test_wanda_masks_come_from_the_already_pruned_blocks(tiny):
    model0, batches = tiny
    model = copy.deepcopy(model0)
    report = prune_model(model, batches, 0.5, None, "wanda", progress=False)
    assert len(report.layers) == 12
    X = _query_inputs(model, batches, 1)                                  # block 1 sees pruned block 0
    W = weight_matrix(model0.encoder.layer[1].attention.self.query).double()
    scores = W.abs() * X.norm(dim=0)                                      # |W_ij|·‖X_j‖₂
    keep = scores > scores.sort(dim=1).values[:, 7:8]
    assert torch.equal(model.encoder.layer[1].attention.self.query.weight_mask.bool(), keep)


@pytest.mark.parametrize("pattern", [None, "2:4"])
def test_obs_report_and_masks(tiny, pattern):
    model0, batches = tiny
    model = copy.deepcopy(model0)
    report = prune_model(model, batches, 0.5, pattern, "obs", progress=False,
                         options=ObsOptions(bias=False, target="block" if pattern else "input"))
    assert report.overall_sparsity == pytest.approx(0.5, abs=1e-9)
    q = model.encoder.layer[0].attention.self.query
    assert hasattr(q, "weight_orig") and hasattr(q, "weight_mask")      # torch.nn.utils.prune layout
    # measured calibration error of the query layer of block 0, recomputed by hand
    X = _query_inputs(model0, batches, 0)
    W0, W1 = weight_matrix(model0.encoder.layer[0].attention.self.query).double(), weight_matrix(q).double()
    ref = float(((X @ (W0 - W1).T) ** 2).sum() / ((X @ W0.T) ** 2).sum())
    assert report.layers[0].calibration_error == pytest.approx(ref, rel=1e-6)
    if pattern is None:                                                   # one block: H and μ of its 6 layers
        assert report.peak_hessian_bytes == 8 * (4 * 16 * 16 + 16 * 16 + 32 * 32 + 4 * 16 + 16 + 32)
    else:       # target="block": H and μ of Q, K, V; the dense-block inputs of the 3 others (float32)
        tokens = sum(int(b["attention_mask"].sum()) for b in batches)
        assert report.peak_hessian_bytes == 8 * 3 * (16 * 16 + 16) + 4 * tokens * (16 + 16 + 32)
    errs = heldout_layer_errors(model0, model, batches)
    assert errs[report.layers[0].name] == pytest.approx(ref, rel=1e-6)


def test_bias_refit_lowers_the_output_error_and_is_measured_with_the_bias(tiny):
    model0, batches = tiny
    reports, models = {}, {}
    for bias in (False, True):
        models[bias] = copy.deepcopy(model0)
        reports[bias] = prune_model(models[bias], batches, 0.5, None, "obs", progress=False,
                                    options=ObsOptions(bias=bias))
    q0, q1 = model0.encoder.layer[0].attention.self.query, models[True].encoder.layer[0].attention.self.query
    assert not torch.equal(q0.bias, q1.bias)                                # the bias moved
    X = _query_inputs(model0, batches, 0)                                   # (m, 16) block 0's inputs
    out0 = X @ weight_matrix(q0).double().T + q0.bias.double()
    out1 = X @ weight_matrix(q1).double().T + q1.bias.double()
    ref = float(((out0 - out1) ** 2).sum() / ((X @ weight_matrix(q0).double().T) ** 2).sum())
    assert reports[True].layers[0].calibration_error == pytest.approx(ref, rel=1e-6)
    assert heldout_layer_errors(model0, models[True], batches)[q_name(models[True])] == pytest.approx(ref, rel=1e-6)
    for with_bias, without in zip(reports[True].layers[:6], reports[False].layers[:6]):   # block 0: same H
        assert with_bias.calibration_error <= without.calibration_error * (1 + 1e-9)


def q_name(model) -> str:
    return next(n for n, m in model.named_modules() if m is model.encoder.layer[0].attention.self.query)


def test_restaged_statistics_see_the_pruned_layers_before(tiny, inputs_of):
    # the block target with α = 0 fits the layer's own outputs, on the inputs the pruned Q, K, V give
    model0, batches = tiny
    model = copy.deepcopy(model0)
    report = prune_model(model, batches, 0.5, None, "obs", progress=False,
                         options=ObsOptions(target="block", target_mix=0.0, bias=False))
    o0 = model0.encoder.layer[0].attention.output.dense
    o1 = model.encoder.layer[0].attention.output.dense
    X = torch.cat(inputs_of(model, o1, batches))
    W0, W1 = weight_matrix(o0).double(), weight_matrix(o1).double()
    ref = float(((X @ (W0 - W1).T) ** 2).sum() / ((X @ W0.T) ** 2).sum())  # inputs after Q, K, V were pruned
    layer = next(r for r in report.layers if r.name.endswith("layer.0.attention.output.dense"))
    assert layer.calibration_error == pytest.approx(ref, rel=1e-6)


def test_obs_beats_sparsegpt_on_calibration(tiny):
    model0, batches = tiny
    errors = {}
    for method in ("sparsegpt", "obs"):
        model = copy.deepcopy(model0)
        errors[method] = prune_model(model, batches, 0.5, None, method, progress=False,
                                     options=ObsOptions(allocation="obs")).mean("calibration_error")
    assert errors["obs"] < errors["sparsegpt"]


def test_bad_input_leaves_model_unchanged(tiny):
    model0, batches = tiny
    model = copy.deepcopy(model0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="does not divide"):
        prune_model(model, batches, None, "3:5", "obs", progress=False)
    with pytest.raises(ValueError, match="conflicts with the pattern 2:4"):       # 2:4 removes 0.5, not 0.7
        prune_model(model, batches, 0.7, "2:4", "obs", progress=False)
    with pytest.raises(ValueError, match="cg_iters must be"):
        ObsOptions(cg_iters=-1)
    with pytest.raises(ValueError, match="empty"):
        prune_model(model, [], 0.5)
    with pytest.raises(ValueError, match="sparsity"):
        prune_model(model, batches, 1.0)
    with pytest.raises(ValueError, match="method"):
        prune_model(model, batches, 0.5, method="random")
    nan_batch = [{"inputs_embeds": torch.full((1, 4, 16), float("nan"))}]
    with pytest.raises(ValueError, match="NaN"):
        prune_model(model, nan_batch, 0.5)
    after = model.state_dict()
    assert set(after) == set(before) and all(torch.equal(before[k], after[k]) for k in before)


def test_evaluation_metrics_vs_references():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 5))
    B = A + 0.3 * rng.normal(size=(12, 5))
    An, Bn = A / np.linalg.norm(A, axis=1, keepdims=True), B / np.linalg.norm(B, axis=1, keepdims=True)
    assert mean_cosine(A, B) == pytest.approx(np.mean([a @ b for a, b in zip(An, Bn)]))
    iu = np.triu_indices(12, 1)
    assert similarity_spearman(A, B) == pytest.approx(spearmanr((An @ An.T)[iu], (Bn @ Bn.T)[iu])[0])
    assert knn_agreement(A, A, k=3) == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--sparsity", "1.5"], "--sparsity"),
    (["--pattern", "5:4"], "--pattern"),
    (["--calibration", "0"], "--calibration"),
    (["--model", "no/such/dir"], "--model"),
    (["--sensitivity", "-1"], "--sensitivity"),
    (["--allocation", "output", "--sensitivity", "0"], "--allocation output"),
    (["--target-mix", "1.5"], "--target-mix"),
])
def test_cli_bad_arguments_write_nothing(tmp_path, capsys, argv, message):
    from curvlab.cli import main

    out = tmp_path / "out"
    assert main(["prune", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_rejects_a_checkpoint_file(tmp_path, capsys):
    from curvlab.cli import main

    ckpt = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, ckpt)
    assert main(["prune", "--out", str(tmp_path / "o"), "--model", str(ckpt)]) == 2
    assert "safetensors" in capsys.readouterr().err


def test_output_allocation_is_a_global_threshold_on_weighted_obs_losses():
    """allocate(row_weights=c): the count removed from each layer is that of the lowest
    c_r·½w_q²/[H⁻¹]_qq across both layers (naive sort), when no layer hits its bounds."""
    from curvlab.prune import layerwise as lw
    from curvlab.prune.driver import allocate

    g = torch.Generator().manual_seed(3)
    Ws = [torch.randn(4, 6, generator=g, dtype=torch.float64), torch.randn(3, 8, generator=g, dtype=torch.float64)]
    Xs = [torch.randn(50, 6, generator=g, dtype=torch.float64), torch.randn(50, 8, generator=g, dtype=torch.float64)]
    Hs = [2 * X.T @ X / 50 for X in Xs]
    cs = [torch.rand(4, generator=g, dtype=torch.float64) + 0.1, 10 * torch.rand(3, generator=g, dtype=torch.float64)]
    split = allocate(Ws, Hs, 0.5, 0.01, max_shift=0.49, row_weights=cs)
    scores, owner = [], []
    for i, (W, H, c) in enumerate(zip(Ws, Hs, cs)):
        H_inv = torch.linalg.inv(lw.damp(H, 0.01)[0])
        scores.append((c.unsqueeze(1) * 0.5 * W.square() / H_inv.diagonal()).flatten())
        owner += [i] * W.numel()
    lowest = torch.cat(scores).argsort()[:24]
    ref = [sum(1 for j in lowest.tolist() if owner[j] == i) / W.numel() for i, W in enumerate(Ws)]
    assert split == pytest.approx(ref)
    assert split != pytest.approx([0.5, 0.5])


def test_sensitivity_weighting_lowers_the_model_output_error():
    """f = A tanh(W x) with A's columns of very different norms: weighting the OBS losses of W's
    rows by the output's sensitivity to them (≈ ‖A_:r‖²) must bring the pruned model's output
    closer to the dense one — the quantity the weights estimate — than plain layer-wise OBS."""
    torch.manual_seed(0)
    model0 = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)).double()
    with torch.no_grad():
        model0[2].weight.mul_(torch.logspace(-1, 1, 16, dtype=torch.float64))
    batches = [torch.randn(64, 12, dtype=torch.float64) for _ in range(4)]

    def output_error(options):
        model = copy.deepcopy(model0)
        report = prune_model(model, batches, 0.5, None, "obs", options=options, layers=["0"], progress=False)
        with torch.no_grad():
            return sum(float((model(b) - model0(b)).square().sum()) for b in batches), report

    plain, _ = output_error(ObsOptions(sensitivity=0))
    weighted, report = output_error(ObsOptions(sensitivity=64))
    assert report.options["sensitivity"] == 64 and report.overall_sparsity == pytest.approx(0.5, abs=1e-9)
    assert weighted < 0.9 * plain
    assert all(p.grad is None for p in model0.parameters())


@pytest.mark.parametrize("kwargs, message", [
    (dict(allocation="output", sensitivity=0), "set sensitivity"),
    (dict(sensitivity=-1), "sensitivity must be"),
    (dict(sensitivity=8, sensitivity_clip=0.5), "sensitivity_clip"),
])
def test_sensitivity_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ObsOptions(**kwargs)


def test_clip_to_mean():
    from curvlab.prune.driver import _clip_to_mean

    c = torch.tensor([0.0, 1.0, 2.0, 9.0], dtype=torch.float64)             # mean 3
    torch.testing.assert_close(_clip_to_mean(c, 2.0), torch.tensor([1.5, 1.5, 2.0, 6.0], dtype=torch.float64))
    assert torch.equal(_clip_to_mean(c, float("inf")), c)
    assert torch.equal(_clip_to_mean(torch.zeros(3, dtype=torch.float64), 3.0), torch.ones(3, dtype=torch.float64))


def test_a_model_without_a_tensor_output_gets_a_clear_error_and_is_restored():
    class Labels(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return {"label": str(self.lin(x).argmax())}

    model = Labels()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(TypeError, match="sensitivity=0"):
        prune_model(model, [torch.randn(8, 4)], 0.5, None, "obs", progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = prune_model(model, [torch.randn(8, 4)], 0.5, None, "obs", options=ObsOptions(sensitivity=0),
                         progress=False)
    assert report.overall_sparsity == pytest.approx(0.5)


def test_damping_defaults_per_method_and_bad_damping(tiny):
    from curvlab.prune.driver import DEFAULT_DAMPING

    model0, batches = tiny
    for method in ("obs", "sparsegpt"):
        report = prune_model(copy.deepcopy(model0), batches, 0.5, None, method, progress=False)
        assert report.options["damping"] == DEFAULT_DAMPING[method]
    assert DEFAULT_DAMPING["sparsegpt"] == 0.01                                # the paper's percdamp
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="damping"):
            prune_model(copy.deepcopy(model0), batches, 0.5, None, "obs", damping=bad, progress=False)


def test_layers_reading_one_input_share_one_factor():
    from curvlab.prune import layerwise as lw
    from curvlab.prune.driver import _shared_factors
    A = torch.randn(50, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    H = 2 * A.T @ A / 50
    Hs = {"q": H, "k": H.clone(), "o": H + torch.eye(8, dtype=torch.float64)}
    U = _shared_factors(Hs, 0.01, torch.float64)
    assert U["q"] is U["k"] and U["o"] is not U["q"]
    for name, H_n in Hs.items():
        torch.testing.assert_close(U[name], lw.inverse_cholesky_upper(lw.damp(H_n, 0.01)[0]))
