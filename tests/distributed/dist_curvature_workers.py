"""Scenarios run on every rank by tests/distributed/test_curvature_dist.py and test_errors_dist.py.

Every rank builds the same model and the same full data set from fixed seeds, keeps its own
(unequal) shard, and computes the curvature quantities; :func:`reference` computes them in one
process (no group) on the concatenated data.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from curvlab import distributed as cd
from curvlab.curvature import (HessianOperator, SharpnessTracker, dense_hessian, empirical_fisher, hutchinson,
                               hutchpp, lanczos, max_stable_lr, slq_density)
from curvlab.curvature.objective import Objective

N, D, C = 41, 5, 3
SPLIT = 24          # rank 0: rows 0..23 as two batches, rank 1: rows 24..40 as one batch (unequal shards)


def model(hidden: int = 6) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, hidden), nn.Tanh(), nn.Linear(hidden, C)).double()


def full_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(N, D, generator=g, dtype=torch.float64), torch.randint(0, C, (N,), generator=g)


def shard(r: int | None):
    X, y = full_data()
    if r is None:
        return [(X, y)]
    if r == 0:
        return [(X[:10], y[:10]), (X[10:SPLIT], y[10:SPLIT])]
    return [(X[SPLIT:], y[SPLIT:])]


def quantities(data) -> dict:
    """Every curvature number of the issue, on ``data`` (a rank's shard, or all of it)."""
    net, loss = model(), nn.CrossEntropyLoss()
    out = {}
    H = HessianOperator(net, loss, data)
    res = lanczos(H, k=2, tol=1e-12, max_matvecs=60)
    out["lam_top2"] = res.eigenvalues.numpy()
    out["stable_lr"] = max_stable_lr(net, loss, data, tol=1e-12).lam_max
    out["hutchinson"] = hutchinson(H, num_matvecs=20, seed=3).samples.numpy()
    out["hutchpp"] = hutchpp(H, num_matvecs=30, seed=4).trace
    dens = slq_density(H, num_steps=12, num_vectors=3, seed=5)
    out["slq_nodes"], out["slq_weights"] = dens.nodes, dens.weights
    G = HessianOperator(net, loss, data, gauss_newton=True)
    out["gn_lam"] = lanczos(G, k=1, tol=1e-12, max_matvecs=60).lam_max
    out["dense_hessian"] = dense_hessian(net, loss, data).numpy()
    X = torch.cat([b[0] for b in data]); y = torch.cat([b[1] for b in data])
    out["fisher"] = empirical_fisher(net, loss, (X, y)).numpy()
    obj = Objective(net, loss, data)
    value, grad = obj.loss_and_gradient()
    out["loss"], out["grad"] = value, grad.numpy()
    # sharpness along a few full-batch GD steps (the gradient is the global one as well)
    tracker = SharpnessTracker(loss, data, every=2, tol=1e-10)
    for t in range(5):
        tracker(net, t)
        g = obj.gradient()
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.nn.utils.parameters_to_vector(net.parameters()) - 0.5 * g,
                                                net.parameters())
    out["sharpness"] = np.array(tracker.sharpness)
    return out


def reference() -> dict:
    return quantities(shard(None))


def ranks() -> dict:
    return quantities(shard(cd.rank()))


# ---------------------------------------------------------------------------------- failures

class _FailsOnRank1(nn.Module):
    """The test model, whose forward raises on rank 1 from its ``after``-th call on."""

    def __init__(self, after: int):
        super().__init__()
        self.net, self.calls, self.after = model(), 0, after

    def forward(self, x):
        self.calls += 1
        if cd.rank() == 1 and self.calls > self.after:
            raise RuntimeError("boom on rank 1")
        return self.net(x)


def _outcome(fn) -> tuple:
    try:
        fn()
        return ("ok",)
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def failures() -> dict:
    """Each bad case's outcome on this rank; the group must still work after each of them."""
    loss = nn.CrossEntropyLoss()
    data = shard(cd.rank())
    out = {}
    # a rank whose product fails mid-Lanczos (not cached: every product runs forward passes)
    out["product_fails"] = _outcome(lambda: lanczos(HessianOperator(_FailsOnRank1(after=6), loss, data,
                                                                    cache=False), k=1, max_matvecs=20))
    # ranks disagreeing on the model (a hidden layer of 6 vs 7 units)
    out["model_differs"] = _outcome(lambda: HessianOperator(model(6 + cd.rank()), loss, data))
    # ranks disagreeing on the options
    H = HessianOperator(model(), loss, data)
    out["tol_differs"] = _outcome(lambda: lanczos(H, tol=1e-6 if cd.rank() == 0 else 1e-3))
    out["seed_differs"] = _outcome(lambda: hutchinson(H, num_matvecs=4, seed=cd.rank()))
    # an empty shard on rank 1
    empty = data if cd.rank() == 0 else [(torch.zeros(0, D, dtype=torch.float64), torch.zeros(0, dtype=torch.long))]
    out["empty_shard"] = _outcome(lambda: HessianOperator(model(), loss, empty))
    # bad input on one rank only (a loss that is not a scalar)
    bad = loss if cd.rank() == 0 else nn.CrossEntropyLoss(reduction="none")
    out["bad_loss_one_rank"] = _outcome(lambda: HessianOperator(model(), bad, data))
    # bad option on one rank only, before any collective of the call
    out["bad_k_one_rank"] = _outcome(lambda: lanczos(H, k=1 if cd.rank() == 0 else 0))
    # after all that the group still works: the same λ_max as without failures
    out["after"] = lanczos(H, k=1, tol=1e-10, max_matvecs=60).lam_max
    return out


def rank_leaves() -> tuple:
    """Run last: rank 1 fails outside any guarded collective, posts its message and leaves the
    group (as the command line does); rank 0, waiting in a product, must end with that message."""
    H = HessianOperator(model(), nn.CrossEntropyLoss(), shard(cd.rank()))
    if cd.rank() == 1:
        try:
            raise RuntimeError("left on rank 1")
        except RuntimeError as exc:
            cd.post_failure(exc)
            return _outcome(lambda: (_ for _ in ()).throw(exc))
    return _outcome(lambda: H.matvec(torch.ones(H.dim, dtype=torch.float64)))
