"""The largest stable learning rate 2/λ_max, and the sharpness λ_max tracked during training.

On the quadratic model L(θ + δ) ≈ L(θ) + gᵀδ + ½ δᵀHδ (eq. (1)), gradient descent with step
ε multiplies the error along eigenvector i of H by (1 − ελ_i) each step (eq. (34)), so it
converges iff |1 − ελ_i| < 1 for every i with λ_i > 0, i.e.

    0 < ε < 2/λ_max                                                           (36)

For a network H changes as θ moves, so 2/λ_max(θ) is a *local* bound: Cohen et al. (2021,
"Gradient descent on neural networks typically occurs at the edge of stability") show that
full-batch GD with MSE drives the sharpness λ_max up to ≈ 2/η and keeps it there while the
loss still falls (non-monotonically). :class:`SharpnessTracker` measures that.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .._validation import check_positive, check_positive_int
from .data import Batches, Data
from .hvp import HessianOperator
from .lanczos import lanczos
from .objective import LossFn

__all__ = ["SharpnessTracker", "StableLR", "max_stable_lr", "sharpness"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StableLR:
    """2/λ_max with its accuracy.

    Attributes
    ----------
    lr : 2/λ_max (``inf`` when H has no positive eigenvalue).
    lam_max : the top eigenvalue (a Lanczos Ritz value, so never above the true λ_max).
    lam_max_error : estimated absolute error of ``lam_max``; λ_max ∈ [lam_max, lam_max + error].
    lr_interval : (2/(lam_max + error), 2/lam_max), the interval holding the true 2/λ_max.
    num_matvecs : Hessian-vector products used.
    converged : whether the tolerance was met.
    """

    lr: float
    lam_max: float
    lam_max_error: float
    lr_interval: tuple[float, float]
    num_matvecs: int
    converged: bool


def max_stable_lr(model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                  params: Iterable[Tensor] | None = None, tol: float = 1e-4,
                  gauss_newton: bool = False, max_matvecs: int | None = None,
                  seed: int | torch.Generator | None = 0, bound: str = "residual") -> StableLR:
    """The largest stable gradient-descent step 2/λ_max of the full-data loss, eq. (36).

    λ_max is found by Lanczos on Hessian-vector products and stopped as soon as its
    a-posteriori error bound certifies relative accuracy ``tol``: λ_max ∈ [θ, θ + err] with
    err ≤ tol·θ (``bound`` as in :func:`~curvlab.curvature.lanczos.lanczos`; the default
    residual bound stays valid when the top eigenvalues are close, as after training).

    Example
    -------
    >>> res = max_stable_lr(model, nn.MSELoss(), (X, Y))       # doctest: +SKIP
    >>> res.lr, res.lr_interval, res.num_matvecs               # doctest: +SKIP
    """
    tol = check_positive(tol, "tol")
    H = HessianOperator(model, loss_fn, data, params=params, gauss_newton=gauss_newton)
    res = lanczos(H, k=1, which="LA", tol=tol, max_matvecs=max_matvecs, seed=seed, bound=bound)
    lam, err = res.lam_max, float(res.errors[0])
    if lam <= 0:
        return StableLR(math.inf, lam, err, (2 / (lam + err) if lam + err > 0 else math.inf, math.inf),
                        res.num_matvecs, res.converged)
    return StableLR(2.0 / lam, lam, err, (2.0 / (lam + err), 2.0 / lam), res.num_matvecs, res.converged)


def sharpness(model: nn.Module, loss_fn: LossFn, data: Data | Batches, *, tol: float = 1e-3,
              seed: int = 0, params: Iterable[Tensor] | None = None) -> float:
    """λ_max of the full-data Hessian (shorthand for :func:`max_stable_lr` ``.lam_max``)."""
    return max_stable_lr(model, loss_fn, data, params=params, tol=tol, seed=seed).lam_max


@dataclass
class SharpnessTracker:
    """A training callback recording λ_max every ``every`` steps.

    Call it as ``tracker(model, step)`` in the training loop (before or after the update —
    it measures the current weights). Each measurement warm-starts Lanczos from the previous
    top eigenvector, which usually cuts the products needed to a handful. The model's mode
    is not changed.

    Attributes (filled as training goes)
    ----------
    steps, sharpness, errors, matvecs : lists, one entry per measurement.

    Example
    -------
    >>> tracker = SharpnessTracker(nn.MSELoss(), (X, Y), every=10)           # doctest: +SKIP
    >>> for t in range(steps):                                                # doctest: +SKIP
    ...     tracker(model, t); loss = ...; loss.backward(); opt.step()
    >>> tracker.sharpness                                                     # doctest: +SKIP
    """

    loss_fn: LossFn
    data: Data | Batches
    every: int = 1
    tol: float = 1e-3
    seed: int = 0
    max_matvecs: int | None = None
    steps: list[int] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    matvecs: list[int] = field(default_factory=list)

    def __repr__(self) -> str:
        last = (f", last λ_max={self.sharpness[-1]:.6g} at step {self.steps[-1]}" if self.sharpness else "")
        return (f"SharpnessTracker(every={self.every}, tol={self.tol:g}, measurements={len(self.sharpness)}"
                f"{last})")

    def __post_init__(self):
        self.every = check_positive_int(self.every, "every")
        self.tol = check_positive(self.tol, "tol")
        self._operator: HessianOperator | None = None
        self._model_id: int | None = None
        self._v0: Tensor | None = None

    def __call__(self, model: nn.Module, step: int) -> float | None:
        """Measure λ_max at ``step`` if it is a multiple of ``every``; return it (else None)."""
        if step % self.every:
            return None
        if self._operator is None or self._model_id != id(model):
            self._operator = HessianOperator(model, self.loss_fn, self.data)
            self._model_id = id(model)
            self._v0 = None
        res = lanczos(self._operator, k=1, tol=self.tol, v0=self._v0, seed=self.seed,
                      max_matvecs=self.max_matvecs)
        self._v0 = res.eigenvectors[:, 0]
        self.steps.append(int(step))
        self.sharpness.append(res.lam_max)
        self.errors.append(float(res.errors[0]))
        self.matvecs.append(res.num_matvecs)
        log.debug("step %d: sharpness %.4g (%d products)", step, res.lam_max, res.num_matvecs)
        return res.lam_max
