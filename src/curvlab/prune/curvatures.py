"""The curvature H that OBS uses, for a model, a loss and calibration data.

Every choice below is a (P, P) matrix over the flat vector θ of the chosen parameters
(the order of :func:`curvlab.curvature.flatten`), turned into H⁻¹ by
:func:`inverse_for`. Damping is *relative*: H + λ·mean(diag H)·I, so one value of
``damping`` means the same across models and data scales.

=================  ==========================================================  ==============
name               H                                                           method
=================  ==========================================================  ==============
``magnitude``      I                                                           eqs. (9)–(10)
``obd``            diag of the Gauss–Newton matrix G                           LeCun et al. 1990
``fisher``         empirical Fisher F = (1/N) Σ gₙgₙᵀ  (inverted by Woodbury)  Hassibi & Stork 1993,
                                                                               Singh & Alistarh 2020
``gauss_newton``   G = (1/N) Σ Jₙᵀ Λₙ Jₙ, Λₙ = ∂²ℓₙ/∂z² (PSD for convex ℓ)    Schraudolph 2002
``hessian``        the exact Hessian ∇²L (indefinite in general)               Hassibi & Stork 1993
``abs_hessian``    |H| = Q|Λ|Qᵀ: the exact Hessian with its eigenvalues made    Dauphin et al. 2014
                   positive (the nearest PSD stand-in that keeps H's eigenbasis)
=================  ==========================================================  ==============

The exact Hessian of a trained network is typically indefinite (§1 experiment: about a
third of the eigenvalues of the digits MLP are negative); OBS on it then needs damping
large enough to swamp the negative part, at which point it behaves like magnitude pruning.
The PSD stand-ins avoid that.

Data-parallel: under a process group ``X, y`` is each rank's shard and every curvature is
that of all the ranks' data together — G and diag G summed as Σ_r N_r·C_r / N (one
all_reduce of P² or P numbers), the exact Hessian through the distributed
:func:`~curvlab.curvature.dense_hessian`, and the Fisher's per-sample gradients gathered
in rank order, (N, P) on every rank — so every rank makes the same pruning decision, the
one a single process makes on the concatenated data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from .. import distributed as cd
from .._validation import check_positive
from ..curvature import dense_hessian, per_sample_grads
from ..curvature.gauss_newton import cross_entropy_gauss_newton, gauss_newton_matrix, is_plain_cross_entropy
from ..curvature.inverse import damped_inverse, woodbury_fisher_inverse

__all__ = ["CURVATURES", "CurvatureName", "block_inverse_for", "curvature_matrix", "gauss_newton_matrix", "inverse_for"]

CurvatureName = Literal["magnitude", "obd", "fisher", "gauss_newton", "hessian", "abs_hessian"]
CURVATURES: tuple[str, ...] = ("magnitude", "obd", "fisher", "gauss_newton", "hessian", "abs_hessian")


def curvature_matrix(name: CurvatureName, model: nn.Module, loss_fn, X: Tensor, y: Tensor,
                     params: Sequence[Tensor]) -> Tensor | None:
    """The undamped (P, P) curvature named ``name`` (None for ``magnitude``; for ``fisher``
    the (N, P) per-sample gradients G, inverted later by Woodbury without forming F).

    Under a process group, of all the ranks' data (module docstring)."""
    if cd.world_size() == 1 or name in ("magnitude", "hessian", "abs_hessian"):  # dense_hessian: already global
        return _local_curvature_matrix(name, model, loss_fn, X, y, params)
    if name == "fisher":
        return cd.all_gather_cat(_local_curvature_matrix(name, model, loss_fn, X, y, params))  # (N, P), rank order
    n = X.shape[0]
    N = cd.global_count(n)
    P = sum(p.numel() for p in params)
    like = torch.zeros((P,) if name == "obd" else (P, P), dtype=torch.float64, device=params[0].device)
    local = lambda: _local_curvature_matrix(name, model, loss_fn, X, y, params).to(torch.float64) * n  # noqa: E731
    return cd.sum_or_raise(local, like=like, what=f"the {name} curvature") / N         # Σ_r N_r C_r / N


