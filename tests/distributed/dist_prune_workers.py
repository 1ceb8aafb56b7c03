"""Pruning calibration on every rank (tests/distributed/test_prune_dist.py): prune_global on each
rank's calibration shard, and the accumulators the whole-model driver uses (layer Hessians with
their counts and means, output sensitivities); :func:`reference` is one process on all the data."""

from __future__ import annotations

import torch
from torch import nn

from curvlab import distributed as cd
from curvlab.curvature.layer_hessian import HessianCollector
from curvlab.curvature.output_sensitivity import output_sensitivities
from curvlab.prune.global_obs import prune_global

N, D, C = 37, 6, 3
CURVATURES = ("gauss_newton", "fisher", "obd", "abs_hessian")


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, C))


def data(r: int | None):
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(N, D, generator=g), torch.randint(0, C, (N,), generator=g)
    if r is None:
        return X, y
    return (X[:20], y[:20]) if r == 0 else (X[20:], y[20:])     # unequal shards: 20 and 17


def _weights(net: nn.Module) -> dict:
    out = {}
    for name in ("0", "2"):
        mod = net.get_submodule(name)
        out[f"{name}.weight"] = mod.weight.detach().double().numpy()
        out[f"{name}.bias"] = mod.bias.detach().double().numpy()
    return out


def _run(r: int | None) -> dict:
    out = {}
    for curvature in CURVATURES:
        net = model()
        report = prune_global(net, 0.5, data(r), curvature=curvature, rounds=2, damping=0.05)
        out[curvature] = _weights(net)
        out[curvature + ":loss_after"] = report.rounds[-1].loss_after
    # layer Hessians: rank 0 sees its rows as three forward calls, rank 1 as one
    net = model()
    X, _ = data(r)
    chunks = [X[:7], X[7:12], X[12:]] if r == 0 else [X]
    with HessianCollector({"0": net[0], "2": net[2]}) as hc, torch.no_grad():
        for x in chunks:
            net(x)
    hc.reduce_()
    for name in ("0", "2"):
        out[f"H{name}"], out[f"mean{name}"], out[f"n{name}"] = (hc[name].H.numpy(), hc[name].mean.numpy(),
                                                                hc[name].n_samples)
    calls = [((x,), {}) for x in chunks]
    c = output_sensitivities(net, {"0": net[0], "2": net[2]}, calls, probes=3, seed=4)
    out["sens0"], out["sens2"] = c["0"].numpy(), c["2"].numpy()
    return out


def reference() -> dict:
    out = _run(None)
    # one process sees all calls in global order: rank 0's three chunks, then rank 1's one
    X, _ = data(None)
    net = model()
    calls = [((x,), {}) for x in (X[:7], X[7:12], X[12:20], X[20:])]
    c = output_sensitivities(net, {"0": net[0], "2": net[2]}, calls, probes=3, seed=4)
    out["sens0"], out["sens2"] = c["0"].numpy(), c["2"].numpy()
    return out


def ranks() -> dict:
    return _run(cd.rank())


def failures() -> dict:
    def outcome(fn):
        try:
            fn()
            return ("ok",)
        except Exception as exc:
            return (type(exc).__name__, str(exc))

    X, y = data(cd.rank())
    empty = (X, y) if cd.rank() == 0 else (X[:0], y[:0])
    return {
        "empty_shard": outcome(lambda: prune_global(model(), 0.5, empty, curvature="gauss_newton")),
        "sparsity_differs": outcome(lambda: prune_global(model(), 0.5 + 0.1 * cd.rank(), (X, y),
                                                         curvature="gauss_newton")),
        "model_differs": outcome(lambda: prune_global(
            nn.Sequential(nn.Linear(D, 8 + cd.rank()), nn.Tanh(), nn.Linear(8 + cd.rank(), C)), 0.5, (X, y))),
        "no_calls_anywhere": outcome(lambda: output_sensitivities(model(), {"0": model()[0]}, [])),
        "bad_probes_one_rank": outcome(lambda: output_sensitivities(
            model(), {"0": model()[0]}, [((X,), {})], probes=1 - cd.rank())),
    }


def rank0_calls_only() -> dict:
    """Only rank 0 holds calls (the driver's "first rows" sensitivity sample): equal to one process."""
    net = model()
    X, _ = data(0)
    c = output_sensitivities(net, {"0": net[0], "2": net[2]}, [((X,), {})] if cd.rank() == 0 else [],
                             probes=2, seed=1)
    return {n: v.numpy() for n, v in c.items()}


def rank0_calls_reference() -> dict:
    net = model()
    X, _ = data(0)
    return {n: v.numpy() for n, v in output_sensitivities(net, {"0": net[0], "2": net[2]}, [((X,), {})],
                                                         probes=2, seed=1).items()}
