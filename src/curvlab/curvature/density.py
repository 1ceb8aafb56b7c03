"""The spectral density of H by stochastic Lanczos quadrature (SLQ).

The density φ(t) = (1/P) Σ_i δ(t − λ_i) is estimated through quadratic forms: for a unit
random vector v, vᵀ f(H) v = Σ_i (vᵀu_i)² f(λ_i), and m Lanczos steps from v give the
Gauss quadrature rule with nodes θ_j (eigenvalues of T_m) and weights τ_j = s_{1j}² (first
components of T_m's eigenvectors), exact for polynomials f of degree ≤ 2m − 1:

    vᵀ f(H) v ≈ Σ_j τ_j f(θ_j).

Averaging over n_v Rademacher vectors (E[(vᵀu_i)²] = 1/P) and smoothing each node with a
Gaussian of width σ gives φ(t) ≈ (1/n_v) Σ_l Σ_j τ_j^{(l)} N(t; θ_j^{(l)}, σ²)
(Lin, Saad & Yang 2016; Ubaru, Chen & Saad 2017; applied to networks by Ghorbani,
Krishnan & Xiao 2019).

On a distributed operator the Rademacher vectors come from the seeded generator on every
rank (options checked to agree first): every rank gets the same density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from .. import distributed as cd
from .._validation import as_float_array, check_positive, check_positive_int
from .lanczos import lanczos_tridiagonal
from .operator import as_operator, is_distributed_operator, on_distributed_operator, torch_generator

__all__ = ["SpectralDensity", "slq_density"]


@dataclass(frozen=True)
class SpectralDensity:
    """Quadrature nodes and weights of SLQ.

    Attributes
    ----------
    nodes : (n_v, m) Ritz values θ_j for each random vector (padded with NaN-free repeats
        of weight 0 when a run stopped early).
    weights : (n_v, m) τ_j, each row summing to 1.
    num_matvecs : operator products used (n_v · m at most).
    dim : P.
    """

    nodes: np.ndarray
    weights: np.ndarray
    num_matvecs: int
    dim: int

    def __repr__(self) -> str:
        n_v, m = self.nodes.shape
        return (f"SpectralDensity(P={self.dim}, vectors={n_v}, steps={m}, nodes in "
                f"[{float(self.nodes.min()):.4g}, {float(self.nodes.max()):.4g}], num_matvecs={self.num_matvecs})")

    def expectation(self, f) -> float:
        """(1/P) tr f(H) ≈ (1/n_v) Σ_l Σ_j τ_j f(θ_j), e.g. ``f=np.exp``."""
        return float(np.mean(np.sum(self.weights * f(self.nodes), axis=1)))

    def density(self, grid, sigma: float | None = None) -> np.ndarray:
        """φ(t) on ``grid`` with Gaussian smoothing σ (default 1% of the node range)."""
        t = as_float_array(grid, "grid", ndim=1)
        if sigma is None:
            span = float(self.nodes.max() - self.nodes.min())
            sigma = max(0.01 * span, 1e-12)
        sigma = check_positive(sigma, "sigma")
        diff = t[:, None, None] - self.nodes[None]  # (G, n_v, m)
        kernel = np.exp(-0.5 * (diff / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        return np.mean(np.sum(self.weights[None] * kernel, axis=2), axis=1)  # (G,)


@cd.raises_on_every_rank("slq_density", when=on_distributed_operator)
def slq_density(A, num_steps: int = 80, num_vectors: int = 10, *,
                seed: int | torch.Generator | None = 0) -> SpectralDensity:
    """SLQ with ``num_vectors`` Rademacher start vectors and ``num_steps`` Lanczos steps each.

    Example
    -------
    >>> dens = slq_density(H, num_steps=60, num_vectors=5)        # doctest: +SKIP
    >>> phi = dens.density(np.linspace(-1, 10, 400))              # doctest: +SKIP
    """
    op = as_operator(A)
    m = min(check_positive_int(num_steps, "num_steps"), op.dim)
    n_v = check_positive_int(num_vectors, "num_vectors")
    if is_distributed_operator(op):
        cd.agree("slq_density", num_steps=m, num_vectors=n_v, seed=seed)
    gen = torch_generator(seed)
    start = op.num_matvecs
    nodes = np.zeros((n_v, m))
    weights = np.zeros((n_v, m))
    for l in range(n_v):
        v = (2 * torch.randint(0, 2, (op.dim,), generator=gen) - 1).to(op.dtype)
        alpha, beta, _ = lanczos_tridiagonal(op, m, v0=v)
        if alpha.size == 1:
            theta, S = alpha.copy(), np.ones((1, 1))
        else:
            theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta)
        r = theta.size
        nodes[l, :r], weights[l, :r] = theta, S[0] ** 2
        nodes[l, r:] = theta[-1]  # padding with zero weight
    return SpectralDensity(nodes, weights, op.num_matvecs - start, op.dim)
