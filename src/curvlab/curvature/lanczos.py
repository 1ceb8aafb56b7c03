"""Extreme eigenvalues of a symmetric operator by Lanczos with full reorthogonalization.

Lanczos builds an orthonormal basis q_1 … q_m of the Krylov space span{v, Av, …, A^{m−1}v}
in which A is tridiagonal, T_m = Q_mᵀ A Q_m (α on the diagonal, β off it):

    β_j q_{j+1} = A q_j − α_j q_j − β_{j−1} q_{j−1}.

In floating point the q_j lose orthogonality and spurious copies of converged eigenvalues
appear; re-orthogonalizing each new vector against all previous ones (twice, "twice is
enough") prevents that at O(mP) memory. The eigenvalues θ_i of T_m (Ritz values) approach
the extreme eigenvalues of A from inside; with T_m = S Θ Sᵀ the Ritz pair (θ_i, Q_m s_i) has
residual ‖A y_i − θ_i y_i‖ = β_m |s_{m,i}| (Golub & Van Loan, Matrix Computations, §10.1).

Error bound and stopping rule. Write r_i = β_m|s_{m,i}| for the residual ‖A y_i − θ_i y_i‖ of
every Ritz pair (wanted or not), the θ_i sorted. Two classical facts (Parlett, The
Symmetric Eigenvalue Problem, Thm 4.5.1 and §10.2; Kato 1949, Temple 1929):

* some eigenvalue of A lies in [θ_i − r_i, θ_i + r_i];
* (Kato–Temple) if an interval (a, b) ∋ θ_i holds exactly one eigenvalue λ of A, then
  θ_i − r_i²/(b − θ_i) ≤ λ ≤ θ_i + r_i²/(θ_i − a).

For the top Ritz value Cauchy interlacing gives θ_1 ≤ λ_1, so

    ``bound="residual"`` (default):  θ_1 ≤ λ_1 ≤ θ_1 + r_1,

valid unless an eigenvalue above θ_1 + r_1 is *missed* altogether — the assumption every
Krylov method makes, a measure-zero event for a random start in exact arithmetic. (A
cluster narrower than the tolerance may be seen as one eigenvalue: the eigenvalue within
r_1 of θ_1 may be λ_2, so the error is at most r_1 + (λ_1 − λ_2), still about ``tol``.)

    ``bound="gap"``:  θ_1 ≤ λ_1 ≤ θ_1 + min(r_1, r_1²/(θ_1 − θ_2 − r_2)),

Kato–Temple with a = θ_2 + r_2 taken as an upper bound on λ_2 (interior wanted values use
both neighbours, min(θ_{i−1} − r_{i−1} − θ_i, θ_i − θ_{i+1} − r_{i+1}); "SA" the mirror image).
It stops 15–30% earlier, but it additionally assumes that θ_2 approximates λ_2 — false
while a cluster λ_1 ≈ λ_2 is still *unresolved*, when θ_1 sits inside the cluster with a
small residual and θ_2 approximates λ_3. We measured exactly that (tests, and
``docs/curvature.md``): with λ_2 = (1 − 10⁻³)λ_1 and tol = 10⁻⁴ the gap rule stopped with
errors up to 9·10⁻⁴. The residual rule never did, hence the default. (The distance to the
nearest Ritz value, the "gap" of many codes, is worse still: it over-estimates λ_1 − λ_2.)

We stop at the first product after which err_i ≤ tol·|θ_i| for every wanted i (checked
after every product: the tridiagonal eigenproblem costs microseconds), so ``tol`` is the
relative accuracy certified under the stated assumption.

Data-parallel: on a distributed operator (a :class:`~curvlab.curvature.hvp.HessianOperator`
under a process group) every rank runs the same iteration on the same products; the start
vector comes from a seeded generator (identical on every rank; the options and ``v0`` are
checked to agree before the first product) and each stop decision is rank 0's, so every
rank ends with the same numbers after the same number of products.

Compared with the power iteration PyHessian uses — whose error shrinks like (λ_2/λ_1)^t —
Lanczos converges like a Chebyshev polynomial in the gap, so it needs far fewer products
when the top eigenvalues are close (Kuczyński & Woźniakowski 1992).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from .. import distributed as cd
from .._validation import check_positive, check_positive_int
from .operator import (LinearOperator, as_operator, check_symmetric_operator, is_distributed_operator,
                       on_distributed_operator, torch_generator)

__all__ = ["LanczosResult", "lanczos", "lanczos_tridiagonal"]

log = logging.getLogger(__name__)

WHICH = ("LA", "SA", "LM")
BOUNDS = ("residual", "gap")


@dataclass(frozen=True)
class LanczosResult:
    """Top-k eigenpairs of a symmetric operator.

    Attributes
    ----------
    eigenvalues : (k,) Ritz values, largest first for ``which="LA"``/``"LM"`` (by value /
        by magnitude), smallest first for ``"SA"``.
    eigenvectors : (P, k) unit Ritz vectors, column i for eigenvalue i.
    errors : (k,) bound on the absolute error of each eigenvalue (the residual, or
        min(r_i, r_i²/gap_i) with ``bound="gap"``; module docstring); for ``"LA"`` the top
        one gives λ_max ∈ [θ_1, θ_1 + errors[0]].
    residuals : (k,) ‖A y_i − θ_i y_i‖.
    num_matvecs : operator products used.
    converged : whether every error met the tolerance.
    ritz_values : all Ritz values of the final T_m, ascending.
    """

    eigenvalues: Tensor
    eigenvectors: Tensor
    errors: np.ndarray
    residuals: np.ndarray
    num_matvecs: int
    converged: bool
    ritz_values: np.ndarray

    @property
    def lam_max(self) -> float:
        return float(self.eigenvalues[0])

    def __repr__(self) -> str:
        lam = ", ".join(f"{float(x):.6g}" for x in self.eigenvalues[:5])
        more = f", … ({self.eigenvalues.numel()} in all)" if self.eigenvalues.numel() > 5 else ""
        return (f"LanczosResult(eigenvalues=[{lam}{more}], max error={float(np.max(self.errors)):.2e}, "
                f"P={self.eigenvectors.shape[0]}, num_matvecs={self.num_matvecs}, converged={self.converged})")


def _start_vector(op: LinearOperator, v0: Tensor | None, seed: int | torch.Generator | None) -> Tensor:
    if v0 is not None:
        if isinstance(v0, np.ndarray):
            v0 = torch.from_numpy(np.ascontiguousarray(v0))
        if not isinstance(v0, Tensor):
            raise TypeError(f"v0 must be a torch.Tensor of shape ({op.dim},); got {type(v0).__name__}.")
        if v0.is_complex():
            raise TypeError(f"v0 must be real; got dtype {v0.dtype}.")
        if v0.ndim != 1 or v0.shape[0] != op.dim:
            raise ValueError(f"v0 must have shape ({op.dim},) (the operator's size); got {tuple(v0.shape)}.")
        if v0.is_floating_point() and not bool(torch.isfinite(v0).all()):
            raise ValueError("v0 contains NaN or infinity; pass a finite start vector (or None for a random one).")
        v = v0.to(device=op.device, dtype=op.dtype).clone()
    else:
        gen = torch_generator(seed)
        v = torch.randn(op.dim, generator=gen, dtype=op.dtype).to(op.device)
    norm = torch.linalg.vector_norm(v)
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("v0 must be a finite, non-zero vector.")
    return v / norm


def _reorthogonalize(w: Tensor, Q: Tensor) -> Tensor:
    """w − Q(Qᵀw), applied twice (classical Gram–Schmidt, 'twice is enough')."""
    for _ in range(2):
        w = w - Q.T @ (Q @ w)
    return w


@cd.raises_on_every_rank("lanczos_tridiagonal", when=on_distributed_operator)
def lanczos_tridiagonal(A, num_steps: int, *, v0: Tensor | None = None,
                        seed: int | torch.Generator | None = 0
                        ) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """m = ``num_steps`` Lanczos steps from v0 (unit-normalized; random Gaussian when omitted).

    Returns α (m,), β (m − 1,) — the diagonal and off-diagonal of T_m — and Q (m, P). Stops
    early (fewer rows) when the Krylov space is exhausted (β_j ≈ 0): then T_m's eigenvalues
    are exact eigenvalues of A. Used by stochastic Lanczos quadrature.
    """
    op = as_operator(A)
    m = min(check_positive_int(num_steps, "num_steps"), op.dim)
    shared = is_distributed_operator(op)
    if shared:
        cd.agree("lanczos_tridiagonal", num_steps=m, v0=v0, seed=seed)
    q = _start_vector(op, v0, seed)
    check_symmetric_operator(op)
    Q = torch.empty(m, op.dim, dtype=op.dtype, device=op.device)  # (m, P), row j = q_j
    alpha, beta = [], []
    for j in range(m):
        Q[j] = q
        w = op.matvec(q)
        a = float(q @ w)
        w = _reorthogonalize(w, Q[: j + 1])
        alpha.append(a)
        b = float(torch.linalg.vector_norm(w))
        if j == m - 1:
            break
        exhausted = b <= 1e-12 * max(abs(a), 1.0) * math.sqrt(op.dim)
        if shared:
            exhausted = cd.rank0_decides(exhausted, device=op.device)
        if exhausted:
            Q = Q[: j + 1]
            break
        beta.append(b)
        q = w / b
    return np.array(alpha), np.array(beta), Q


@cd.raises_on_every_rank("lanczos", when=on_distributed_operator)
def lanczos(A, k: int = 1, *, which: str = "LA", tol: float = 1e-6, max_matvecs: int | None = None,
            v0: Tensor | None = None, seed: int | torch.Generator | None = 0,
            bound: str = "residual") -> LanczosResult:
    """The k extreme eigenpairs of the symmetric operator A by Lanczos (full reorthogonalization).

    Parameters
    ----------
    A : a :class:`~curvlab.curvature.hvp.HessianOperator` (or any operator, or a square matrix).
    k : how many eigenpairs (1 ≤ k ≤ P).
    which : ``"LA"`` largest algebraic (the λ_max of the stability bound (36)), ``"SA"``
        smallest algebraic, ``"LM"`` largest magnitude (what power iteration finds).
    tol : stop at the first product after which every wanted eigenvalue's error bound
        (module docstring) is ≤ tol·|θ_i|: a guaranteed relative accuracy.
    max_matvecs : budget of products (default min(P, max(200, 20k))).
    v0 : start vector (default Gaussian from ``seed``); warm starts reuse a previous eigenvector.
    bound : the error bound behind ``tol`` and ``errors``: ``"residual"`` (r_i, default, robust
        to clusters) or ``"gap"`` (min(r_i, r_i²/gap_i), Kato–Temple; earlier, but it can stop
        inside an unresolved cluster of close eigenvalues — see the module docstring).

    Example
    -------
    >>> H = HessianOperator(model, nn.MSELoss(), (X, y))       # doctest: +SKIP
    >>> res = lanczos(H, k=3, tol=1e-6)                         # doctest: +SKIP
    >>> res.eigenvalues, res.num_matvecs                        # doctest: +SKIP
    """
    op = as_operator(A)
    P = op.dim
    k = check_positive_int(k, "k")
    if k > P:
        raise ValueError(f"k must be at most the number of parameters P = {P}; got k = {k}.")
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}; got {which!r}.")
    tol = check_positive(tol, "tol")
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {BOUNDS}; got {bound!r}.")
    if max_matvecs is None:
        max_matvecs = min(P, max(200, 20 * k))
    m_max = min(check_positive_int(max_matvecs, "max_matvecs"), P)
    if m_max < k:
        raise ValueError(f"max_matvecs must be at least k = {k}; got {max_matvecs}.")
    shared = is_distributed_operator(op)
    if shared:
        cd.agree("lanczos", k=k, which=which, tol=tol, max_matvecs=m_max, v0=v0, seed=seed, bound=bound)

    q = _start_vector(op, v0, seed)
    check_symmetric_operator(op)
    start = op.num_matvecs
    Q = torch.empty(m_max, P, dtype=op.dtype, device=op.device)  # (m, P), row j = q_j
    alpha: list[float] = []
    beta: list[float] = []
    exhausted = False
    for j in range(m_max):
        Q[j] = q
        w = op.matvec(q)
        a = float(q @ w)
        w = _reorthogonalize(w, Q[: j + 1])  # removes α_j q_j and β_{j−1} q_{j−1} too
        alpha.append(a)
        b = float(torch.linalg.vector_norm(w))
        exhausted = b <= 1e-12 * max(abs(a), 1.0) * math.sqrt(P)
        m = j + 1
        if m >= k:
            theta, S = _eig_tridiagonal(alpha, beta)
            idx = _select(theta, k, which)
            r_all = b * np.abs(S[-1])  # residual of every Ritz pair, (m,)
            residuals = r_all[idx]
            errors = _error_bounds(theta, idx, r_all) if bound == "gap" else residuals.copy()
        stop = exhausted or (m >= k and bool(np.all(errors <= tol * np.maximum(np.abs(theta[idx]), 1e-300))))
        if shared:
            stop = cd.rank0_decides(stop, device=op.device)
        if stop or m == m_max:
            break
        beta.append(b)
        q = w / b

    converged = bool(exhausted or np.all(errors <= tol * np.maximum(np.abs(theta[idx]), 1e-300)))
    if exhausted:
        errors = np.zeros_like(errors)
        residuals = np.zeros_like(residuals)
    if not converged:
        warnings.warn(
            f"lanczos did not reach tol={tol:g} in {m} products (relative error estimates "
            f"{np.array2string(errors / np.abs(theta[idx]), precision=2)}); raise max_matvecs.",
            RuntimeWarning, stacklevel=2)
    S_t = torch.as_tensor(S[:, idx], dtype=op.dtype, device=op.device)  # (m, k)
    Y = Q[:m].T @ S_t  # (P, k) Ritz vectors
    log.debug("lanczos: %d products, top Ritz value %.6g", m, theta[idx[0]])
    return LanczosResult(
        eigenvalues=torch.as_tensor(theta[idx], dtype=op.dtype),
        eigenvectors=Y,
        errors=errors,
        residuals=residuals,
        num_matvecs=op.num_matvecs - start,
        converged=converged,
        ritz_values=theta,
    )


def _eig_tridiagonal(alpha: list[float], beta: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of T = tridiag(β, α, β), eigenvalues ascending."""
    d = np.asarray(alpha, dtype=np.float64)
    if d.size == 1:
        return d.copy(), np.ones((1, 1))
    return scipy.linalg.eigh_tridiagonal(d, np.asarray(beta, dtype=np.float64))


