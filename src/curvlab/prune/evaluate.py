"""Evaluating a pruned encoder the way a user would trust: against the dense model, on held-out text.

* :func:`mean_cosine` — mean cosine similarity of pruned to dense sentence embeddings.
* :func:`similarity_spearman` — Spearman correlation of all pairwise similarities (pruned vs
  dense): does the pruned model still rank pairs of texts the same way?
* :func:`knn_agreement` — mean overlap of the k nearest neighbours of each text.
* :func:`linear_probe` — accuracy of a logistic regression trained on a model's own embeddings.
* :func:`heldout_layer_errors` — per layer ‖WX − ŴX‖² / ‖WX‖² on held-out inputs X (the inputs
  the layer sees in the pruned model; W the dense weights, Ŵ the pruned ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from ..curvature.layer_hessian import is_prunable, layer_inputs, weight_matrix

__all__ = ["heldout_layer_errors", "knn_agreement", "linear_probe", "mean_cosine", "similarity_spearman"]


def _unit(E) -> np.ndarray:
    E = np.asarray(E.detach().cpu() if isinstance(E, Tensor) else E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] < 2:
        raise ValueError(f"embeddings must be an (n, k) array with n >= 2; got shape {E.shape}.")
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


def mean_cosine(dense, pruned) -> float:
    """Mean over texts of cos(e_dense, e_pruned)."""
    A, B = _unit(dense), _unit(pruned)
    if A.shape != B.shape:
        raise ValueError(f"dense and pruned embeddings must have the same shape; got {A.shape}, {B.shape}.")
    return float(np.mean(np.sum(A * B, axis=1)))


def similarity_spearman(dense, pruned) -> float:
    """Spearman ρ between the pairwise cosine similarities of the dense and the pruned embeddings."""
    from scipy.stats import spearmanr

    A, B = _unit(dense), _unit(pruned)
    iu = np.triu_indices(A.shape[0], k=1)
    return float(spearmanr((A @ A.T)[iu], (B @ B.T)[iu]).statistic)


def knn_agreement(dense, pruned, k: int = 10) -> float:
    """Mean |kNN_dense(i) ∩ kNN_pruned(i)| / k over texts i (cosine similarity, self excluded)."""
    A, B = _unit(dense), _unit(pruned)
    k = min(k, A.shape[0] - 1)
    overlap = []
    for S in (A @ A.T, B @ B.T):
        np.fill_diagonal(S, -np.inf)
        overlap.append(np.argsort(-S, axis=1, kind="stable")[:, :k])
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(*overlap)]))


def linear_probe(train_emb, y_train, test_emb, y_test, *, seed: int = 0, C: float = 1.0) -> float:
    """Test accuracy of scikit-learn's LogisticRegression trained on (train_emb, y_train)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    clf.fit(_unit(train_emb), np.asarray(y_train))
    return float(clf.score(_unit(test_emb), np.asarray(y_test)))


@torch.no_grad()
def heldout_layer_errors(dense: nn.Module, pruned: nn.Module, batches: Iterable[Mapping[str, Tensor]],
                         layers: Iterable[str] | None = None, outputs: list | None = None) -> dict[str, float]:
    """‖WX − ŴX‖²/‖WX‖² per layer on held-out ``batches`` (dicts of model inputs; padding
    positions, where ``attention_mask`` is 0, are excluded). X is what the layer sees in the
    pruned model; W is the layer of ``dense`` with the same name. If pruning changed the
    bias (``ObsOptions(bias=True)``), the numerator is the whole output error
    ‖(WX + b1ᵀ) − (ŴX + b̂1ᵀ)‖². When ``outputs`` is a list, the
    pruned model's outputs are appended to it (so one pass also gives the embeddings)."""
    dense_modules = dict(dense.named_modules())
    names = list(layers) if layers is not None else [n for n, m in pruned.named_modules()
                                                    if is_prunable(m) and hasattr(m, "weight_mask")]
    modules = dict(pruned.named_modules())
    sums = {n: [0.0, 0.0] for n in names}
    state: dict[str, Tensor | None] = {"mask": None}
    handles = []
    for name in names:
        module = modules[name]
        W = weight_matrix(dense_modules[name]).to(torch.float64)                  # (R, d)
        delta = (W - weight_matrix(module).to(torch.float64)).to(torch.float32)  # float64 difference
        W = W.to(torch.float32)
        b, b_hat = getattr(dense_modules[name], "bias", None), getattr(module, "bias", None)
        delta_b = (b - b_hat).to(torch.float32) if b is not None and b_hat is not None else None   # (R,)

        def hook(mod, args, output, W=W, delta=delta, delta_b=delta_b, name=name):
            x = args[0]
            mask = state["mask"]
            if mask is not None and x.dim() == 3 and tuple(mask.shape) == tuple(x.shape[:2]):
                x = x[mask.to(torch.bool)]
            X = layer_inputs(mod, x).to(W.dtype)                                  # (m, d)
            err = X @ delta.T                                                     # (m, R)
            if delta_b is not None:
                err = err + delta_b
            sums[name][0] += float(err.double().square().sum())
            sums[name][1] += float((X @ W.T).double().square().sum())
        handles.append(module.register_forward_hook(hook))
    try:
        for batch in batches:
            state["mask"] = batch.get("attention_mask")
            out = pruned(**batch)
            if outputs is not None:
                outputs.append(out)
    finally:
        for h in handles:
            h.remove()
    return {n: num / max(den, 1e-300) for n, (num, den) in sums.items()}
