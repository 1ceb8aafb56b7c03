"""How much each output channel of each layer matters to the model's output.

Layer-wise pruning minimizes every layer's own error ‖WX − ŴX‖², all channels and all layers
alike. What a user sees is the error of the model's output f. To first order a change δy of the
outputs of layer l moves f by J_l δy (J_l = ∂f/∂y_l), and for errors that are uncorrelated
across channels and tokens

    E‖δf‖² ≈ Σ_l Σ_t Σ_r [J_lᵀ J_l]_(t,r),(t,r) δy_{l,t,r}²  ≈  Σ_l Σ_r c_{l,r} ‖δy_{l,r}‖²,

with c_{l,r} the diagonal of the Gauss–Newton matrix J_lᵀJ_l at output channel r, averaged over
tokens. Since ‖δy_{l,r}‖² = N δw_rᵀ (H/2) δw_r for row r of a linear layer (H = 2XXᵀ/N), the
OBS loss of every weight of row r, eq. (8), is simply weighted by c_{l,r}: layer-wise OBS then
estimates the *output* error, comparable across layers.

c is estimated with Hutchinson's identity E_v[(J_lᵀ v)(J_lᵀ v)ᵀ] = J_lᵀ J_l for v ~ N(0, I):
one backward pass of ⟨v, f(x)⟩ gives g_l = J_lᵀ v at every layer at once, and
c_{l,r} ≈ mean over probes and tokens of g_{l,t,r}². A few sequences suffice — only the
ratios between channels and layers are used.

Data-parallel: under a process group each rank passes its own calibration calls (some ranks
may pass none, e.g. when only rank 0 holds the first rows; not all); the sums of g² and the
token counts are added over the ranks (one all_reduce), and the probes of call i are drawn
from a generator seeded by (``seed``, i) with i the call's index in the global order (rank
0's calls first), so the result equals one process on all the calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .. import distributed as cd
from .objective import explain_model_errors
from .layer_hessian import weight_matrix

__all__ = ["model_output", "output_sensitivities"]


def model_output(out: Any) -> Tensor:
    """The tensor f of a model's output: the tensor itself, ``last_hidden_state`` / ``logits``
    of a Hugging Face output, or the first tensor of a tuple or mapping."""
    if isinstance(out, Tensor):
        return out
    for key in ("last_hidden_state", "logits"):
        value = getattr(out, key, None)
        if isinstance(value, Tensor):
            return value
    values = out.values() if isinstance(out, Mapping) else out if isinstance(out, (tuple, list)) else ()
    for value in values:
        if isinstance(value, Tensor):
            return value
    raise TypeError(f"cannot find the output tensor in a {type(out).__name__}; the model must return a tensor, "
                    "a tuple/dict of tensors, or a Hugging Face output with last_hidden_state or logits.")


def _channel_dim(module: nn.Module, y: Tensor) -> int:
    """The output-channel dimension of a layer's output: 1 for Conv2d, the last otherwise."""
    return 1 if isinstance(module, nn.Conv2d) and y.dim() == 4 else y.dim() - 1


def _rows(module: nn.Module) -> int:
    """R, the number of output channels (rows of the weight matrix)."""
    return weight_matrix(module).shape[0]