def _local_curvature_matrix(name: CurvatureName, model: nn.Module, loss_fn, X: Tensor, y: Tensor,
                            params: Sequence[Tensor]) -> Tensor | None:
    if name == "magnitude":
        return None
    if name == "obd":
        if is_plain_cross_entropy(loss_fn):
            return cross_entropy_gauss_newton(model, loss_fn, X, params, diagonal_only=True)   # (P,)
        return torch.diagonal(gauss_newton_matrix(model, loss_fn, X, y, params)).clone()   # (P,)
    if name == "gauss_newton":
        if is_plain_cross_entropy(loss_fn):
            return cross_entropy_gauss_newton(model, loss_fn, X, params)
        return gauss_newton_matrix(model, loss_fn, X, y, params)
    if name == "fisher":
        return per_sample_grads(model, loss_fn, (X, y), params=list(params))         # (N, P)
    if name in ("hessian", "abs_hessian"):
        H = dense_hessian(model, loss_fn, (X, y), params=list(params))
        if name == "abs_hessian":
            lam, Q = torch.linalg.eigh(H)                                              # H = Q diag(λ) Qᵀ
            H = (Q * lam.abs()) @ Q.T                                                   # |H| = Q |Λ| Qᵀ
            H = (H + H.T) / 2
        return H
    raise ValueError(f"curvature must be one of {CURVATURES}; got {name!r}.")


def inverse_for(name: CurvatureName, C: Tensor | None, P: int, damping: float) -> Tensor:
    """H⁻¹ for the curvature ``name`` from :func:`curvature_matrix`'s output, with relative
    damping λ = ``damping`` · mean(diag H): (P, P), or its diagonal (P,) for ``magnitude``
    and ``obd`` (which :func:`~curvlab.prune.global_obs.global_obs` handles by sorting)."""
    damping = check_positive(damping, "damping", strict=False)
    if name == "magnitude":
        return torch.ones(P, dtype=torch.float64)                                        # diag(I)
    if name == "obd":
        h = C.to(torch.float64)
        h = h + damping * float(h.mean())
        if not bool((h > 0).all()):
            raise ValueError("the OBD diagonal has zero entries (dead units); use damping > 0.")
        return 1.0 / h                                                                   # diag(H⁻¹), (P,)
    if name == "fisher":
        Gs = C.to(torch.float64)                                                        # (N, P)
        mean_diag = float((Gs**2).sum() / (Gs.shape[0] * Gs.shape[1]))
        if damping <= 0:
            raise ValueError("the empirical Fisher from N < P samples is singular; use damping > 0.")
        return woodbury_fisher_inverse(Gs, damping * mean_diag)
    H = C.to(torch.float64)
    scale = float(torch.diagonal(H).mean().abs())
    try:
        return damped_inverse(H, damping * scale)
    except ValueError:
        lam_min = float(torch.linalg.eigvalsh(H)[0])
        raise ValueError(
            f"the {name} curvature is not positive definite after damping (smallest eigenvalue "
            f"{lam_min:.3e}, mean diagonal {scale:.3e}); use relative damping > {max(-lam_min, 0) / scale:.3g}, "
            "or a positive semi-definite curvature ('gauss_newton', 'fisher', 'abs_hessian')."
        ) from None


def block_inverse_for(name: CurvatureName, C: Tensor | None, blocks: Sequence[Tensor], damping: float) -> Tensor:
    """H⁻¹ under the block-diagonal approximation (WoodFisher, Singh & Alistarh 2020): the
    curvature between parameters of different blocks is taken as zero, so
    H⁻¹ = blockdiag(H_B⁻¹) and each block is inverted (and damped, relative to its own mean
    diagonal) alone. ``blocks`` are index tensors partitioning 0 … P−1. Returns (P, P), or
    (P,) for the diagonal curvatures."""
    P = int(sum(int(b.numel()) for b in blocks))
    if name in ("magnitude", "obd"):
        return inverse_for(name, C, P, damping)
    out = torch.zeros(P, P, dtype=torch.float64)
    for k, b in enumerate(blocks):
        C_b = C[:, b] if name == "fisher" else C[b][:, b]
        try:
            out[b.unsqueeze(1), b.unsqueeze(0)] = inverse_for(name, C_b, b.numel(), damping)
        except ValueError as exc:
            raise ValueError(f"block {k}: {exc}") from None
    return out
