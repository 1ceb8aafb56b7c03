"""The exact Hessian H = ∇²L(θ) as a dense P×P matrix, for small models.

Row j of H is e_jᵀH = (∇ ∂L/∂θ_j)ᵀ; the rows are vector-Jacobian products of the gradient
(reverse-over-reverse, ``torch.func.jacrev`` of ``torch.func.grad``) batched with ``vmap``
over the identity, in chunks so memory stays at ``chunk_size`` vectors at a time. Cost: P products' worth of work in
P / chunk_size vectorized passes over the data. H is symmetrized, (H + Hᵀ)/2, to remove
round-off asymmetry.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.func import grad, jacrev

from .._validation import check_positive_int
from .. import distributed as cd
from .data import Batches, Data
from .objective import LossFn, Objective
from .params import unflatten

__all__ = ["dense_hessian"]

MAX_DENSE_PARAMS = 20_000  # a 20k × 20k float64 matrix is 3.2 GB


def dense_hessian(model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                  params: Iterable[Tensor] | None = None, chunk_size: int = 128) -> Tensor:
    """H = ∇²L(θ), shape (P, P), symmetric, in the parameters' dtype.

    Parameters as for :class:`~curvlab.curvature.hvp.HessianOperator`; ``chunk_size`` is the
    number of columns computed in one vectorized pass.

    Example
    -------
    >>> import torch
    >>> model = torch.nn.Linear(2, 1).double()
    >>> X = torch.randn(10, 2, dtype=torch.float64); y = torch.randn(10, 1, dtype=torch.float64)
    >>> H = dense_hessian(model, torch.nn.MSELoss(), (X, y))   # (3, 3) = 2/N [X 1]ᵀ[X 1]
    """
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    obj = Objective(model, loss_fn, data, params=params)
    P = obj.dim
    if P > MAX_DENSE_PARAMS:
        raise ValueError(
            f"the model has P = {P} parameters; a dense P×P Hessian is too large (limit "
            f"{MAX_DENSE_PARAMS}). Use HessianOperator with lanczos / hutchinson instead, or pass params=[...]."
        )
    theta = obj.theta()
    like = obj.params

    def local() -> Tensor:
        H = torch.zeros(P, P, dtype=obj.dtype, device=obj.device)
        with torch.no_grad():
            for X, y, w in obj.batches:
                def loss_of_theta(th: Tensor) -> Tensor:
                    return obj.batch_loss(dict(zip(obj.names, unflatten(th, like))), X, y)

                # reverse-over-reverse: vmap of vjps of ∇ℓ_b over the identity, chunk_size rows at a time
                H += w * jacrev(grad(loss_of_theta), chunk_size=chunk_size)(theta)  # (P, P)
        return H

    if obj.distributed:  # each rank's weighted part, summed: H of the global loss (P² numbers sent)
        H = cd.sum_or_raise(local, like=torch.zeros(P, P, dtype=obj.dtype, device=obj.device),
                            what="dense_hessian")
    else:
        H = local()
    return (H + H.T) / 2
