"""A Siamese network: one encoder, shared by both inputs, and a distance between the codes.

    e₁ = f(x₁),  e₂ = f(x₂)  (the same f, the same weights — §6 of the notes)
    D(x₁, x₂) = ‖e₁ − e₂‖₂  (``metric="euclidean"``)  or  1 − cos(e₁, e₂)  (``"cosine"``)
    similarity = −D,  predict = [D ≤ threshold]   (1 = similar)

The threshold is fitted on validation pairs (:meth:`SiameseNetwork.fit_threshold`) and
then frozen; :meth:`predict` refuses to run before it is set.

Example
-------
>>> import torch
>>> from curvlab.siamese.encoders import MLPEncoder
>>> net = SiameseNetwork(MLPEncoder(4, (8,), 2))
>>> net.distance(torch.zeros(3, 4), torch.ones(3, 4)).shape
torch.Size([3])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_real
from ..curvature.objective import _raised_by_torch, first_line
from .evaluate import fit_threshold
from .losses import validate_pair_labels

__all__ = ["METRICS", "SiameseNetwork"]

METRICS = ("euclidean", "cosine")


class SiameseNetwork(nn.Module):
    """Wrap ``encoder`` (any ``nn.Module`` returning (B, k)) into a pair model.

    Parameters
    ----------
    encoder : the shared map f; must return a 2-D (batch, features) tensor.
    metric : "euclidean" (contrastive / triplet losses) or "cosine" (cosine losses, text).
    """

    def __init__(self, encoder: nn.Module, *, metric: str = "euclidean"):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be a torch.nn.Module; got {type(encoder).__name__}.")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}; got {metric!r}.")
        self.encoder = encoder
        self.metric = metric
        self.threshold_: float | None = None

    # ------------------------------------------------------------------ encoding
    def forward(self, x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The two embeddings (B, k), (B, k) through the shared encoder."""
        return self.embed(x1), self.embed(x2)

    def embed(self, x: Any) -> torch.Tensor:
        """f(x), checked to be 2-D; ``x`` checked to be real and finite, and an ``x`` the
        encoder cannot take (a wrong width or dtype) reported as a ``ValueError``."""
        x = self._as_input(x)
        try:
            e = self.encoder(x)
        except (RuntimeError, IndexError) as exc:
            if not _raised_by_torch(exc):
                raise
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"the encoder cannot take x of shape {shape}: {first_line(exc)}. Pass inputs of the width "
                             "and dtype the encoder was built for.") from exc
        if not isinstance(e, torch.Tensor) or e.dim() != 2:
            shape = tuple(e.shape) if isinstance(e, torch.Tensor) else type(e).__name__
            raise ValueError(f"encoder must return a 2-D (batch, features) tensor; got {shape}. "
                             "Flatten or pool its output (e.g. end with nn.Flatten()).")
        return e

    @torch.no_grad()
    def encode(self, x: Any, *, batch_size: int = 1024) -> torch.Tensor:
        """Embeddings of ``x`` in eval mode, computed in batches (no gradient)."""
        was_training = self.training
        self.eval()
        try:
            n = len(x)
            out = [self.embed(x[s:s + batch_size]) for s in range(0, n, batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out)

    def _as_input(self, x: Any) -> Any:
        if isinstance(x, (np.ndarray, torch.Tensor)):
            check_real(x, "x")
            if isinstance(x, np.ndarray):
                if x.dtype == object or x.dtype.kind in "USV":
                    raise TypeError(f"x must hold numbers; got an array of dtype {x.dtype}.")
                p = next(self.encoder.parameters(), None)
                x = torch.as_tensor(x, dtype=p.dtype if p is not None else torch.float32)
            if x.is_floating_point() and not bool(torch.isfinite(x).all()):
                raise ValueError("x contains NaN or infinity; remove or impute non-finite inputs.")
        return x

    # ------------------------------------------------------------------ distances
    def distance_of(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        """D of embedding rows: ‖e₁ − e₂‖₂ or 1 − cos(e₁, e₂), (B,)."""
        if self.metric == "cosine":
            return 1 - F.cosine_similarity(e1, e2, dim=-1)
        return ((e1 - e2).pow(2).sum(-1) + 1e-12).sqrt()

    def distance(self, x1: Any, x2: Any) -> torch.Tensor:
        """D(x₁, x₂) for each pair (differentiable)."""
        self._check_lengths(x1, x2)
        return self.distance_of(*self(x1, x2))

    @torch.no_grad()
    def similarity(self, x1: Any, x2: Any) -> np.ndarray:
        """Similarity score of each pair, higher = more similar: −D (euclidean) or cos (cosine)."""
        self._check_lengths(x1, x2)
        D = self.distance_of(self.encode(x1), self.encode(x2)).cpu().numpy()
        return 1 - D if self.metric == "cosine" else -D

    def fit_threshold(self, x1: Any, x2: Any, y) -> "SiameseNetwork":
        """Fit the decision threshold on validation pairs (max accuracy) and freeze it."""
        validate_pair_labels(y)
        self.threshold_ = fit_threshold(self.similarity(x1, x2), np.asarray(y, float))
        return self

    def predict(self, x1: Any, x2: Any) -> np.ndarray:
        """1 (similar) where similarity ≥ the frozen threshold, else 0."""
        if self.threshold_ is None:
            raise ValueError("predict needs a threshold: call fit_threshold(x1_val, x2_val, y_val) first.")
        return (self.similarity(x1, x2) >= self.threshold_).astype(np.int64)

    @staticmethod
    def _check_lengths(x1: Any, x2: Any) -> None:
        if len(x1) != len(x2):
            raise ValueError(f"x1 and x2 must hold the same number of pairs; got {len(x1)} and {len(x2)}.")
