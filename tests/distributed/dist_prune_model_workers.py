"""prune_model on every rank with its own calibration batches (test_prune_model_dist.py).

The model is a small residual MLP whose blocks form an ``nn.ModuleList`` (what
``find_blocks`` looks for), so the test needs no transformers import."""

from __future__ import annotations

import torch
from torch import nn

from curvlab import distributed as cd

WIDTH = 16


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Linear(WIDTH, 2 * WIDTH), nn.Linear(2 * WIDTH, WIDTH)

    def forward(self, x):
        return x + self.down(torch.tanh(self.up(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def _batches():
    g = torch.Generator().manual_seed(1)
    return [torch.randn(24, WIDTH, generator=g) for _ in range(3)]


class FailsWithGrad(Net):
    """Net whose forward fails on rank 0 when gradients are on: in the output-sensitivity pass
    (rank 0's sequences only), not in the calibration passes (no_grad)."""

    def forward(self, x):
        if torch.is_grad_enabled() and cd.rank() == 0:
            raise ValueError("the model failed on rank 0's sensitivity pass (injected)")
        return super().forward(x)


def _model(cls=Net) -> Net:
    torch.manual_seed(0)
    return cls().eval()


def _run(batches, **kw) -> dict:
    from curvlab.prune.driver import prune_model

    model = _model()
    prune_model(model, batches, **{"sparsity": 0.5, "method": "obs", "progress": False, **kw})
    return {n: m.weight.detach().numpy() for n, m in model.named_modules() if hasattr(m, "weight_mask")}


# unstructured 50 % (OBS split of the budget, output-sensitivity weights); 2:4 (the block target:
# cross terms G of the later layers, and their H re-collected after the layers before are pruned)
SETTINGS = {"unstructured": {}, "2:4": {"sparsity": None, "pattern": "2:4"}}


def reference() -> dict:
    return {k: _run(_batches(), **kw) for k, kw in SETTINGS.items()}


def _shard(b: list) -> list:
    return b[:2] if cd.rank() == 0 else b[2:]      # rank 0: batches 0 and 1; rank 1: batch 2


def _failure(batches, model_cls=Net, **kw) -> tuple:
    """(exception type, message, model intact) of a prune_model call that must fail."""
    from curvlab.prune.driver import prune_model

    model = _model(model_cls)
    before = [(p, p.detach().clone()) for p in model.parameters()]
    try:
        prune_model(model, batches, **{"sparsity": 0.5, "progress": False, **kw})
    except Exception as exc:  # the scenario's result
        intact = (all(p is q and torch.equal(p, v) for (p, v), q in zip(before, model.parameters()))
                  and not any(hasattr(m, "weight_mask") for m in model.modules()))
        return type(exc).__name__, str(exc), intact
    return None, "", True


def ranks() -> dict:
    out = {k: _run(_shard(_batches()), **kw) for k, kw in SETTINGS.items()}
    b = _shard(_batches())
    if cd.rank() == 1:
        b = [torch.randn(24, WIDTH + 1)]                 # rank 1's calibration does not fit the model
    out["bad_batch"] = _failure(b)
    out["disagree"] = _failure(_shard(_batches()), sparsity=0.5 if cd.rank() == 0 else 0.6)
    out["empty"] = _failure(_shard(_batches()) if cd.rank() == 0 else [])
    out["mid_pass"] = _fails_mid_pass()
    out["sensitivity_pass"] = _failure(_shard(_batches()), model_cls=FailsWithGrad)
    return out


def _fails_mid_pass() -> tuple:
    """Rank 1 fails inside the first block's calibration pass (after every check, as non-finite
    activations from its data would), while rank 0 goes on to the reduction of the statistics."""
    from curvlab.curvature.layer_hessian import LayerHessian

    add_batch = LayerHessian.add_batch

    def failing(self, x, token_mask=None):
        raise ValueError("calibration activations contain NaN or infinity (injected on rank 1)")
    if cd.rank() == 1:
        LayerHessian.add_batch = failing
    try:
        return _failure(_shard(_batches()))
    finally:
        LayerHessian.add_batch = add_batch
