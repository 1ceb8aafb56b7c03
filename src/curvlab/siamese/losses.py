"""Pair and triplet losses for Siamese networks.

Label convention, everywhere in :mod:`curvlab.siamese`: **y = 1 means similar** (same
class), y = 0 dissimilar. Hadsell, Chopra & LeCun (2006, "Dimensionality reduction by
learning an invariant mapping") write the contrastive loss with the opposite convention
(their Y = 0 is similar); pass ``1 - y`` if your labels follow theirs.

With e₁, e₂ the two embeddings and D = ‖e₁ − e₂‖₂:

* contrastive (Hadsell et al. 2006):  L = y · ½D² + (1 − y) · ½ max(0, m − D)²
* cosine-similarity regression:       L = (cos(e₁, e₂) − t)²,  t = y ∈ [0, 1] (graded allowed)
* triplet margin (Schroff et al. 2015, FaceNet):  L = max(0, D(a, p) − D(a, n) + m)
* in-batch softmax (multiple negatives ranking; van den Oord et al. 2018, Henderson et al.
  2017): row i of (e₁, e₂) is a positive pair, every other row of e₂ a negative;
  L = cross-entropy of softmax(s · cos(e₁ᵢ, e₂ⱼ))ⱼ with target j = i.
* the notes' loss (38): J = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ (unlabelled; its L2 term λ‖W‖² is
  added by the trainer, see :func:`~curvlab.siamese.encoders.l2_of_weights`).

Each function returns the mean over the batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_positive

__all__ = ["LOSSES", "contrastive_loss", "cosine_similarity_loss", "in_batch_softmax_loss",
           "notes_pair_loss", "pair_distance", "triplet_margin_loss", "validate_pair_labels"]


def validate_pair_labels(y, name: str = "y", *, graded: bool = False) -> None:
    """Raise unless ``y`` holds only 0 and 1 (or values in [0, 1] when ``graded``)."""
    values = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=float)
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinity; pair labels must be 0 or 1.")
    if graded:
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1] (1 = similar); got values in "
                             f"[{values.min()}, {values.max()}].")
        return
    bad = ~np.isin(values, (0.0, 1.0))
    if np.any(bad):
        raise ValueError(
            f"{name} must contain only 0 (dissimilar) and 1 (similar); got {values[bad][:5].tolist()}. "
            "curvlab uses 1 = similar; Hadsell et al.'s labels (0 = similar) convert as 1 - y."
        )


def _check_embeddings(a: torch.Tensor, b: torch.Tensor, names: str = "e1 and e2") -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"{names} must be torch tensors (the (B, k) embeddings).")
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"{names} must have one shape (B, k), one row per pair; got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}.")


def _check_pair_count(e: torch.Tensor, y) -> None:
    n = len(y) if hasattr(y, "__len__") else 1
    if getattr(y, "ndim", 1) != 1 or n != e.shape[0]:
        raise ValueError(f"y must have one entry per pair ({e.shape[0]},); got shape "
                         f"{tuple(getattr(y, 'shape', (n,)))}.")


def pair_distance(e1: torch.Tensor, e2: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distance of rows, D = ‖e₁ − e₂‖₂, (B,); differentiable at D = 0."""
    return ((e1 - e2).pow(2).sum(-1) + eps).sqrt()


def contrastive_loss(e1: torch.Tensor, e2: torch.Tensor, y: torch.Tensor, *,
                     margin: float = 1.0) -> torch.Tensor:
    """Hadsell et al. (2006) contrastive loss, y = 1 similar: y·½D² + (1 − y)·½max(0, m − D)²."""
    _check_embeddings(e1, e2)
    _check_pair_count(e1, y)
    validate_pair_labels(y)
    y = torch.as_tensor(y)
    margin = check_positive(margin, "margin")
    y = y.to(e1.dtype)
    D = pair_distance(e1, e2)
    return (y * 0.5 * D.pow(2) + (1 - y) * 0.5 * F.relu(margin - D).pow(2)).mean()


def cosine_similarity_loss(e1: torch.Tensor, e2: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Regression of the cosine similarity on the target: (cos(e₁, e₂) − y)², y ∈ [0, 1]."""
    _check_embeddings(e1, e2)
    _check_pair_count(e1, y)
    validate_pair_labels(y, graded=True)
    y = torch.as_tensor(y)
    return (F.cosine_similarity(e1, e2, dim=-1) - y.to(e1.dtype)).pow(2).mean()


def triplet_margin_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *,
                        margin: float = 1.0) -> torch.Tensor:
    """max(0, D(a, p) − D(a, n) + m), Euclidean D (Schroff, Kalenichenko & Philbin 2015)."""
    margin = check_positive(margin, "margin")
    _check_embeddings(anchor, positive, "anchor and positive")
    _check_embeddings(anchor, negative, "anchor and negative")
    return F.relu(pair_distance(anchor, positive) - pair_distance(anchor, negative) + margin).mean()


def in_batch_softmax_loss(e1: torch.Tensor, e2: torch.Tensor, *, scale: float = 20.0,
                          symmetric: bool = False) -> torch.Tensor:
    """Cross-entropy of row i of e₁ against all rows of e₂ (target i), logits s·cos(e₁ᵢ, e₂ⱼ);
    ``symmetric``: the mean of that and the same from e₂ to e₁ (both directions, as in CLIP)."""
    scale = check_positive(scale, "scale")
    _check_embeddings(e1, e2)
    logits = scale * F.normalize(e1, dim=-1) @ F.normalize(e2, dim=-1).T  # (B, B)
    target = torch.arange(e1.shape[0], device=e1.device)
    loss = F.cross_entropy(logits, target)
    return 0.5 * (loss + F.cross_entropy(logits.T, target)) if symmetric else loss


def notes_pair_loss(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """The data term of the loss (38) differentiates: mean of h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ (no label)."""
    _check_embeddings(h1, h2, "h1 and h2")
    return ((h1 * h1).sum(-1) + (h2 * h2).sum(-1) - (h1 * h2).sum(-1)).mean()


LOSSES = ("contrastive", "cosine", "triplet", "in_batch", "notes")
