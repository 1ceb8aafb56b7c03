"""Inverse curvature for pruning: damped Cholesky, Woodbury (empirical Fisher), OBS downdates.

Every OBS step (notes §1, eqs. (7)–(8)) reads H⁻¹, never H. This module forms H⁻¹ safely
and keeps it current while weights are removed:

* :func:`damped_inverse` — (H + λI)⁻¹ through a Cholesky factorization. A matrix that is not
  positive definite after damping raises a ``ValueError`` that gives its smallest eigenvalue
  and the damping that would fix it (never a raw LAPACK error, never NaN).
* :func:`woodbury_fisher_inverse` — the inverse of the damped empirical Fisher
  F = λI + (1/N) Σₙ gₙgₙᵀ = λI + GᵀG/N (G: the (N, P) per-sample gradients) without forming
  F: by the Woodbury identity

      F⁻¹ = (1/λ) [I − Gᵀ (NλI + GGᵀ)⁻¹ G]                                    (N × N solve)

  or, equivalently, by N rank-1 Sherman–Morrison updates (WoodFisher, Singh & Alistarh 2020)

      F₀⁻¹ = I/λ,   Fₙ⁻¹ = Fₙ₋₁⁻¹ − (Fₙ₋₁⁻¹gₙ)(Fₙ₋₁⁻¹gₙ)ᵀ / (N + gₙᵀFₙ₋₁⁻¹gₙ).

* :func:`obs_downdate` — after weight q is removed and its compensation applied, the inverse
  curvature of the remaining weights is the Schur complement (Hassibi & Stork 1993)

      H⁻¹ ← H⁻¹ − H⁻¹e_q e_qᵀH⁻¹ / [H⁻¹]_qq                                    (rank 1)
      H⁻¹ ← H⁻¹ − H⁻¹E_Q (E_QᵀH⁻¹E_Q)⁻¹ E_QᵀH⁻¹                                (a set Q)

  Row and column q of the result are exactly zero: the removed weight no longer moves.
* :func:`block_diagonal_inverse` — the same for a block-diagonal H (one block per layer,
  or WoodFisher's fixed-size blocks), for models too large for one P × P matrix.

All functions take and return ``torch.Tensor`` (numpy arrays are accepted) and work in the
input's floating dtype; float64 is advised for P beyond a few hundred.

Example
-------
>>> import torch
>>> H = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
>>> H_inv = damped_inverse(H)
>>> bool(torch.allclose(H_inv @ H, torch.eye(2, dtype=torch.float64)))
True
>>> obs_downdate(H_inv, 0)[0]              # row q = 0 is zero after the downdate
tensor([0., 0.], dtype=torch.float64)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._validation import check_positive

__all__ = [
    "block_diagonal_inverse",
    "damped_inverse",
    "obs_downdate",
    "woodbury_fisher_inverse",
]


def _as_matrix(H, name: str) -> torch.Tensor:
    """``H`` as a finite, square, floating torch matrix, or a ``ValueError``/``TypeError``."""
    if isinstance(H, np.ndarray):
        if np.iscomplexobj(H):
            raise TypeError(f"{name} must be real; got dtype {H.dtype}.")
        H = torch.from_numpy(np.asarray(H, dtype=np.float64))
    if not isinstance(H, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(H).__name__}.")
    if H.is_complex():
        raise TypeError(f"{name} must be real; got dtype {H.dtype}.")
    if not H.is_floating_point():
        H = H.to(torch.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {tuple(H.shape)}.")
    if H.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least a 1 × 1 matrix.")
    if not torch.isfinite(H).all():
        raise ValueError(f"{name} contains NaN or infinity; check the model and the data it was computed on.")
    return H


def damped_inverse(H, damping: float = 0.0, *, check_symmetric: bool = True) -> torch.Tensor:
    """(H + λI)⁻¹ by Cholesky, λ = ``damping`` (absolute, ≥ 0).

    Parameters
    ----------
    H : (P, P) symmetric matrix (a Hessian, Gauss–Newton matrix or Fisher).
    damping : λ ≥ 0 added to the diagonal before inverting. Damping trades the curvature
        model for magnitude pruning: as λ → ∞, λ(H + λI)⁻¹ → I and OBS becomes eq. (9)–(10).
    check_symmetric : raise if H is not symmetric to 1e-8 relative (else it is symmetrized).

    Returns
    -------
    (P, P) symmetric H⁻¹ in H's dtype.

    Raises
    ------
    ValueError if H + λI is not positive definite; the message gives H's smallest eigenvalue
    and the damping that would make it so.
    """
    H = _as_matrix(H, "H")
    damping = check_positive(damping, "damping", strict=False)
    scale = float(H.abs().max())
    if check_symmetric and float((H - H.T).abs().max()) > 1e-8 * max(scale, 1e-300):
        raise ValueError("H must be symmetric; pass (H + H.T) / 2 if the asymmetry is round-off.")
    A = (H + H.T) / 2
    A = A + damping * torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        lam_min = float(torch.linalg.eigvalsh((H + H.T) / 2)[0])
        need = max(-lam_min, 0.0)
        raise ValueError(
            f"H + damping·I is not positive definite (H's smallest eigenvalue is {lam_min:.3e}, "
            f"damping = {damping:.3e}); use damping > {need:.3e}, or a positive semi-definite "
            "curvature (Gauss–Newton, empirical Fisher, |H|)."
        )
    H_inv = torch.cholesky_inverse(L)
    return (H_inv + H_inv.T) / 2


def woodbury_fisher_inverse(G, damping: float, *, method: str = "woodbury") -> torch.Tensor:
    """Inverse of the damped empirical Fisher F = λI + GᵀG/N without forming F.

    Parameters
    ----------
    G : (N, P) per-sample gradients gₙ (rows).
    damping : λ > 0.
    method : ``"woodbury"`` (one N × N Cholesky solve: F⁻¹ = (I − Gᵀ(NλI + GGᵀ)⁻¹G)/λ) or
        ``"sequential"`` (N Sherman–Morrison rank-1 updates, as in WoodFisher). Both give the
        same matrix to round-off; the first is faster, the second shows the recursion.

    Returns
    -------
    (P, P) F⁻¹.
    """
    G = G if isinstance(G, torch.Tensor) else torch.as_tensor(np.asarray(G, dtype=np.float64))
    if not G.is_floating_point():
        G = G.to(torch.float64)
    if G.ndim != 2 or G.shape[0] == 0 or G.shape[1] == 0:
        raise ValueError(f"G must be a non-empty (N, P) matrix of per-sample gradients; got shape {tuple(G.shape)}.")
    if not torch.isfinite(G).all():
        raise ValueError("G contains NaN or infinity; check the model and the calibration data.")
    lam = check_positive(damping, "damping")
    N, P = G.shape
    eye_P = torch.eye(P, dtype=G.dtype, device=G.device)
    if method == "woodbury":
        K = G @ G.T + N * lam * torch.eye(N, dtype=G.dtype, device=G.device)   # (N, N), SPD
        L = torch.linalg.cholesky(K)
        Z = torch.cholesky_solve(G, L)                                          # (N, P) = K⁻¹G
        F_inv = (eye_P - G.T @ Z) / lam
    elif method == "sequential":
        F_inv = eye_P / lam
        for g in G:                                                             # g: (P,)
            Fg = F_inv @ g
            F_inv = F_inv - torch.outer(Fg, Fg) / (N + g @ Fg)
    else:
        raise ValueError(f"method must be 'woodbury' or 'sequential'; got {method!r}.")
    return (F_inv + F_inv.T) / 2


def obs_downdate(H_inv: torch.Tensor, q: int | Sequence[int] | torch.Tensor) -> torch.Tensor:
    """The inverse curvature of the remaining weights after removing weight(s) ``q``.

    Rank 1:  H⁻¹ − H⁻¹e_q e_qᵀH⁻¹ / [H⁻¹]_qq.   A set Q:  H⁻¹ − H⁻¹E_Q(E_QᵀH⁻¹E_Q)⁻¹E_QᵀH⁻¹.

    Returns a new (P, P) tensor whose rows and columns ``q`` are zero.
    """
    H_inv = _as_matrix(H_inv, "H_inv")
    Q = torch.as_tensor(q)
    if Q.numel() and (Q.is_floating_point() or Q.is_complex() or Q.dtype == torch.bool):
        raise TypeError(f"q must hold integer indices into H_inv; got dtype {Q.dtype}.")
    Q = Q.to(torch.long).reshape(-1)                                             # (k,)
    P = H_inv.shape[0]
    if Q.numel() == 0 or int(Q.min()) < 0 or int(Q.max()) >= P:
        raise ValueError(f"q must index rows of the {P} × {P} H_inv; got {Q.tolist()}.")
    cols = H_inv[:, Q]                                                           # (P, k)
    S = cols[Q]                                                                  # (k, k) = E_QᵀH⁻¹E_Q
    if not bool((torch.diagonal(S) > 0).all()):
        raise ValueError("H_inv[q, q] must be > 0; the weight was already removed or H_inv is not positive definite.")
    out = H_inv - cols @ torch.linalg.solve(S, cols.T)
    out[Q, :] = 0
    out[:, Q] = 0
    return (out + out.T) / 2


def block_diagonal_inverse(blocks: Sequence[torch.Tensor], damping: float = 0.0) -> list[torch.Tensor]:
    """(B_k + λI)⁻¹ for each diagonal block B_k of a block-diagonal H (WoodFisher blocks,
    or one block per layer). The inverse of a block-diagonal matrix is block-diagonal with
    the blocks' inverses, so OBS on it only ever touches the block of the weight removed."""
    if len(blocks) == 0:
        raise ValueError("blocks is empty; pass at least one diagonal block.")
    out = []
    for k, B in enumerate(blocks):
        try:
            out.append(damped_inverse(B, damping))
        except ValueError as exc:
            raise ValueError(f"block {k}: {exc}") from None
    return out
