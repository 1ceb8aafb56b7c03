"""Output sensitivities c_{l,r} = mean_t [J_lᵀ J_l]_rr against the Jacobian from autograd (float64)."""

import pytest
import torch
from torch import nn

from curvlab.curvature.output_sensitivity import model_output, output_sensitivities


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def _exact(model, X):
    """mean over samples of diag(JᵀJ), J = ∂f/∂y₀ (3 × 6) for the first layer's output y₀."""
    W2 = model[2].weight                                                        # (3, 6)
    y0 = model[0](X)                                                            # (N, 6)
    J = W2.unsqueeze(0) * (1 - torch.tanh(y0) ** 2).unsqueeze(1)                # (N, 3, 6)
    return J.square().sum(1).mean(0).detach()


def test_hutchinson_estimate_matches_the_jacobian():
    model = _mlp()
    X = torch.randn(60, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    c = output_sensitivities(model, {"first": model[0], "last": model[2]}, [((X,), {})], probes=300)
    assert c["first"].shape == (6,) and c["first"].dtype == torch.float64
    # relative standard error of the mean of 60·300 squared Gaussians: √(2/18000) ≈ 1 %
    torch.testing.assert_close(c["first"], _exact(model, X), rtol=0.06, atol=0)
    torch.testing.assert_close(c["last"], torch.ones(3, dtype=torch.float64), rtol=0.06, atol=0)   # f = y


def test_no_gradients_and_flags_restored_even_when_frozen():
    model = _mlp()
    model[2].weight.requires_grad_(False)
    model.train()
    X = torch.randn(10, 4, dtype=torch.float64)
    output_sensitivities(model, {"first": model[0]}, [((X,), {})])
    assert all(p.grad is None for p in model.parameters())
    assert not model[2].weight.requires_grad and model[0].weight.requires_grad
    assert model.training
    for p in model.parameters():                                               # a fully frozen model works too
        p.requires_grad_(False)
    c = output_sensitivities(model, {"first": model[0]}, [((X,), {})], probes=200)
    assert torch.all(c["first"] > 0) and not any(p.requires_grad for p in model.parameters())


def test_padding_tokens_do_not_count():
    """A per-token model: f_t = W y_t. With the second sequence's last tokens masked, c must be
    the mean over real tokens only (c = diag(WᵀW) for every token)."""
    torch.manual_seed(0)
    lin, head = nn.Linear(3, 5, bias=False), nn.Linear(5, 2, bias=False)

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.head = lin, head

        def forward(self, x, attention_mask=None):
            return {"last_hidden_state": self.head(self.lin(x))}

    x = torch.randn(2, 50, 3)
    mask = torch.ones(2, 50, dtype=torch.long)
    mask[1, 10:] = 0
    c = output_sensitivities(Tokens(), {"lin": lin}, [((x,), {"attention_mask": mask})], probes=100)
    ref = (head.weight.T @ head.weight).diagonal().double()
    torch.testing.assert_close(c["lin"], ref, rtol=0.1, atol=0)      # counting padding would give 60 % of it


def test_model_output_and_bad_input():
    t = torch.zeros(2)
    assert model_output(t) is t and model_output((1, t)) is t and model_output({"a": t}) is t
    with pytest.raises(TypeError, match="output tensor"):
        model_output("text")
    with pytest.raises(ValueError, match="calls is empty"):
        output_sensitivities(_mlp(), {}, [])
    with pytest.raises(ValueError, match="probes"):
        output_sensitivities(_mlp(), {}, [((torch.zeros(1, 4),), {})], probes=0)
