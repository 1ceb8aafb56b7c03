"""The Gauss–Newton matrix G = (1/N) Σₙ Jₙᵀ Λₙ Jₙ as a dense (P, P) matrix.

The positive semi-definite part of the Hessian for a convex per-sample loss ℓ(z, y) of the
network output z = f(x; θ) (Schraudolph 2002): ∇²L = G + Σₙ Σ_c ∂ℓₙ/∂z_c ∇²f_c(xₙ), and G
drops the second term. OBS uses it as H (:mod:`curvlab.prune.curvatures`); products Gv
without forming G are :class:`curvlab.curvature.HessianOperator` with ``gauss_newton=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, hessian, jacrev, vmap

from .fisher import per_sample_grads
from .objective import Objective, explain_model_errors

__all__ = ["cross_entropy_gauss_newton", "gauss_newton_matrix", "is_plain_cross_entropy"]


def gauss_newton_matrix(model: nn.Module, loss_fn, X: Tensor, y: Tensor, params: Sequence[Tensor], *,
                        chunk: int = 128) -> Tensor:
    """G = (1/N) Σₙ Jₙᵀ Λₙ Jₙ as a dense (P, P) matrix.

    Jₙ = ∂f(xₙ)/∂θ (C, P) is the per-sample Jacobian of the network output and
    Λₙ = ∂²ℓ(z, yₙ)/∂z² (C, C) the Hessian of the per-sample loss in the output z (for
    softmax cross-entropy Λₙ = diag(p) − ppᵀ). Samples are processed ``chunk`` at a time so
    memory stays at chunk·C·P numbers. For plain softmax cross-entropy
    :func:`cross_entropy_gauss_newton` is cheaper (no Jacobians).
    """
    # checks params, finite data, and that (X, y) fit the model and loss (one forward pass)
    Objective(model, loss_fn, (X, y), params=list(params))
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


def is_plain_cross_entropy(loss_fn) -> bool:
    """True for ``nn.CrossEntropyLoss()`` with mean reduction, no class weights, no smoothing."""
    return (isinstance(loss_fn, nn.CrossEntropyLoss) and loss_fn.reduction == "mean" and loss_fn.weight is None
            and loss_fn.label_smoothing == 0.0)


def cross_entropy_gauss_newton(model: nn.Module, loss_fn, X: Tensor, params: Sequence[Tensor], *,
                                diagonal_only: bool = False) -> Tensor:
    """G for softmax cross-entropy from per-label gradients, without Jacobians.

    With p = softmax(z), Λ = diag(p) − ppᵀ = Σ_c p_c (p − e_c)(p − e_c)ᵀ and the gradient of
    the loss of sample n with label c is g_nc = Jₙᵀ(pₙ − e_c), so

        G = (1/N) Σₙ Σ_c p_nc g_nc g_ncᵀ,     diag G = (1/N) Σₙ Σ_c p_nc g_nc²,

    C per-sample-gradient passes (cheap) and, for the full matrix, C products of (P, N) by
    (N, P). The diagonal alone (OBD) costs only the C passes.
    """
    with torch.no_grad(), explain_model_errors("model(X)", f"X of shape {tuple(X.shape)} and dtype {X.dtype}"):
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
