"""The notes' Siamese model, exactly: one shared tanh layer with hand-written gradients (§6).

Both inputs of a pair go through the same layer (shared W, b):

    z₁ = W x₁ + b,   h₁ = tanh(z₁),      z₂ = W x₂ + b,   h₂ = tanh(z₂)

The notes give the gradients (38) but never write the loss. The only loss whose gradient
is (38) (up to a constant) is

    J(W, b; x₁, x₂) = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ + λ‖W‖²_F,     λ = 1 in the notes,

because ∂J/∂h₁ = 2h₁ − h₂ = Δ₁ and ∂J/∂h₂ = 2h₂ − h₁ = Δ₂ (the −h₁ᵀh₂ term is what makes
the factor of the other code 1, not 2), and ∂(λ‖W‖²)/∂W = 2λW is the "+ 2W" of (38).
Equivalently J = ½‖h₁ − h₂‖² + ½‖h₁‖² + ½‖h₂‖² + λ‖W‖²: a pull of the two codes together
*plus* a pull of each code to 0. The chain rule through tanh (tanh' = 1 − h²) gives

    Δ₃ = ∂J/∂z₁ = Δ₁ ⊙ (1 − h₁²),   Δ₄ = ∂J/∂z₂ = Δ₂ ⊙ (1 − h₂²)
    ∂J/∂W = Δ₃x₁ᵀ + Δ₄x₂ᵀ + 2λW,     ∂J/∂b = Δ₃ + Δ₄                                (38)

and minibatch gradient descent on the mean of the m pair losses is

    W ← W − ε (1/m) Σᵢ ∂Jᵢ/∂W,    b ← b − ε (1/m) Σᵢ ∂Jᵢ/∂b                            (39)

For a batch (rows of X₁, X₂ are pairs) the mean gradient is ∂J̄/∂W = (Δ₃ᵀX₁ + Δ₄ᵀX₂)/m + 2λW:
the L2 term appears once, not m times, because every Jᵢ carries its own λ‖W‖² and (39)
averages them.

What (38) is *not*: §6.1 says the distance between the two codes is minimized, but (38)
is not the gradient of the squared distance ‖h₁ − h₂‖² (that would be Δ₁ = 2(h₁ − h₂)).
And J has no label: every pair is pulled together and every code is pulled to 0, so its
global minimum is W = 0, b = 0, h ≡ 0 — a collapsed encoder that maps every input to the
same point. ``curvlab reproduce`` measures both facts (§6); a loss that learns similarity
needs dissimilar pairs pushed apart (:mod:`curvlab.siamese.losses`).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> W, b = rng.normal(size=(3, 4)), np.zeros(3)
>>> X1, X2 = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
>>> grads = notes_gradients(W, b, X1, X2)             # mean over the 5 pairs, eq. (38)
>>> W_new, b_new = notes_gd_step(W, b, X1, X2, eps=0.1)  # eq. (39)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_positive, check_real

__all__ = ["NotesGradients", "notes_forward", "notes_gd_step", "notes_gradients", "notes_loss",
           "per_pair_gradients"]


@dataclass(frozen=True)
class NotesGradients:
    """The intermediate quantities and gradients of (38) for a batch of m pairs.

    ``dW`` (k, d) and ``db`` (k,) are the batch means used by (39); ``Delta1`` … ``Delta4``
    are (m, k), one row per pair, named as in the notes.
    """

    Delta1: np.ndarray
    Delta2: np.ndarray
    Delta3: np.ndarray
    Delta4: np.ndarray
    dW: np.ndarray
    db: np.ndarray


def _check_params(W, b, X1, X2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    for name, arr in (("W", W), ("b", b), ("X1", X1), ("X2", X2)):
        check_real(arr, name)
    W = as_float_array(W, "W", ndim=2)
    b = as_float_array(b, "b", ndim=1)
    X1 = as_float_array(X1, "X1", ndim=(1, 2))
    X2 = as_float_array(X2, "X2", ndim=(1, 2))
    X1, X2 = np.atleast_2d(X1), np.atleast_2d(X2)  # (m, d): one pair per row
    k, d = W.shape
    if b.shape[0] != k:
        raise ValueError(f"b must have length {k} (the rows of W); got {b.shape[0]}.")
    for name, X in (("X1", X1), ("X2", X2)):
        if X.shape[1] != d:
            raise ValueError(f"{name} must have {d} columns (the columns of W); got {X.shape[1]}.")
    if X1.shape[0] != X2.shape[0]:
        raise ValueError(f"X1 and X2 must hold the same number of pairs; got {X1.shape[0]} and "
                         f"{X2.shape[0]} rows.")
    return W, b, X1, X2


def notes_forward(W, b, X) -> np.ndarray:
    """Codes h = tanh(W x + b) of the rows of X: (m, d) → (m, k)."""
    return np.tanh(np.atleast_2d(X) @ W.T + b)


def notes_loss(W, b, X1, X2, *, lam: float = 1.0) -> np.ndarray:
    """Per-pair loss Jᵢ = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ + λ‖W‖²_F, the loss that (38) differentiates.

    Returns an (m,) array; (39) descends its mean.
    """
    W, b, X1, X2 = _check_params(W, b, X1, X2)
    lam = check_positive(lam, "lam", strict=False)
    H1, H2 = notes_forward(W, b, X1), notes_forward(W, b, X2)  # (m, k)
    return (H1 * H1).sum(1) + (H2 * H2).sum(1) - (H1 * H2).sum(1) + lam * float((W * W).sum())


def notes_gradients(W, b, X1, X2, *, lam: float = 1.0) -> NotesGradients:
    """Eq. (38) for each pair, and the batch means (1/m)Σᵢ ∂Jᵢ/∂W, (1/m)Σᵢ ∂Jᵢ/∂b of (39).

    Parameters
    ----------
    W : (k, d) shared weights.  b : (k,) shared bias.
    X1, X2 : (m, d) or (d,) — the first and second inputs of m pairs.
    lam : weight λ of the L2 term; λ = 1 gives the notes' "+ 2W".
    """
    W, b, X1, X2 = _check_params(W, b, X1, X2)
    lam = check_positive(lam, "lam", strict=False)
    m = X1.shape[0]
    H1, H2 = notes_forward(W, b, X1), notes_forward(W, b, X2)  # (m, k)
    Delta1 = 2 * H1 - H2                    # ∂J/∂h₁
    Delta2 = 2 * H2 - H1                    # ∂J/∂h₂
    Delta3 = Delta1 * (1 - H1 ** 2)         # ∂J/∂z₁
    Delta4 = Delta2 * (1 - H2 ** 2)         # ∂J/∂z₂
    # (1/m) Σᵢ (Δ₃ᵢ x₁ᵢᵀ + Δ₄ᵢ x₂ᵢᵀ + 2λW) = (Δ₃ᵀX₁ + Δ₄ᵀX₂)/m + 2λW
    dW = (Delta3.T @ X1 + Delta4.T @ X2) / m + 2 * lam * W
    db = (Delta3 + Delta4).mean(axis=0)
    return NotesGradients(Delta1, Delta2, Delta3, Delta4, dW, db)


def per_pair_gradients(W, b, X1, X2, *, lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """∂Jᵢ/∂W (m, k, d) and ∂Jᵢ/∂b (m, k) for every pair i, as (38) writes them (outer products)."""
    g = notes_gradients(W, b, X1, X2, lam=lam)
    X1, X2 = np.atleast_2d(X1), np.atleast_2d(X2)
    dW_i = (g.Delta3[:, :, None] * np.asarray(X1, float)[:, None, :]      # (m, k, d): Δ₃ᵢ x₁ᵢᵀ
            + g.Delta4[:, :, None] * np.asarray(X2, float)[:, None, :]    #          + Δ₄ᵢ x₂ᵢᵀ
            + 2 * lam * np.asarray(W, float)[None])                        #          + 2λW
    return dW_i, g.Delta3 + g.Delta4


def notes_gd_step(W, b, X1, X2, *, eps: float, lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """One minibatch gradient-descent step (39) on the mean notes' loss; returns new (W, b).

    The inputs are not modified.
    """
    eps = check_positive(eps, "eps")
    g = notes_gradients(W, b, X1, X2, lam=lam)
    return np.asarray(W, float) - eps * g.dW, np.asarray(b, float) - eps * g.db
