"""The parameters a curvature quantity is taken with respect to, as one flat vector.

Every Hessian in curvlab is a P×P matrix over a *flat* parameter vector θ ∈ ℝᴾ, the
concatenation of the chosen parameter tensors in order (row-major within each). These
helpers pick the parameters (all trainable ones by default) and move between the flat
vector and the list of tensors.

Example
-------
>>> import torch
>>> model = torch.nn.Linear(3, 2)
>>> names, params = resolve_params(model)
>>> names
['weight', 'bias']
>>> theta = flatten(params)            # (8,)
>>> [t.shape for t in unflatten(theta, params)]
[torch.Size([2, 3]), torch.Size([2])]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["flatten", "num_params", "resolve_params", "unflatten"]


def resolve_params(model: nn.Module, params: Iterable[Tensor] | None = None
                   ) -> tuple[list[str], list[Tensor]]:
    """The names (as in ``model.named_parameters()``) and tensors of the chosen parameters.

    ``params`` defaults to every parameter with ``requires_grad``; when given, each must be
    a parameter of ``model`` (matched by identity), and the order given is kept.
    Raises ``ValueError`` when the selection is empty, so that a frozen model fails early.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    named = list(model.named_parameters())
    if params is None:
        chosen = [(n, p) for n, p in named if p.requires_grad]
        if not chosen:
            raise ValueError(
                "model has no trainable parameters (none with requires_grad=True); unfreeze "
                "some, or pass params=[...] explicitly."
            )
        return [n for n, _ in chosen], [p for _, p in chosen]
    by_id = {id(p): n for n, p in named}
    names, tensors = [], []
    for i, p in enumerate(params):
        if id(p) not in by_id:
            raise ValueError(
                f"params[{i}] (shape {tuple(getattr(p, 'shape', ()))}) is not a parameter of "
                "model; pass tensors taken from model.parameters()."
            )
        if id(p) in {id(t) for t in tensors}:
            raise ValueError(f"params[{i}] appears twice; list each parameter once.")
        names.append(by_id[id(p)])
        tensors.append(p)
    if not tensors:
        raise ValueError("params is empty; pass at least one parameter of model (or None for all).")
    return names, tensors


def _check_tensors(tensors: Sequence[Tensor]) -> list[Tensor]:
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor; got {type(t).__name__}.")
    return tensors


def num_params(tensors: Sequence[Tensor]) -> int:
    """P = Σ numel, the length of the flat vector."""
    return sum(t.numel() for t in _check_tensors(tensors))


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate ``tensors`` into one vector θ of length P (each flattened row-major)."""
    tensors = _check_tensors(tensors)
    if not tensors:
        raise ValueError("tensors is empty; pass at least one tensor (e.g. list(model.parameters())).")
    return torch.cat([t.reshape(-1) for t in tensors])  # (P,)


def unflatten(vec: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split the flat vector ``vec`` (P,) into views shaped like ``like`` (the inverse of :func:`flatten`)."""
    P = num_params(like)
    if vec.ndim != 1 or vec.shape[0] != P:
        raise ValueError(f"vec must be a vector of length {P}; got shape {tuple(vec.shape)}.")
    out, start = [], 0
    for t in like:
        out.append(vec[start:start + t.numel()].view(t.shape))  # (numel,) -> t.shape
        start += t.numel()
    return out
