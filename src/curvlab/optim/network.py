"""Gradient descent and damped Newton on a torch objective, in the notes' form (§5).

For L(θ) = Σ_b (n_b/N) loss_fn(f(X_b; θ), y_b) over the chosen parameters θ ∈ ℝᴾ:

* gradient descent   θ⁽ᵗ⁺¹⁾ = θ⁽ᵗ⁾ − ε ∇L(θ⁽ᵗ⁾)                                   (34)
* damped Newton      θ⁽ᵗ⁺¹⁾ = θ⁽ᵗ⁾ − ε (H + μI)⁻¹ ∇L(θ⁽ᵗ⁾)                          (37)

with H = ∇²L(θ⁽ᵗ⁾) (or the Gauss–Newton G, positive semi-definite) and damping μ ≥ 0. On a
quadratic these are exactly :class:`~curvlab.optim.quadratic.Quadratic`'s iterates: GD
contracts direction i by (1 − ελ_i) per step and Newton contracts every direction by
(1 − ε). The Newton system is solved densely (Cholesky of H + μI) when P is small, and by
conjugate gradients on Hessian-vector products otherwise (Newton–CG, "truncated Newton",
Nocedal & Wright, Numerical Optimization, Alg. 7.1): CG stops at the first direction of
non-positive curvature, so a non-convex step still descends.

Both run on the model in place (the caller's train/eval mode is kept) and return a
:class:`NetworkTrajectory` — the same record as ``Quadratic``'s. Divergence (a non-finite
loss or one that grows past ``divergence_factor`` times its start) stops the run, leaves the
model at the last finite iterate and sets ``diverged=True``: never NaN weights. A run that
ends with a higher loss than it started (e.g. a full Newton step that overshoots) is also
reported as ``diverged=True``; both cases warn (``RuntimeWarning``). Any exception raised
during the run (by the caller's loss, say) restores the parameters' starting values in place
before it propagates.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .._validation import check_positive, check_positive_int
from ..curvature.data import Batches, Data
from ..curvature.hvp import HessianOperator
from ..curvature.objective import LossFn, Objective
from ..curvature.params import unflatten
from .trajectory import Trajectory

__all__ = ["NetworkTrajectory", "conjugate_gradient", "gradient_descent", "newton"]

log = logging.getLogger(__name__)

SOLVERS = ("auto", "dense", "cg")
DENSE_LIMIT = 2_000  # above this many parameters, "auto" uses Newton–CG


@dataclass(frozen=True, repr=False)
class NetworkTrajectory(Trajectory):
    """A :class:`~curvlab.optim.trajectory.Trajectory` of a network, plus curvature records.

    Extra attributes
    ----------------
    num_matvecs : Hessian-vector products used (Newton–CG; 0 for GD and dense Newton).
    sharpness_steps, sharpness : steps at which λ_max was measured and its values
        (filled when a :class:`~curvlab.curvature.stability.SharpnessTracker` was passed).
    """

    num_matvecs: int = 0
    sharpness_steps: tuple[int, ...] = field(default=())
    sharpness: tuple[float, ...] = field(default=())

    def _repr_extra(self) -> str:
        extra = f", num_matvecs={self.num_matvecs}" if self.num_matvecs else ""
        if self.sharpness:
            extra += f", sharpness measured {len(self.sharpness)}× (last {self.sharpness[-1]:.6g})"
        return extra


def _set_theta(obj: Objective, theta: Tensor) -> None:
    with torch.no_grad():
        for p, t in zip(obj.params, unflatten(theta, obj.params)):
            p.copy_(t)  # in place: bumps the version counter, so cached Hessians refresh


def _run(model, loss_fn, data, params, eps, steps, divergence_factor, keep_iterates,
         method, direction: Callable[[Objective, Tensor], Tensor], tracker, progress) -> NetworkTrajectory:
    eps = check_positive(eps, "eps")
    steps = check_positive_int(steps, "steps", minimum=0)
    divergence_factor = check_positive(divergence_factor, "divergence_factor")
    obj = Objective(model, loss_fn, data, params=params)
    theta = obj.theta()
    start = theta.clone()
    iterates = [theta.cpu().numpy().copy()]
    loss, g = obj.loss_and_gradient()
    if not math.isfinite(loss):
        raise ValueError(f"the loss at the starting parameters is {loss}; start from finite weights.")
    losses = [loss]
    limit = divergence_factor * max(abs(loss), 1e-300)
    diverged = False
    bar = tqdm(range(steps), desc=method, disable=None if progress else True, leave=False)
    try:
        for t in bar:
            if tracker is not None:
                tracker(model, t)
            new = theta - eps * direction(obj, g)
            if not torch.isfinite(new).all():
                diverged = True
                break
            _set_theta(obj, new)
            new_loss, new_g = obj.loss_and_gradient()
            if not math.isfinite(new_loss) or new_loss > limit or not torch.isfinite(new_g).all():
                _set_theta(obj, theta)  # back to the last finite iterate
                diverged = True
                break
            theta, loss, g = new, new_loss, new_g
            losses.append(loss)
            if keep_iterates:
                iterates.append(theta.cpu().numpy().copy())
    except Exception:
        _set_theta(obj, start)  # a failure leaves the model as it was
        raise
    finally:
        bar.close()
    if diverged:
        log.info("%s with eps=%g diverged after %d steps", method, eps, len(losses) - 1)
        warnings.warn(f"{method} with eps={eps:g} diverged after {len(losses) - 1} steps (the loss became "
                      f"non-finite or grew past {divergence_factor:g}× its start); the model holds the last "
                      "finite iterate. Lower eps (the stable bound is 2/λ_max, see max_stable_lr).",
                      RuntimeWarning, stacklevel=3)
    elif losses[-1] > losses[0]:
        diverged = True
        warnings.warn(f"{method} with eps={eps:g}: the loss rose from {losses[0]:.6g} to {losses[-1]:.6g} over "
                      f"{len(losses) - 1} steps; reported as diverged. Lower eps"
                      + (" or add damping." if method.startswith("newton") else "."),
                      RuntimeWarning, stacklevel=3)
    if not keep_iterates and len(losses) > 1:
        iterates.append(theta.cpu().numpy().copy())
    track = tracker if tracker is not None else None
    return NetworkTrajectory(
        method=method, step_size=eps, iterates=np.stack(iterates), losses=np.array(losses),
        diverged=diverged, num_matvecs=getattr(direction, "num_matvecs", 0),
        sharpness_steps=tuple(track.steps) if track else (),
        sharpness=tuple(track.sharpness) if track else (),
    )


def gradient_descent(model: nn.Module, loss_fn: LossFn, data: Data | Batches, eps: float, steps: int, *,
                     params: Iterable[Tensor] | None = None, divergence_factor: float = 1e6,
                     keep_iterates: bool = True, tracker=None, progress: bool = True) -> NetworkTrajectory:
    """Train ``model`` in place by full-batch gradient descent θ ← θ − ε∇L(θ), eq. (34), for ``steps`` steps.

    The model's parameters are updated in place and end at the last iterate (the last finite
    one when the run diverges); on an exception they are restored to their starting values.

    Parameters
    ----------
    model, loss_fn, data, params : the objective (see :class:`~curvlab.curvature.hvp.HessianOperator`).
    eps : the step size ε > 0 (stable on the quadratic model iff ε < 2/λ_max, eq. (36)).
    steps : number of steps.
    divergence_factor : stop and report divergence when L exceeds this multiple of L(θ⁽⁰⁾).
    keep_iterates : record every θ⁽ᵗ⁾ (T + 1 rows of P); when False only the first and last.
    tracker : an optional :class:`~curvlab.curvature.stability.SharpnessTracker`, called
        before each step.

    Example
    -------
    >>> traj = gradient_descent(model, nn.MSELoss(), (X, Y), eps=0.1, steps=100)  # doctest: +SKIP
    >>> traj.losses[-1], traj.diverged                                              # doctest: +SKIP
    """
    return _run(model, loss_fn, data, params, eps, steps, divergence_factor, keep_iterates,
                "gd", lambda obj, g: g, tracker, progress)


def conjugate_gradient(matvec: Callable[[Tensor], Tensor], b: Tensor, *, tol: float = 1e-8,
                       max_iter: int | None = None) -> tuple[Tensor, int, bool]:
    """Solve A x = b for symmetric A by CG, stopping at non-positive curvature.

    Returns (x, number of products, hit_negative_curvature). On a direction p with
    pᵀAp ≤ 0 the iterate so far is returned (b itself if it is the first), so that −x is
    still a descent direction when b is a gradient (Nocedal & Wright, Alg. 7.1).
    """
    max_iter = b.numel() if max_iter is None else max_iter
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    b_norm = math.sqrt(rr)
    n = 0
    if b_norm == 0:
        return x, 0, False
    for n in range(1, max_iter + 1):
        Ap = matvec(p)
        curvature = float(p @ Ap)
        if curvature <= 1e-14 * float(p @ p) * max(b_norm, 1.0):
            return (b.clone() if n == 1 else x), n, True
        a = rr / curvature
        x = x + a * p
        r = r - a * Ap
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= tol * b_norm:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, n, False


class _NewtonDirection:
    """δ = (H + μI)⁻¹ g at the current θ, dense or by CG; counts the products it used."""

    def __init__(self, loss_fn, data, params, damping, solver, gauss_newton, cg_tol, cg_max_iter):
        self.loss_fn, self.data, self.params = loss_fn, data, params
        self.damping, self.solver, self.gauss_newton = damping, solver, gauss_newton
        self.cg_tol, self.cg_max_iter = cg_tol, cg_max_iter
        self.num_matvecs = 0
        self.negative_curvature_steps = 0

    def __call__(self, obj: Objective, g: Tensor) -> Tensor:
        H = HessianOperator(obj.model, obj.loss_fn, obj.batches, params=obj.params,
                            gauss_newton=self.gauss_newton)
        mu = self.damping
        solver = self.solver
        if solver == "auto":
            solver = "dense" if obj.dim <= DENSE_LIMIT else "cg"
        if solver == "dense":
            eye = torch.eye(obj.dim, dtype=obj.dtype, device=obj.device)
            A = torch.stack([H.matvec(e) for e in eye]) if self.gauss_newton else None
            if A is None:
                from ..curvature.dense import dense_hessian
                A = dense_hessian(obj.model, obj.loss_fn, obj.batches, params=obj.params)
            A = (A + A.T) / 2 + mu * eye
            L, info = torch.linalg.cholesky_ex(A)
            if int(info) != 0:
                lam_min = float(torch.linalg.eigvalsh(A)[0])
                raise ValueError(
                    f"Newton's step needs H + μI positive definite; its smallest eigenvalue is "
                    f"{lam_min:.3e} (μ = {mu:g}). Raise damping above {max(-lam_min, 0) + mu:.3e}, "
                    "use gauss_newton=True, or solver='cg' (which stops at negative curvature)."
                )
            return torch.cholesky_solve(g[:, None], L)[:, 0]
        delta, n, negative = conjugate_gradient(lambda v: H.matvec(v) + mu * v, g,
                                                tol=self.cg_tol, max_iter=self.cg_max_iter)
        self.num_matvecs += n
        self.negative_curvature_steps += int(negative)
        return delta


def newton(model: nn.Module, loss_fn: LossFn, data: Data | Batches, eps: float = 1.0, steps: int = 1, *,
           damping: float = 0.0, solver: str = "auto", gauss_newton: bool = False,
           params: Iterable[Tensor] | None = None, cg_tol: float = 1e-8, cg_max_iter: int | None = None,
           divergence_factor: float = 1e6, keep_iterates: bool = True, tracker=None,
           progress: bool = True) -> NetworkTrajectory:
    """Train ``model`` in place by damped Newton θ ← θ − ε (H + μI)⁻¹ ∇L(θ), eq. (37), for ``steps`` steps.

    Like :func:`gradient_descent`, it updates the model's parameters in place.

    Parameters
    ----------
    eps : the step size ε > 0; ε = 1 is the full Newton step (exact in one step on a quadratic).
    damping : μ ≥ 0 added to H (Levenberg–Marquardt); needed where H is singular or indefinite.
    solver : ``"dense"`` (Cholesky of the dense Hessian), ``"cg"`` (Newton–CG on
        Hessian-vector products) or ``"auto"`` (dense when P ≤ 2000).
    gauss_newton : use the Gauss–Newton matrix G (positive semi-definite) instead of H.
    cg_tol, cg_max_iter : CG stops at ‖r‖ ≤ cg_tol·‖∇L‖ or after cg_max_iter products.
    Others as for :func:`gradient_descent`.

    Example
    -------
    >>> traj = newton(model, nn.MSELoss(), (X, Y), eps=1.0, steps=3, damping=1e-3)   # doctest: +SKIP
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}; got {solver!r}.")
    damping = check_positive(damping, "damping", strict=False)
    cg_tol = check_positive(cg_tol, "cg_tol")
    if cg_max_iter is not None:
        cg_max_iter = check_positive_int(cg_max_iter, "cg_max_iter")
    direction = _NewtonDirection(loss_fn, data, params, damping, solver, gauss_newton, cg_tol, cg_max_iter)
    method = "newton-cg" if solver == "cg" else "newton"
    return _run(model, loss_fn, data, params, eps, steps, divergence_factor, keep_iterates,
                method, direction, tracker, progress)
