"""Losses against naive per-pair formulas, torch's own losses, and autograd gradcheck."""

import math

import numpy as np
import pytest
import torch

from curvlab.siamese.losses import (contrastive_loss, cosine_similarity_loss, in_batch_softmax_loss,
                                    notes_pair_loss, triplet_margin_loss, validate_pair_labels)


def _emb(n=8, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, k, generator=g, dtype=torch.float64),
            torch.randn(n, k, generator=g, dtype=torch.float64))


def test_contrastive_matches_naive_loop_with_one_is_similar():
    e1, e2 = _emb()
    y = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0], dtype=torch.float64)
    m = 2.0
    naive = []
    for a, b, t in zip(e1.tolist(), e2.tolist(), y.tolist()):
        D = math.dist(a, b)
        naive.append(0.5 * D ** 2 if t == 1 else 0.5 * max(0.0, m - D) ** 2)
    assert contrastive_loss(e1, e2, y, margin=m).item() == pytest.approx(np.mean(naive), abs=1e-10)


def test_contrastive_convention_similar_identical_pair_costs_nothing():
    e = torch.randn(4, 3, dtype=torch.float64)
    assert contrastive_loss(e, e, torch.ones(4)).item() == pytest.approx(0.0, abs=1e-10)
    # the same identical pair labelled dissimilar costs ½m² (Hadsell's Y = 1 side)
    assert contrastive_loss(e, e, torch.zeros(4), margin=1.5).item() == pytest.approx(0.5 * 1.5 ** 2, abs=1e-5)


def test_contrastive_gradcheck():
    e1, e2 = _emb(4)
    e1.requires_grad_(True), e2.requires_grad_(True)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: contrastive_loss(a, b, y, margin=3.0), (e1, e2))


def test_triplet_matches_torch_triplet_margin_loss():
    a, p = _emb(seed=1)
    n, _ = _emb(seed=2)
    ref = torch.nn.TripletMarginLoss(margin=0.7, eps=0.0)(a, p, n)  # peer implementation
    assert triplet_margin_loss(a, p, n, margin=0.7).item() == pytest.approx(ref.item(), abs=1e-6)


def test_cosine_loss_matches_formula():
    e1, e2 = _emb()
    y = torch.linspace(0, 1, 8, dtype=torch.float64)
    cos = [np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(e1.numpy(), e2.numpy())]
    assert cosine_similarity_loss(e1, e2, y).item() == pytest.approx(np.mean((np.array(cos) - y.numpy()) ** 2))


def test_in_batch_softmax_matches_brute_force():
    e1, e2 = _emb(5)
    a, c = e1.numpy(), e2.numpy()
    s = 7.0

    def direction(u, v):                                                 # Σ_i −log softmax_i of row i
        total = 0.0
        for i in range(5):
            logits = [s * np.dot(u[i], v[j]) / np.linalg.norm(u[i]) / np.linalg.norm(v[j]) for j in range(5)]
            total += -logits[i] + math.log(sum(math.exp(t) for t in logits))
        return total

    assert in_batch_softmax_loss(e1, e2, scale=s).item() == pytest.approx(direction(a, c) / 5, rel=1e-10)
    assert in_batch_softmax_loss(e1, e2, scale=s, symmetric=True).item() == pytest.approx(
        (direction(a, c) + direction(c, a)) / 10, rel=1e-10)                # e₂ᵢ among all e₁ too


def test_notes_pair_loss_equals_half_distance_plus_half_norms():
    h1, h2 = _emb()
    alt = 0.5 * ((h1 - h2) ** 2).sum(1) + 0.5 * (h1 ** 2).sum(1) + 0.5 * (h2 ** 2).sum(1)
    assert notes_pair_loss(h1, h2).item() == pytest.approx(alt.mean().item(), rel=1e-12)


def test_labels_other_than_zero_one_are_rejected():
    e1, e2 = _emb(3)
    with pytest.raises(ValueError, match="only 0 .dissimilar. and 1"):
        contrastive_loss(e1, e2, torch.tensor([1.0, -1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cosine_similarity_loss(e1, e2, torch.tensor([1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="margin"):
        contrastive_loss(e1, e2, torch.ones(3), margin=0.0)
    with pytest.raises(ValueError, match="NaN"):
        validate_pair_labels([1.0, float("nan")])
