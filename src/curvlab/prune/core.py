"""One saliency and update rule for every choice of curvature (notes §1, eqs. (1)–(10)).

Near a minimum the loss increase of a change δw is the quadratic ½ δwᵀHδw (eq. (2), the
gradient term of (1) vanishing). Removing weight q means δw_q = −w_q (eq. (3)); the best
δw under that constraint (Lagrangian (4)–(6)) and its cost are

    δw = −(w_q / [H⁻¹]_qq) H⁻¹ e_q                                            (7)
    L_q = ½ w_q² / [H⁻¹]_qq                                                   (8)

and for a set Q of weights removed together (E_Q: the columns e_q, q ∈ Q)

    δw = −H⁻¹E_Q (E_QᵀH⁻¹E_Q)⁻¹ w_Q,   L_Q = ½ w_Qᵀ (E_QᵀH⁻¹E_Q)⁻¹ w_Q.

The choice of H names the method:

=============  =============================  ===========================================
H              saliency L_q                   update δw
=============  =============================  ===========================================
I              ½ w_q²   (magnitude, (10))     −w_q e_q   (9)
diag(h)        ½ h_q w_q²  (OBD, LeCun 1990)  −w_q e_q   (H⁻¹e_q ∝ e_q: nothing to move)
full H         ½ w_q²/[H⁻¹]_qq  (OBS)         (7): the other weights compensate
=============  =============================  ===========================================

so magnitude pruning and OBD are OBS with a particular H, computed here by the same code.
:func:`inverse_curvature` builds H⁻¹ for each kind; :func:`obs_saliency`, :func:`obs_update`
and :func:`obs_multi_update` apply (7)–(8).

Example
-------
>>> import torch
>>> w = torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64)
>>> H_inv = inverse_curvature("identity", size=3)
>>> obs_saliency(w, H_inv)                 # ½ w², eq. (10)
tensor([0.1250, 2.0000, 0.5000], dtype=torch.float64)
>>> obs_update(w, H_inv, 0)                # −w_q e_q, eq. (9)
tensor([-0.5000, 0.0000, 0.0000], dtype=torch.float64)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Literal

import torch

from .._validation import check_positive, check_positive_int, check_real
from ..curvature.inverse import damped_inverse

__all__ = ["CurvatureKind", "inverse_curvature", "obs_multi_update", "obs_saliency", "obs_update"]

CurvatureKind = Literal["identity", "diagonal", "full"]


def _check_pair(w: torch.Tensor, H_inv: torch.Tensor) -> None:
    """Shapes, real finite values, and a diagonal that a positive (semi-)definite H⁻¹ can have.

    [H⁻¹]_qq < 0 is impossible for a positive definite H⁻¹; [H⁻¹]_qq = 0 is allowed only with
    the whole row q zero (a weight already removed by a downdate). Both checks are O(P²),
    the size of H⁻¹ itself; a full definiteness test (Cholesky, O(P³)) is left to
    :func:`inverse_curvature`, which builds H⁻¹.
    """
    if not isinstance(w, torch.Tensor) or not isinstance(H_inv, torch.Tensor):
        raise TypeError("w and H_inv must be torch tensors.")
    for name, t in (("w", w), ("H_inv", H_inv)):
        if t.is_complex() or not t.is_floating_point():
            raise TypeError(f"{name} must be real floating point; got dtype {t.dtype} (use .double()).")
    if w.ndim != 1:
        raise ValueError(f"w must be a flat (P,) vector; got shape {tuple(w.shape)} (use w.reshape(-1)).")
    P = w.shape[0]
    if H_inv.shape != (P, P):
        raise ValueError(f"H_inv must be ({P}, {P}) to match w; got {tuple(H_inv.shape)}.")
    if not torch.isfinite(w).all():
        raise ValueError("w contains NaN or infinity; pass finite weights.")
    if not torch.isfinite(H_inv).all():
        i, j = (int(k) for k in (~torch.isfinite(H_inv)).nonzero()[0])
        raise ValueError(f"H_inv contains NaN or infinity (first at [{i}, {j}]); rebuild it with "
                         "inverse_curvature and more damping.")
    d = torch.diagonal(H_inv)
    if bool((d < 0).any()):
        q = int(torch.argmin(d))
        raise ValueError(f"H_inv is not positive definite: H_inv[{q}, {q}] = {float(d[q]):.3e} < 0. Build it "
                         "with inverse_curvature (damping > 0) or from a PSD curvature (Gauss–Newton).")
    dead = (d == 0).nonzero().squeeze(1)
    if dead.numel() and bool((H_inv[dead] != 0).any()):
        q = int(dead[(H_inv[dead] != 0).any(dim=1)][0])
        raise ValueError(f"H_inv is not positive definite: H_inv[{q}, {q}] = 0 but row {q} is not zero. "
                         "Build it with inverse_curvature (damping > 0).")


def inverse_curvature(kind: CurvatureKind, H: torch.Tensor | None = None, *, size: int | None = None,
                      damping: float = 0.0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """H⁻¹ for the three kinds of curvature, as a dense (P, P) matrix.

    Parameters
    ----------
    kind : ``"identity"`` (H = I, magnitude pruning; ``size`` gives P), ``"diagonal"`` (OBD:
        ``H`` is the (P,) diagonal h, or a (P, P) matrix whose diagonal is used), or
        ``"full"`` (OBS: ``H`` is the (P, P) matrix).
    damping : λ ≥ 0 added to the diagonal (H + λI); with ``"identity"`` it only rescales
        H⁻¹, which leaves saliency rankings and updates unchanged.

    Raises
    ------
    ValueError if the damped curvature is not positive definite.
    """
    damping = check_positive(damping, "damping", strict=False)
    if kind == "identity":
        if size is None:
            if H is None:
                raise ValueError("inverse_curvature('identity') needs size= (the number of weights P).")
            size = H.shape[0]
        size = check_positive_int(size, "size")
        return torch.eye(size, dtype=dtype) / (1.0 + damping)
    if H is None:
        raise ValueError(f"inverse_curvature({kind!r}) needs H.")
    check_real(H, "H")
    if not isinstance(H, torch.Tensor):
        H = torch.as_tensor(H, dtype=dtype)
    if not torch.isfinite(H).all():
        raise ValueError("H contains NaN or infinity; check the model and the data.")
    if kind == "diagonal":
        h = H if H.ndim == 1 else torch.diagonal(H)
        h = h.to(dtype) + damping
        if not bool((h > 0).all()):
            bad = int(torch.argmin(h))
            raise ValueError(f"the diagonal curvature must be > 0 after damping; h[{bad}] + damping = "
                             f"{float(h[bad]):.3e}. Increase damping or use a PSD curvature (Gauss–Newton).")
        return torch.diag(1.0 / h)
    if kind == "full":
        return damped_inverse(H.to(dtype), damping)
    raise ValueError(f"kind must be 'identity', 'diagonal' or 'full'; got {kind!r}.")


def obs_saliency(w: torch.Tensor, H_inv: torch.Tensor) -> torch.Tensor:
    """L_q = ½ w_q² / [H⁻¹]_qq for every q (eq. (8)); (P,) tensor.

    Entries whose [H⁻¹]_qq is 0 (weights already removed by a downdate) get +inf.
    """
    _check_pair(w, H_inv)
    d = torch.diagonal(H_inv)
    saliency = 0.5 * w**2 / d
    return torch.where(d > 0, saliency, torch.full_like(saliency, float("inf")))


def obs_update(w: torch.Tensor, H_inv: torch.Tensor, q: int) -> torch.Tensor:
    """δw = −(w_q / [H⁻¹]_qq) H⁻¹ e_q (eq. (7)); (P,) tensor with δw_q = −w_q."""
    _check_pair(w, H_inv)
    try:
        if isinstance(q, bool):
            raise TypeError
        q = operator.index(q)
    except TypeError:
        raise TypeError(f"q must be an integer index into w; got {q!r}.") from None
    if not 0 <= q < w.shape[0]:
        raise ValueError(f"q must index w (0 ≤ q < {w.shape[0]}); got {q}.")
    d = H_inv[q, q]
    if not d > 0:
        raise ValueError(f"H_inv[{q}, {q}] must be > 0; got {float(d):.3e} (weight already removed?).")
    return -(w[q] / d) * H_inv[:, q]


def obs_multi_update(w: torch.Tensor, H_inv: torch.Tensor,
                     Q: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, float]:
    """Remove the set Q jointly: δw = −H⁻¹E_Q (E_QᵀH⁻¹E_Q)⁻¹ w_Q and L_Q = ½ w_Qᵀ(E_QᵀH⁻¹E_Q)⁻¹w_Q.

    This is (7)–(8) with the k constraints δw_Q = −w_Q at once (one Lagrange multiplier
    per removed weight); for |Q| = 1 it is (7)–(8). Returns ``(δw, L_Q)``.
    """
    _check_pair(w, H_inv)
    Q_in = torch.as_tensor(Q)
    if Q_in.numel() == 0:
        raise ValueError("Q is empty; pass at least one index.")
    if Q_in.is_floating_point() or Q_in.is_complex() or Q_in.dtype == torch.bool:
        raise TypeError(f"Q must hold integer indices into w; got dtype {Q_in.dtype}.")
    Q = Q_in.to(torch.long).reshape(-1)                                          # (k,)
    if Q.numel() == 0:
        raise ValueError("Q is empty; pass at least one index.")
    if int(Q.min()) < 0 or int(Q.max()) >= w.shape[0] or Q.unique().numel() != Q.numel():
        raise ValueError(f"Q must hold distinct indices into w (0 … {w.shape[0] - 1}); got {Q.tolist()}.")
    S = H_inv[Q][:, Q]                                                           # (k, k) = E_QᵀH⁻¹E_Q
    L, info = torch.linalg.cholesky_ex(S)
    if int(info) != 0:
        raise ValueError("E_QᵀH⁻¹E_Q is not positive definite (a weight of Q was already removed, or H⁻¹ "
                         "is not positive definite); check Q and the damping.")
    lam = torch.cholesky_solve(w[Q].unsqueeze(1), L).squeeze(1)                  # (k,) = S⁻¹ w_Q
    delta_w = -H_inv[:, Q] @ lam
    return delta_w, float(0.5 * w[Q] @ lam)
