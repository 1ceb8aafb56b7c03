"""Stochastic estimates of tr(H) from Hessian-vector products alone.

Hutchinson (1989): for z with independent Rademacher (±1) entries, E[zᵀHz] = tr(H), so

    tr(H) ≈ (1/m) Σ_{i=1}^{m} z_iᵀ H z_i,

with variance 2(‖H‖_F² − Σ H_jj²)/m; we report the sample standard error.

Hutch++ (Meyer, Musco, Musco & Woodruff 2021): spend a third of the budget on a sketch
S (P × m/3), take an orthonormal basis Q of HS — it captures the top eigenspace — and
count that part exactly, leaving Hutchinson only the deflated remainder:

    tr(H) = tr(QᵀHQ) + tr((I − QQᵀ) H (I − QQᵀ))
          ≈ tr(QᵀHQ) + (3/m) Σ g_iᵀ (I − QQᵀ) H (I − QQᵀ) g_i.

Its error falls like 1/m instead of 1/√m when the spectrum decays; with m/3 ≥ P it is
exact. Costs: Hutchinson m products, Hutch++ m products (m/3 + m/3 + m/3).

On a distributed operator the probes come from the seeded generator on every rank (the
options are checked to agree first), so every rank gets the same estimate — that of one
process on the concatenated data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import distributed as cd
from .._validation import check_positive_int
from .operator import LinearOperator, as_operator, is_distributed_operator, on_distributed_operator, torch_generator

__all__ = ["TraceEstimate", "hutchinson", "hutchpp"]


@dataclass(frozen=True)
class TraceEstimate:
    """An estimate of tr(H).

    Attributes
    ----------
    trace : the estimate.
    std_error : its standard error (from the sample variance of the stochastic part;
        0 when that part is empty, i.e. the estimate is exact).
    num_matvecs : operator products used.
    samples : (m,) the individual quadratic forms zᵀHz (of the stochastic part).
    """

    trace: float
    std_error: float
    num_matvecs: int
    samples: Tensor

    def __repr__(self) -> str:
        return (f"TraceEstimate(trace={self.trace:.6g} ± {self.std_error:.2g}, num_matvecs={self.num_matvecs}, "
                f"samples={self.samples.numel()})")


def _rademacher(n: int, dim: int, gen: torch.Generator, op: LinearOperator) -> Tensor:
    Z = torch.randint(0, 2, (n, dim), generator=gen).to(dtype=op.dtype, device=op.device)
    return 2 * Z - 1  # (n, P), entries ±1


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    return torch_generator(seed)


@cd.raises_on_every_rank("hutchinson", when=on_distributed_operator)
def hutchinson(A, num_matvecs: int = 100, *, seed: int | torch.Generator | None = 0) -> TraceEstimate:
    """tr(A) ≈ (1/m) Σ zᵀAz over m = ``num_matvecs`` Rademacher vectors z.

    Example
    -------
    >>> est = hutchinson(torch.diag(torch.arange(1.0, 11.0)), num_matvecs=50)
    >>> est.trace        # 55, exactly: a diagonal matrix has zero Hutchinson variance
    55.0
    """
    op = as_operator(A)
    m = check_positive_int(num_matvecs, "num_matvecs")
    if is_distributed_operator(op):
        cd.agree("hutchinson", num_matvecs=m, seed=seed)
    start = op.num_matvecs
    Z = _rademacher(m, op.dim, _generator(seed), op)
    samples = torch.stack([z @ op.matvec(z) for z in Z])  # (m,)
    std = float(samples.std(unbiased=True)) / math.sqrt(m) if m > 1 else math.inf
    return TraceEstimate(float(samples.mean()), std, op.num_matvecs - start, samples)


@cd.raises_on_every_rank("hutchpp", when=on_distributed_operator)
def hutchpp(A, num_matvecs: int = 99, *, seed: int | torch.Generator | None = 0) -> TraceEstimate:
    """Hutch++ with a budget of m = ``num_matvecs`` products (m ≥ 3; split m/3 each).

    Example
    -------
    >>> est = hutchpp(H, num_matvecs=60, seed=0)     # doctest: +SKIP
    """
    op = as_operator(A)
    m = check_positive_int(num_matvecs, "num_matvecs", minimum=3)
    if is_distributed_operator(op):
        cd.agree("hutchpp", num_matvecs=m, seed=seed)
    start = op.num_matvecs
    gen = _generator(seed)
    s = min(m // 3, op.dim)                  # sketch size
    g = m - 2 * s                            # Hutchinson vectors on the remainder
    S = _rademacher(s, op.dim, gen, op)      # (s, P)
    AS = torch.stack([op.matvec(x) for x in S])  # (s, P)
    Q, _ = torch.linalg.qr(AS.T)             # (P, s), orthonormal basis of range(AS)
    exact = sum(float(q @ op.matvec(q)) for q in Q.T)  # tr(QᵀAQ)
    if s == op.dim:                          # Q spans everything: tr(A) = tr(QᵀAQ)
        return TraceEstimate(exact, 0.0, op.num_matvecs - start, torch.empty(0, dtype=op.dtype))
    G = _rademacher(g, op.dim, gen, op)      # (g, P)
    G = G - (G @ Q) @ Q.T                    # (I − QQᵀ) g_i
    samples = torch.stack([x @ op.matvec(x) for x in G])  # (g,)
    std = float(samples.std(unbiased=True)) / math.sqrt(g) if g > 1 else math.inf
    return TraceEstimate(exact + float(samples.mean()), std, op.num_matvecs - start, samples)
