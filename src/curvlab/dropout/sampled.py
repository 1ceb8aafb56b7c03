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

Nothing silent. A run whose epoch loss exceeds ``DIVERGE_FACTOR`` times the loss at the
starting point (or turns non-finite) raises ``FloatingPointError`` naming ``lr``: SGD that
diverges slowly would otherwise return finite but meaningless 1e33 weights. A run that uses
all its epochs and is still far from the limit warns with scikit-learn's
``ConvergenceWarning``: for squared loss the limit is known in closed form
(:func:`~curvlab.dropout.marginalized.fit_marginalized`) and the warning fires when the
weights are more than ``SAMPLED_RTOL`` (relative) from it; for the logistic loss, when the
expected gradient (Monte Carlo over ``_GRAD_DRAWS`` fresh masks per example) is still more
than ``SAMPLED_GTOL`` of its value at the start and significantly nonzero (> 3 standard errors).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from sklearn.exceptions import ConvergenceWarning

from .._validation import check_positive, check_positive_int
from .marginalized import check_fit_inputs, fit_marginalized
from .noise import Kind, check_kind, check_rate, sample_multipliers

__all__ = ["SampledResult", "fit_sampled"]

log = logging.getLogger(__name__)

Loss = Literal["squared", "logistic"]
Schedule = Literal["constant", "invscaling"]
_CURVATURE = {"squared": 2.0, "logistic": 0.25}
DIVERGE_FACTOR = 1e4  # epoch loss above this × the starting loss: diverged
SAMPLED_RTOL = 0.05   # squared loss: ‖(ω, b) − limit‖ / ‖limit‖ above this at the last epoch warns
SAMPLED_GTOL = 0.01   # logistic: ‖E∇J(end)‖ / ‖E∇J(start)‖ above this (and significant) warns
_GRAD_DRAWS = 32


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
    converged: bool | None = None  # the convergence check's verdict (None: not checked)


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
                callback: Callable[[int, np.ndarray, float], bool] | None = None,
                check_convergence: bool = True) -> SampledResult:
    """Minibatch SGD on the sampled dropout loss (module docstring). Returns a :class:`SampledResult`.

    X (N, d) finite, y (N,), sample_weight (N,) ≥ 0 or None; each argument is checked.
    Same ``seed`` ⇒ same result. ``progress=None`` shows a bar only on a terminal.
    ``callback(epoch, coef, intercept)`` is called after each epoch with the reported
    weights; returning True stops training there (the histories are cut to the epochs run).
    Raises ``FloatingPointError`` when SGD diverges; warns ``ConvergenceWarning`` when all
    ``epochs`` ran and the result is still far from the limit (``check_convergence``).
    """
    X, y, sample_weight = check_fit_inputs(X, y, sample_weight)
    rate = check_rate(rate)
    check_kind(kind)
    if loss not in _CURVATURE:
        raise ValueError(f"loss must be one of {tuple(_CURVATURE)}; got {loss!r}.")
    if lr_schedule not in ("constant", "invscaling"):
        raise ValueError(f"lr_schedule must be 'constant' or 'invscaling'; got {lr_schedule!r}.")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    power_t = check_positive(power_t, "power_t", strict=False)
    if not (isinstance(lr, str) and lr == "auto"):
        if isinstance(lr, str):
            raise ValueError(f"lr must be a positive number or 'auto'; got {lr!r}.")
        lr = check_positive(lr, "lr")
    rng = np.random.default_rng(seed)
    N, d = X.shape
    s = np.ones(N) if sample_weight is None else sample_weight
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
    # the clean loss at the start: the yardstick of divergence
    with np.errstate(all="ignore"):
        loss_start = float(s @ _dloss_dz(y, X @ w + b, loss)[0]) / max(float(s.sum()), np.finfo(float).tiny)
    t = 0
    stopped = False
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
        epoch_loss = total / max(weight_seen, np.finfo(float).tiny)
        if (not np.all(np.isfinite(w)) or not np.isfinite(b) or not np.isfinite(epoch_loss)
                or epoch_loss > DIVERGE_FACTOR * max(loss_start, np.finfo(float).tiny)):
            raise FloatingPointError(
                f"dropout SGD diverged in epoch {epoch + 1}: mean loss {epoch_loss:.3g} against "
                f"{loss_start:.3g} at the start (lr0 = {lr0:.3g}); pass a smaller lr (e.g. "
                f"lr={lr0 / 10:.3g}) or lr='auto', or standardize the features."
            )
        loss_history[epoch] = epoch_loss
        use_avg = average and n_avg > 0
        coef_history[epoch + 1] = w_avg if use_avg else w
        intercept_history[epoch + 1] = b_avg if use_avg else b
        if callback is not None and callback(epoch + 1, coef_history[epoch + 1], intercept_history[epoch + 1]):
            coef_history, intercept_history = coef_history[:epoch + 2], intercept_history[:epoch + 2]
            loss_history = loss_history[:epoch + 1]
            stopped = True
            break
    log.debug("dropout SGD: %d epochs, lr0 = %.3g, final loss %.4g", loss_history.size, lr0,
              loss_history[-1] if loss_history.size else float("nan"))
    converged = None
    if check_convergence and not stopped and epochs > 0:
        converged = _check_converged(X, y, s, rate, kind, loss, fit_intercept, coef_history,
                                     intercept_history, epochs, rng)
    return SampledResult(
        coef=coef_history[-1].copy(), intercept=float(intercept_history[-1]),
        loss_history=loss_history, coef_history=coef_history,
        intercept_history=intercept_history, lr0=lr0, converged=converged,
    )


