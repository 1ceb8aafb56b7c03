"""Pruning state stored the way ``torch.nn.utils.prune`` stores it.

A pruned module keeps its dense parameter as ``<name>_orig``, a buffer ``<name>_mask``, and a
forward pre-hook that sets ``<name> = <name>_orig * <name>_mask``. OBS changes the kept
weights too (the compensation δw of eq. (7)); we write the compensated dense weights into
``<name>_orig``, so that ``torch.nn.utils.prune.remove`` makes the result permanent and any
``torch.nn.utils.prune`` method can prune the module further (masks combine).

Example
-------
>>> import torch
>>> lin = torch.nn.Linear(4, 2)
>>> mask = (lin.weight.abs() > 0.1).float()
>>> apply_mask(lin, mask)                  # doctest: +ELLIPSIS
Linear(...)
>>> hasattr(lin, "weight_orig") and hasattr(lin, "weight_mask")
True
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

__all__ = ["apply_mask", "copy_module", "current_weight", "restore_on_error"]


def copy_module(module: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also works on modules pruned by ``torch.nn.utils.prune``.

    After a forward pass with gradients on, a pruned module's ``weight`` attribute is
    ``weight_orig * weight_mask``, a non-leaf tensor, which ``deepcopy`` refuses. Such
    derived tensors are copied detached (the pre-hook recomputes them at the next forward).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}.")
    memo: dict[int, object] = {}
    for m in module.modules():
        for value in vars(m).values():
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()
    return copy.deepcopy(module, memo)


def current_weight(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """The effective dense weight (``orig * mask`` when already pruned), detached."""
    return _weight_of(module, name).detach()


def _weight_of(module: nn.Module, name: str) -> torch.Tensor:
    """``module.<name>`` as a tensor, or a ``ValueError`` / ``TypeError`` saying what is wrong."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}.")
    param = getattr(module, name, None)
    if not isinstance(param, torch.Tensor):
        raise ValueError(f"module {type(module).__name__} has no parameter {name!r} to prune; pass a "
                         "layer with weights (nn.Linear, nn.Conv2d, ...) or the right name=.")
    return param


@torch.no_grad()
def apply_mask(module: nn.Module, mask: torch.Tensor, new_weight: torch.Tensor | None = None,
               name: str = "weight") -> nn.Module:
    """Prune ``module.<name>`` in place with ``mask`` (1 = keep), optionally replacing its values.

    Parameters
    ----------
    mask : same shape as the parameter; 1 keeps a weight, 0 prunes it.
    new_weight : the compensated weights (e.g. after the OBS update (7)); written into
        ``<name>_orig``. Pruned positions are set to 0 there as well, so that ``remove``
        and ``orig * mask`` agree. When omitted the kept weights are left as they are.
    """
    param = _weight_of(module, name)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor shaped like {name} {tuple(param.shape)}; "
                        f"got {type(mask).__name__}.")
    if new_weight is not None and not isinstance(new_weight, torch.Tensor):
        raise TypeError(f"new_weight must be a torch.Tensor; got {type(new_weight).__name__}.")
    if mask.shape != param.shape:
        raise ValueError(f"mask must have the shape of {name} {tuple(param.shape)}; got {tuple(mask.shape)}.")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("mask must hold only 0 and 1 (or False / True): 1 keeps a weight, 0 prunes it.")
    mask = mask.to(device=param.device, dtype=param.dtype)
    if new_weight is not None:
        if new_weight.shape != param.shape:
            raise ValueError(f"new_weight must have the shape of {name} {tuple(param.shape)}; "
                             f"got {tuple(new_weight.shape)}.")
        if not torch.isfinite(new_weight).all():
            raise ValueError("new_weight contains NaN or infinity; the pruning update diverged "
                             "(increase damping).")
    if torch_prune.is_pruned(module) and hasattr(module, f"{name}_orig"):
        # Already pruned: combine with the existing mask, as PruningContainer does.
        old_mask = getattr(module, f"{name}_mask")
        orig = getattr(module, f"{name}_orig")
        if new_weight is not None:
            orig.copy_(new_weight.to(orig.dtype))
        combined = old_mask * mask
        orig.mul_(combined)
        setattr(module, f"{name}_mask", combined)
        setattr(module, name, orig * combined)
        return module
    torch_prune.custom_from_mask(module, name, mask)
    orig = getattr(module, f"{name}_orig")
    if new_weight is not None:
        orig.copy_(new_weight.to(orig.dtype))
    orig.mul_(mask)
    setattr(module, name, orig * getattr(module, f"{name}_mask"))
    return module


@contextlib.contextmanager
def restore_on_error(model: nn.Module):
    """Run a block that mutates ``model``; on any exception, put the model back exactly as it
    was (parameters, buffers, pruning hooks and reparametrizations) and re-raise."""
    saved_modules = {n: copy_module(m) for n, m in model.named_children()}
    saved_state = copy.deepcopy(model.__dict__.get("_parameters")), copy.deepcopy(model.__dict__.get("_buffers"))
    try:
        yield model
    except BaseException:
        for n, m in saved_modules.items():
            setattr(model, n, m)
        model._parameters, model._buffers = saved_state
        raise