def _select(theta: np.ndarray, k: int, which: str) -> np.ndarray:
    if which == "LA":
        return np.arange(theta.size - 1, theta.size - 1 - k, -1)
    if which == "SA":
        return np.arange(k)
    return np.argsort(-np.abs(theta), kind="stable")[:k]


def _error_bounds(theta: np.ndarray, idx: np.ndarray, r_all: np.ndarray) -> np.ndarray:
    """min(r_i, r_i²/gap_i) for the wanted Ritz values ``idx`` (into ascending ``theta``).

    gap_i is the distance from θ_i to the nearest neighbouring Ritz interval [θ_j − r_j,
    θ_j + r_j], j = i ± 1, i.e. a lower bound on the distance to the other eigenvalues
    (Kato–Temple, module docstring). The side beyond the end of the spectrum needs no
    neighbour (θ_max ≤ λ_max, θ_min ≥ λ_min); a missing inner neighbour (m = 1) or
    overlapping intervals leave the plain residual bound r_i.
    """
    m = theta.size
    errors = r_all[idx].copy()
    for n, i in enumerate(idx):
        gaps = []
        if i > 0:
            gaps.append(theta[i] - theta[i - 1] - r_all[i - 1])
        if i < m - 1:
            gaps.append(theta[i + 1] - r_all[i + 1] - theta[i])
        if not gaps:  # a single Ritz value: nothing is known about the other eigenvalues
            continue
        gap = min(gaps)
        if gap > 0:
            errors[n] = min(errors[n], r_all[i] ** 2 / gap)
    return errors