def expected_gradient(X, y, s, w, b, rate, kind, loss, fit_intercept, rng, draws=_GRAD_DRAWS):
    """E_δ[∇J_D] at (w, b) (weighted mean loss) and its Monte Carlo standard error (norm).

    Squared loss: exact, (29 corrected) ∇_ω = (2/Σs)[−X̃ᵀS r + σ² ω ⊙ diag(XᵀSX)], r = y − Xω − b.
    Logistic loss: the mean over ``draws`` fresh masks per example.
    """
    total = float(s.sum())
    sigma2 = rate / (1.0 - rate)
    if loss == "squared":
        r = y - X @ w - b
        g_w = (2.0 / total) * (-(X.T @ (s * r)) + sigma2 * w * (s @ (X * X)))
        g_b = -(2.0 / total) * float(s @ r) if fit_intercept else 0.0
        return np.append(g_w, g_b), 0.0
    G = np.empty((draws, X.shape[1] + 1))
    for k in range(draws):
        X_tilde = X * sample_multipliers(rng, X.shape, rate, kind)
        g_z = _dloss_dz(y, X_tilde @ w + b, loss)[1] * s / total
        G[k] = np.append(X_tilde.T @ g_z, g_z.sum() if fit_intercept else 0.0)
    return G.mean(axis=0), float(np.linalg.norm(G.std(axis=0, ddof=1) / np.sqrt(draws)))


def _check_converged(X, y, s, rate, kind, loss, fit_intercept, coef_history, intercept_history,
                     epochs, rng) -> bool:
    w, b = coef_history[-1], float(intercept_history[-1])
    if loss == "squared":
        w_star, b_star = fit_marginalized(X, y, rate / (1.0 - rate), fit_intercept=fit_intercept,
                                          sample_weight=s)
        limit = np.append(w_star, b_star)
        gap = float(np.linalg.norm(np.append(w, b) - limit) / max(np.linalg.norm(limit), np.finfo(float).tiny))
        if gap <= SAMPLED_RTOL:
            return True
        what = (f"its weights are {100 * gap:.0f} % (relative) from the limit, the closed form "
                "(solver='marginalized' computes it exactly)")
    else:
        g_end, se = expected_gradient(X, y, s, w, b, rate, kind, loss, fit_intercept, rng)
        g_start, _ = expected_gradient(X, y, s, coef_history[0], float(intercept_history[0]), rate,
                                       kind, loss, fit_intercept, rng)
        ratio = float(np.linalg.norm(g_end) / max(np.linalg.norm(g_start), np.finfo(float).tiny))
        if ratio <= SAMPLED_GTOL or np.linalg.norm(g_end) <= 3.0 * se:
            return True
        what = (f"the expected gradient is still {100 * ratio:.1f} % of its value at the start "
                f"(tolerance {100 * SAMPLED_GTOL:.0f} %)")
    warnings.warn(f"dropout SGD stopped at max_iter={epochs} epochs before converging: {what}. "
                  "Increase max_iter (or lr).", ConvergenceWarning, stacklevel=4)
    return False