def output_sensitivities(model: nn.Module, layers: Mapping[str, nn.Module], calls: Sequence[tuple[tuple, dict]],
                         probes: int = 1, seed: int = 0) -> dict[str, Tensor]:
    """c_{l,r} for every layer of ``layers`` (name → module), (R,) float64 each, from the model
    called on ``calls`` (``(args, kwargs)`` pairs; a kwarg ``attention_mask`` excludes padding
    from f). ``probes`` Gaussian vectors per call; ``seed`` fixes them (call i draws from its own
    generator, seeded by (seed, i)). Only the layer outputs
    are differentiated: no parameter gets a ``.grad``, and the model's state is unchanged.

    Example — for f = A y with y = W x, c = diag(AᵀA):

    >>> import torch
    >>> lin, head = torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 4, bias=False)
    >>> c = output_sensitivities(torch.nn.Sequential(lin, head), {"0": lin}, [((torch.randn(500, 3),), {})],
    ...                          probes=40)
    >>> torch.allclose(c["0"], (head.weight.T @ head.weight).diagonal().double(), rtol=0.1)
    True
    """
    first_call = 0
    if cd.world_size() > 1:  # every rank's call count (its global offset); same layers and options
        error = None
        try:
            _check_probes(probes)
            shape = [(n, _rows(m)) for n, m in layers.items()]
        except Exception as exc:
            error = exc
        every = cd.exchange(len(calls), error=error, what="output_sensitivities")
        cd.agree("output_sensitivities", layers=shape, probes=probes, seed=seed)
        if sum(every) == 0:
            raise ValueError("calls is empty on every rank; pass at least one calibration batch (on some rank) "
                             "to estimate sensitivities.")
        first_call = sum(every[:cd.rank()])
    else:
        if not calls:
            raise ValueError("calls is empty; pass at least one calibration batch to estimate sensitivities.")
        _check_probes(probes)
    names = list(layers)
    sums = {n: torch.zeros(_rows(layers[n]), dtype=torch.float64) for n in names}
    counts = dict.fromkeys(names, 0)
    outputs: list[tuple[str, Tensor]] = []

    def hook_for(name: str):
        def hook(module, args, y):
            if isinstance(y, Tensor) and y.requires_grad:
                outputs.append((name, y))
        return hook

    frozen = [p for p in model.parameters() if not p.requires_grad and p.is_floating_point()]
    handles = [m.register_forward_hook(hook_for(n)) for n, m in layers.items()]
    was_training = model.training
    error = None                          # under a group: a failed pass is reported in the reduction below
    try:
        for p in frozen:                  # every layer output must be part of the graph
            p.requires_grad_(True)
        model.eval()
        with torch.enable_grad():
            for i, (args, kwargs) in enumerate(calls):
                generator = torch.Generator().manual_seed(_call_seed(seed, first_call + i))
                for _ in range(probes):
                    outputs.clear()
                    shapes = [tuple(a.shape) for a in args if isinstance(a, Tensor)]
                    with explain_model_errors("the model", f"calls[{i}] (tensor arguments of shapes {shapes})"):
                        f = model_output(model(*args, **kwargs))
                    if not outputs:
                        continue
                    v = torch.randn(f.shape, generator=generator, dtype=f.dtype).to(f.device)
                    mask = kwargs.get("attention_mask")
                    if mask is not None and f.dim() >= 2 and tuple(mask.shape) == tuple(f.shape[:2]):
                        v = v * mask.to(v).reshape(*mask.shape, *([1] * (f.dim() - 2)))
                    grads = torch.autograd.grad((f * v).sum(), [y for _, y in outputs], allow_unused=True)
                    for (name, y), g in zip(outputs, grads):
                        dim = _channel_dim(layers[name], y)
                        if g is not None:
                            sums[name] += g.detach().to(torch.float64).square().sum(
                                [i for i in range(g.dim()) if i != dim]).cpu()
                        tokens = y.numel() // y.shape[dim]
                        if mask is not None and y.dim() == 3 and tuple(mask.shape) == tuple(y.shape[:2]):
                            tokens = int(mask.sum())
                        counts[name] += tokens
    except Exception as exc:
        if cd.world_size() == 1:
            raise
        error = exc
    finally:
        outputs.clear()
        for h in handles:
            h.remove()
        for p in frozen:
            p.requires_grad_(False)
        model.train(was_training)
    if cd.world_size() > 1:  # Σ over ranks of the sums and the counts, in one buffer
        sizes = [sums[n].numel() for n in names]
        flat = torch.cat([sums[n] for n in names] + [torch.tensor([float(counts[n]) for n in names],
                                                                 dtype=torch.float64)])

        def local() -> Tensor:
            if error is not None:         # every rank raises, this one its own error (sum_or_raise)
                raise error
            return flat
        flat = cd.sum_or_raise(local, like=flat, what="output_sensitivities")
        parts = torch.split(flat, sizes + [len(names)])
        sums = dict(zip(names, parts[:-1]))
        counts = {n: int(c) for n, c in zip(names, parts[-1].tolist())}
    return {n: sums[n] / max(counts[n], 1) for n in names}


def _check_probes(probes) -> None:
    if not (isinstance(probes, int) and probes >= 1):
        raise ValueError(f"probes must be an integer >= 1; got {probes!r}.")


def _call_seed(seed: int, i: int) -> int:
    """The seed of call i's probes: independent streams for (seed, i) (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(seed), int(i)]).generate_state(1, dtype=np.uint64)[0] >> 1)

