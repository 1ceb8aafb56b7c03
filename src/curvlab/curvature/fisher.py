"""Per-sample gradients and the empirical Fisher F = (1/N) Σ_n g_n g_nᵀ.

g_n = ∇_θ loss_fn(f(x_n; θ), y_n) is the gradient of the loss on the batch of one sample
n, computed for all samples at once with ``torch.func.vmap`` over ``torch.func.grad``.
The empirical Fisher is the approximation of H used by the OBS pruning work (§1): for
the per-sample losses ℓ_n, H = (1/N) Σ ∇²ℓ_n, and near a minimum of a likelihood loss
(1/N) Σ g_n g_nᵀ approximates it (Hassibi & Stork 1993 use this outer-product form).
Note it is *not* H in general: the two differ away from a minimum and for losses that are
not negative log-likelihoods.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.func import grad, vmap

from .._validation import check_positive_int
from .. import distributed as cd
from .data import Batches, Data
from .objective import LossFn, Objective
from .params import flatten

__all__ = ["empirical_fisher", "per_sample_grads"]


def per_sample_grads(model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                     params: Iterable[Tensor] | None = None, chunk_size: int | None = None) -> Tensor:
    """G with row n = g_n = ∇_θ loss_fn(f(x_n; θ), y_n), shape (N, P), in data order.

    Under a process group: the rows of this rank's shard only, (N_rank, P) (gather them with
    :func:`curvlab.distributed.all_gather_cat` if every rank needs all of them).

    The per-sample loss is ``loss_fn`` applied to a batch of one, so ``model`` must accept
    a batch of size 1 (a model whose forward mixes samples, e.g. BatchNorm in train mode,
    has no per-sample gradient). ``chunk_size`` bounds how many samples ``vmap`` handles at once.

    Example
    -------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1).double()
    >>> X = torch.randn(5, 3, dtype=torch.float64); y = torch.randn(5, 1, dtype=torch.float64)
    >>> per_sample_grads(model, torch.nn.MSELoss(), (X, y)).shape
    torch.Size([5, 4])
    """
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    obj = Objective(model, loss_fn, data, params=params)
    primals = obj.primals()

    def sample_grad(x: Tensor, t: Tensor) -> Tensor:
        g = grad(obj.batch_loss)(primals, x.unsqueeze(0), t.unsqueeze(0))  # batch of one
        return flatten([g[n] for n in obj.names])  # (P,)

    rows = []
    with torch.no_grad():
        for X, y, _ in obj.batches:
            rows.append(vmap(sample_grad, chunk_size=chunk_size)(X, y))  # (n_b, P)
    return torch.cat(rows)  # (N, P)


def empirical_fisher(model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                     params: Iterable[Tensor] | None = None, chunk_size: int | None = None) -> Tensor:
    """F = (1/N) Σ_n g_n g_nᵀ = GᵀG / N, shape (P, P), with G from :func:`per_sample_grads`.

    Under a process group: (Σ_ranks G_rᵀG_r) / (Σ_ranks N_r), one all_reduce of P² numbers.
    """
    G = per_sample_grads(model, loss_fn, data, params=params, chunk_size=chunk_size)  # (N, P)
    if cd.world_size() > 1 and not (isinstance(data, Batches) and not data.distributed):
        GtG = cd.sum_or_raise(lambda: G.T @ G, like=G.new_zeros(G.shape[1], G.shape[1]), what="empirical_fisher")
        return GtG / cd.global_count(G.shape[0], device=G.device)
    return G.T @ G / G.shape[0]
