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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, hessian, jacrev, vmap

from .._validation import check_positive
from ..curvature import dense_hessian, per_sample_grads
from ..curvature.inverse import damped_inverse, woodbury_fisher_inverse

__all__ = ["CURVATURES", "CurvatureName", "block_inverse_for", "curvature_matrix", "gauss_newton_matrix", "inverse_for"]

CurvatureName = Literal["magnitude", "obd", "fisher", "gauss_newton", "hessian", "abs_hessian"]
CURVATURES: tuple[str, ...] = ("magnitude", "obd", "fisher", "gauss_newton", "hessian", "abs_hessian")


def gauss_newton_matrix(model: nn.Module, loss_fn, X: Tensor, y: Tensor, params: Sequence[Tensor], *,
                        chunk: int = 128) -> Tensor:
    """G = (1/N) Σₙ Jₙᵀ Λₙ Jₙ as a dense (P, P) matrix.

    Jₙ = ∂f(xₙ)/∂θ (C, P) is the per-sample Jacobian of the network output and
    Λₙ = ∂²ℓ(z, yₙ)/∂z² (C, C) the Hessian of the per-sample loss in the output z (for
    softmax cross-entropy Λₙ = diag(p) − ppᵀ). Samples are processed ``chunk`` at a time so
    memory stays at chunk·C·P numbers. (Not yet in :mod:`curvlab.curvature`, which offers
    Gauss–Newton products; this is the dense form OBS needs.)
    """
    names, like = _names_of(model, params)
    theta = torch.cat([p.detach().reshape(-1) for p in like])                       # (P,)

    def f_one(th: Tensor, x: Tensor) -> Tensor:
        return functional_call(model, _as_dict(th, names, like), (x.unsqueeze(0),), strict=False).squeeze(0)

    def loss_one(z: Tensor, t: Tensor) -> Tensor:
        return loss_fn(z.unsqueeze(0), t.unsqueeze(0))

    P, N = theta.numel(), X.shape[0]
    G = torch.zeros(P, P, dtype=theta.dtype)
    jac = vmap(jacrev(f_one), in_dims=(None, 0))
    lam = vmap(hessian(loss_one))
    with torch.no_grad():
        for start in range(0, N, chunk):
            Xb, yb = X[start:start + chunk], y[start:start + chunk]
            J = jac(theta, Xb)                                                      # (b, C, P)
            with torch.enable_grad():
                z = vmap(f_one, in_dims=(None, 0))(theta, Xb)                       # (b, C)
            Lam = lam(z.detach(), yb)                                               # (b, C, C)
            LJ = torch.einsum("bcd,bdp->bcp", Lam, J)                                # (b, C, P)
            G += J.reshape(-1, P).T @ LJ.reshape(-1, P)                             # Σ Jᵀ Λ J
    G /= N
    return (G + G.T) / 2


def curvature_matrix(name: CurvatureName, model: nn.Module, loss_fn, X: Tensor, y: Tensor,
                     params: Sequence[Tensor]) -> Tensor | None:
    """The undamped (P, P) curvature named ``name`` (None for ``magnitude``; for ``fisher``
    the (N, P) per-sample gradients G, inverted later by Woodbury without forming F)."""
    if name == "magnitude":
        return None
    if name == "obd":
        if _is_plain_cross_entropy(loss_fn):
            return _cross_entropy_gauss_newton(model, loss_fn, X, params, diagonal_only=True)   # (P,)
        return torch.diagonal(gauss_newton_matrix(model, loss_fn, X, y, params)).clone()   # (P,)
    if name == "gauss_newton":
        if _is_plain_cross_entropy(loss_fn):
            return _cross_entropy_gauss_newton(model, loss_fn, X, params)
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


def _is_plain_cross_entropy(loss_fn) -> bool:
    return (isinstance(loss_fn, nn.CrossEntropyLoss) and loss_fn.reduction == "mean" and loss_fn.weight is None
            and loss_fn.label_smoothing == 0.0)


def _cross_entropy_gauss_newton(model: nn.Module, loss_fn, X: Tensor, params: Sequence[Tensor], *,
                                diagonal_only: bool = False) -> Tensor:
    """G for softmax cross-entropy from per-label gradients, without Jacobians.

    With p = softmax(z), Λ = diag(p) − ppᵀ = Σ_c p_c (p − e_c)(p − e_c)ᵀ and the gradient of
    the loss of sample n with label c is g_nc = Jₙᵀ(pₙ − e_c), so

        G = (1/N) Σₙ Σ_c p_nc g_nc g_ncᵀ,     diag G = (1/N) Σₙ Σ_c p_nc g_nc²,

    C per-sample-gradient passes (cheap) and, for the full matrix, C products of (P, N) by
    (N, P). The diagonal alone (OBD) costs only the C passes.
    """
    with torch.no_grad():
        logits = model(X)
    prob = torch.softmax(logits.to(torch.float64), dim=1)                              # (N, C)
    N, C = prob.shape
    acc = None
    for c in range(C):
        labels = torch.full((N,), c, dtype=torch.long, device=X.device)
        G_c = per_sample_grads(model, loss_fn, (X, labels), params=list(params)).to(torch.float64)  # (N, P)
        weighted = G_c * (prob[:, c:c + 1] / N)
        term = (weighted * G_c).sum(0) if diagonal_only else weighted.T @ G_c
        acc = term if acc is None else acc + term
    return acc if diagonal_only else (acc + acc.T) / 2


def _names_of(model: nn.Module, params: Sequence[Tensor]) -> tuple[list[str], list[Tensor]]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for p in params], list(params)


def _as_dict(theta: Tensor, names: list[str], like: list[Tensor]) -> dict[str, Tensor]:
    out, start = {}, 0
    for n, t in zip(names, like):
        out[n] = theta[start:start + t.numel()].view(t.shape)                            # (numel,) -> shape
        start += t.numel()
    return out
