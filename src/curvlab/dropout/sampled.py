"""Dropout training by sampling: minibatch SGD on the dropout loss of a linear model.

Each step draws fresh factors δ (one per example and feature, see
:func:`~curvlab.dropout.noise.sample_multipliers`), forms x̃ = δ ⊙ x and takes a step on
the weighted minibatch loss

    J_D = Σ_{n∈B} s_n ℓ(y_n, b + x̃_nᵀω) / Σ_{n∈B} s_n,

with ℓ(y, z) = (y − z)² (``loss="squared"``, notes §4) or ℓ(y, z) = log(1 + eᶻ) − yz
(``loss="logistic"``, y ∈ {0, 1}). The bias b is never dropped. In expectation over δ the
objective is the marginalized one (:mod:`curvlab.dropout.marginalized` for squared loss,
:mod:`curvlab.dropout.logistic` for the logistic loss), so the iterates approach its
minimizer; with a decaying step and Polyak–Ruppert averaging (``average=True``) the
averaged iterate converges to it at the O(1/t) rate of stochastic approximation.

Learning rate: ε_t = ε₀ (``lr_schedule="constant"``) or ε_t = ε₀ / (1 + t/T)^power_t
(``"invscaling"``, t the step, T the steps per epoch). ``lr="auto"`` takes
ε₀ = 1 / (2 L̄) with L̄ = c · mean_n (1 + (1 + σ²)‖x_n‖²) the mean curvature bound of ℓ along
the noisy input (c = 2 for squared, ¼ for logistic loss).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from .noise import Kind, sample_multipliers

__all__ = ["SampledResult", "fit_sampled"]

log = logging.getLogger(__name__)

Loss = Literal["squared", "logistic"]
Schedule = Literal["constant", "invscaling"]
_CURVATURE = {"squared": 2.0, "logistic": 0.25}


@dataclass(frozen=True)
class SampledResult:
    """What :func:`fit_sampled` returns.

    coef : (d,) final weights (the averaged iterate when ``average``).
    intercept : final bias.
    loss_history : (epochs,) mean sampled dropout loss over each epoch (fewer if a callback stopped it).
    coef_history : (epochs + 1, d) the reported weights at the start and after each epoch.
    intercept_history : (epochs + 1,) likewise for the bias.
    lr0 : the initial learning rate used.
    """

    coef: np.ndarray
    intercept: float
    loss_history: np.ndarray
    coef_history: np.ndarray
    intercept_history: np.ndarray
    lr0: float


def auto_lr(X: np.ndarray, sigma2: float, loss: Loss) -> float:
    """ε₀ = 1/(2 L̄), L̄ = c · mean_n(1 + (1 + σ²)‖x_n‖²)."""
    L_bar = _CURVATURE[loss] * float(np.mean(1.0 + (1.0 + sigma2) * np.einsum("nk,nk->n", X, X)))
    return 0.5 / L_bar


def _dloss_dz(y: np.ndarray, z: np.ndarray, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """Per-example loss ℓ(y, z) and its derivative ∂ℓ/∂z."""
    if loss == "squared":
        r = y - z
        return r**2, -2.0 * r
    # logistic: log(1 + e^z) − yz, stable for both signs of z
    ell = np.logaddexp(0.0, z) - y * z
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid(z) without overflow
    return ell, p - y


@np.errstate(over="ignore", invalid="ignore")  # divergence is detected and raised, not warned
def fit_sampled(X: np.ndarray, y: np.ndarray, rate: float, *, kind: Kind = "bernoulli",
                loss: Loss = "squared", fit_intercept: bool = True,
                sample_weight: np.ndarray | None = None, epochs: int = 100,
                batch_size: int = 32, lr: float | str = "auto",
                lr_schedule: Schedule = "invscaling", power_t: float = 0.5,
                average: bool = True, average_start: int = 0, seed: int | np.random.Generator | None = 0,
                coef_init: np.ndarray | None = None, intercept_init: float = 0.0,
                progress: bool | None = None,
                callback: Callable[[int, np.ndarray, float], bool] | None = None) -> SampledResult:
    """Minibatch SGD on the sampled dropout loss (module docstring). Returns a :class:`SampledResult`.

    Inputs are assumed validated (X (N, d) finite, y (N,), sample_weight (N,) ≥ 0 or None).
    Same ``seed`` ⇒ same result. ``progress=None`` shows a bar only on a terminal.
    ``callback(epoch, coef, intercept)`` is called after each epoch with the reported
    weights; returning True stops training there (the histories are cut to the epochs run).
    """
    rng = np.random.default_rng(seed)
    N, d = X.shape
    s = np.ones(N) if sample_weight is None else np.asarray(sample_weight, float)
    sigma2 = rate / (1.0 - rate)
    lr0 = auto_lr(X, sigma2, loss) if isinstance(lr, str) else float(lr)
    batch_size = min(batch_size, N)
    steps_per_epoch = int(np.ceil(N / batch_size))

    w = np.zeros(d) if coef_init is None else np.array(coef_init, float)
    b = float(intercept_init)
    w_avg, b_avg, n_avg = w.copy(), b, 0
    coef_history = np.empty((epochs + 1, d))
    intercept_history = np.empty(epochs + 1)
    coef_history[0], intercept_history[0] = w, b
    loss_history = np.empty(epochs)
    t = 0
    for epoch in tqdm(range(epochs), desc="dropout SGD", unit="epoch", disable=not progress
                      if progress is not None else None, leave=False):
        order = rng.permutation(N)
        total, weight_seen = 0.0, 0.0
        for start in range(0, N, batch_size):
            idx = order[start:start + batch_size]
            s_B = s[idx]
            s_sum = s_B.sum()
            if s_sum <= 0:
                continue
            delta = sample_multipliers(rng, (idx.size, d), rate, kind)  # (B, d)
            X_tilde = X[idx] * delta  # (B, d): dropped and rescaled inputs
            z = X_tilde @ w + b
            ell, g_z = _dloss_dz(y[idx], z, loss)
            g_z = g_z * s_B / s_sum
            eps = lr0 if lr_schedule == "constant" else lr0 / (1.0 + t / steps_per_epoch) ** power_t
            w = w - eps * (X_tilde.T @ g_z)
            if fit_intercept:
                b = b - eps * float(g_z.sum())
            total += float(s_B @ ell)
            weight_seen += s_sum
            t += 1
            if average and epoch >= average_start:  # Polyak–Ruppert running mean
                n_avg += 1
                w_avg += (w - w_avg) / n_avg
                b_avg += (b - b_avg) / n_avg
        if not np.all(np.isfinite(w)) or not np.isfinite(b):
            raise FloatingPointError(
                f"dropout SGD diverged in epoch {epoch + 1} (lr0 = {lr0:.3g}); pass a smaller lr "
                "or standardize the features."
            )
        loss_history[epoch] = total / max(weight_seen, np.finfo(float).tiny)
        use_avg = average and n_avg > 0
        coef_history[epoch + 1] = w_avg if use_avg else w
        intercept_history[epoch + 1] = b_avg if use_avg else b
        if callback is not None and callback(epoch + 1, coef_history[epoch + 1], intercept_history[epoch + 1]):
            coef_history, intercept_history = coef_history[:epoch + 2], intercept_history[:epoch + 2]
            loss_history = loss_history[:epoch + 1]
            break
    log.debug("dropout SGD: %d epochs, lr0 = %.3g, final loss %.4g", loss_history.size, lr0,
              loss_history[-1] if loss_history.size else float("nan"))
    return SampledResult(
        coef=coef_history[-1].copy(), intercept=float(intercept_history[-1]),
        loss_history=loss_history, coef_history=coef_history,
        intercept_history=intercept_history, lr0=lr0,
    )
