"""Compact History / PairSet reprs; train restores the same Parameters on failure."""

import numpy as np
import pytest
import torch

from curvlab.siamese import MLPEncoder, PairSet, SiameseNetwork, TrainConfig, train


def _data():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    X = rng.normal(size=(60, 4)) + labels[:, None]
    return X, labels


def test_history_repr_is_short_and_reports_the_best_epoch():
    torch.manual_seed(0)
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    X, labels = _data()
    hist = train(net, (X, labels), val=(X, labels),
                 config=TrainConfig(epochs=30, pairs_per_epoch=64, batch_size=32, progress=False, n_val_pairs=64))
    text = repr(hist)
    assert f"epochs={len(hist.epochs)}" in text and f"best_epoch={hist.best_epoch}" in text
    assert f"best_score={hist.best_score:.4g}" in text and len(text) < 200


def test_pairset_repr_does_not_print_the_data():
    ps = PairSet(np.zeros((1000, 64)), np.zeros((1000, 64)), np.arange(1000) % 2)
    assert repr(ps) == "PairSet(pairs=1000, similar=500, x1/x2: ndarray of rows (64,), graded=False)"


def test_a_failing_validation_metric_restores_the_initial_weights_in_place():
    torch.manual_seed(0)
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    params = list(net.parameters())
    before = [p.detach().clone() for p in params]
    calls = {"n": 0}

    def metric(n):
        calls["n"] += 1
        if calls["n"] == 2:     # after one epoch of updates
            raise ArithmeticError("metric failed")
        return 0.5

    with pytest.raises(ArithmeticError):
        train(net, _data(), val=_data(), val_metric=metric,
              config=TrainConfig(epochs=5, pairs_per_epoch=64, batch_size=32, progress=False, n_val_pairs=64))
    assert all(p is q for p, q in zip(params, net.parameters()))
    assert all(torch.equal(p.detach(), b) for p, b in zip(params, before))
