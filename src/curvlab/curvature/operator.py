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

__all__ = ["LinearOperator", "MatrixOperator", "as_operator", "check_symmetric_operator",
           "is_distributed_operator", "on_distributed_operator", "torch_generator"]


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
        if A.is_complex():
            raise TypeError(f"A must be a real matrix; got dtype {A.dtype}. The spectral routines need a real "
                            "symmetric operator (for a Hermitian H, use the real form [[Re, -Im], [Im, Re]]).")
        if not A.is_floating_point():
            A = A.to(torch.float64)  # integer / bool entries: exact in float64
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be a square matrix; got shape {tuple(A.shape)}.")
        if A.shape[0] == 0:
            raise ValueError("A is empty (0×0); pass a matrix with at least one row.")
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


def torch_generator(seed) -> torch.Generator:
    """``seed`` (an int, None for 0, or a ``torch.Generator``) as a ``torch.Generator``."""
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, None or a torch.Generator; got {seed!r}.")
    return torch.Generator().manual_seed(int(seed))


def check_symmetric_operator(op: LinearOperator, seed: int = 12345) -> None:
    """Raise ``ValueError`` unless ``op`` is symmetric (Lanczos and SLQ assume A = Aᵀ).

    An explicit matrix is compared with its transpose; a Hessian operator is symmetric by
    construction; any other operator gets a randomized test with two products,
    uᵀ(Av) = vᵀ(Au) for random u, v (a non-symmetric A fails it with probability 1). The two
    products are not counted in ``num_matvecs``.
    """
    if isinstance(op, MatrixOperator):
        A = op.A
        scale = float(A.abs().max())
        asym = float((A - A.T).abs().max())
        if asym > 100 * torch.finfo(A.dtype).eps * max(scale, torch.finfo(A.dtype).tiny):
            raise ValueError(f"A must be symmetric; max |A - Aᵀ| = {asym:.3e} (max |A| = {scale:.3e}). "
                             "Pass (A + A.T) / 2 if the asymmetry is round-off.")
        return
    if type(op).__name__ == "HessianOperator":
        return
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(op.dim, generator=gen, dtype=torch.float64).to(dtype=op.dtype, device=op.device)
    v = torch.randn(op.dim, generator=gen, dtype=torch.float64).to(dtype=op.dtype, device=op.device)
    count = op.num_matvecs
    Au, Av = op.matvec(u), op.matvec(v)
    op.num_matvecs = count
    gap = abs(float(u @ Av) - float(v @ Au))
    scale = float(torch.linalg.vector_norm(Au) * torch.linalg.vector_norm(v)
                  + torch.linalg.vector_norm(Av) * torch.linalg.vector_norm(u))
    if not gap <= 1e3 * torch.finfo(op.dtype).eps * max(scale, torch.finfo(op.dtype).tiny):
        raise ValueError(f"A is not symmetric: for random u, v, |uᵀAv − vᵀAu| = {gap:.3e} "
                         f"(scale {scale:.3e}); lanczos and slq_density need a symmetric operator.")


def as_operator(A) -> LinearOperator:
    """``A`` if it already is an operator; an explicit matrix (tensor or array) wrapped."""
    if isinstance(A, np.ndarray):
        if A.dtype == object or A.dtype.kind in "USV":
            raise TypeError(f"A must be a numeric matrix; got an array of dtype {A.dtype}.")
        A = torch.from_numpy(np.ascontiguousarray(A))
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
