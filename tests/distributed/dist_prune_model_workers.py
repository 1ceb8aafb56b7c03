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


def _run(batches) -> dict:
    from curvlab.prune.driver import prune_model

    torch.manual_seed(0)
    model = Net().eval()
    prune_model(model, batches, sparsity=0.5, method="obs", progress=False)
    return {n: m.weight.detach().numpy() for n, m in model.named_modules() if hasattr(m, "weight_mask")}


def reference() -> dict:
    return _run(_batches())


def ranks() -> dict:
    b = _batches()
    return _run(b[:2] if cd.rank() == 0 else b[2:])      # rank 0: batches 0 and 1; rank 1: batch 2
