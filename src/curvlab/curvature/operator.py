"""The one interface the spectral routines need: a symmetric linear operator v ↦ Av.

Anything with ``matvec(v)``, ``dim``, ``dtype`` and ``device`` qualifies — a
:class:`~curvlab.curvature.hvp.HessianOperator`, or an explicit matrix wrapped by
:func:`as_operator` (used for tests and for small dense Hessians). ``num_matvecs``
counts the products, so every routine can report its cost. An operator with a true
``distributed`` attribute (a data-parallel ``HessianOperator``) makes the spectral routines
check that every rank passed the same options and keep the ranks in step.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

__all__ = ["LinearOperator", "MatrixOperator", "as_operator", "is_distributed_operator", "on_distributed_operator"]


@runtime_checkable
class LinearOperator(Protocol):
    dim: int
    num_matvecs: int

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def device(self) -> torch.device: ...

    def matvec(self, v: Tensor) -> Tensor: ...


class MatrixOperator:
    """An explicit symmetric matrix A (P, P) behind the operator interface."""

    def __init__(self, A: Tensor):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix; got shape {tuple(A.shape)}.")
        if not torch.isfinite(A).all():
            raise ValueError("A contains NaN or infinity; pass a finite matrix.")
        self.A = A
        self.dim = A.shape[0]
        self.num_matvecs = 0

    @property
    def dtype(self) -> torch.dtype:
        return self.A.dtype

    @property
    def device(self) -> torch.device:
        return self.A.device

    def matvec(self, v: Tensor) -> Tensor:
        self.num_matvecs += 1
        return self.A @ v


def as_operator(A) -> LinearOperator:
    """``A`` if it already is an operator; an explicit matrix (tensor or array) wrapped."""
    if isinstance(A, np.ndarray):
        A = torch.from_numpy(A)
    if isinstance(A, Tensor):
        return MatrixOperator(A)
    if isinstance(A, LinearOperator):
        return A
    raise TypeError(
        f"expected a HessianOperator, an object with matvec/dim/dtype/device, or a square "
        f"matrix; got {type(A).__name__}."
    )


def is_distributed_operator(op) -> bool:
    """True for an operator whose products are collectives (every rank must call them together)."""
    return bool(getattr(op, "distributed", False))


def on_distributed_operator(*args, **kwargs) -> bool:
    """For ``raises_on_every_rank(when=...)``: is the call's operator (first argument, or ``A=``) distributed?"""
    return is_distributed_operator(args[0] if args else kwargs.get("A"))
