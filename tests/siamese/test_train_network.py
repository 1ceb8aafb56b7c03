"""Network wrapper and training loop: checked against sklearn's AUC, state dicts, and warnings."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from curvlab.siamese import (CollapseWarning, FilterEncoder, MLPEncoder, PairSet, SiameseNetwork,
                             TanhEncoder, TrainConfig, l2_of_weights, train)
from curvlab.siamese.augment import shift_augment
from curvlab.siamese.pairs import sample_pairs


def _blobs(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(n, d)).astype(np.float32) * 0.3 + np.eye(3, d, dtype=np.float32)[labels] * 2
    return X, labels


def test_best_weights_are_restored_and_score_matches_sklearn():
    X, labels = _blobs()
    torch.manual_seed(0)
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    cfg = TrainConfig(epochs=4, pairs_per_epoch=128, batch_size=32, n_val_pairs=100, progress=False)
    hist = train(net, (X, labels), val=(X, labels), config=cfg)
    i, j, y = sample_pairs(labels, 100, cfg.seed + 7919)          # the validation pairs train() draws
    ref = roc_auc_score(y, net.similarity(X[i], X[j]))            # peer AUC of the restored weights
    assert ref == pytest.approx(hist.best_score, abs=1e-6)


def test_shared_weights_and_symmetric_distance():
    net = SiameseNetwork(TanhEncoder(3, 2))
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    e1, _ = net(a, b)
    torch.testing.assert_close(e1, net.encoder(a))
    torch.testing.assert_close(net.distance(a, b), net.distance(b, a))
    ref = torch.linalg.norm(net.encoder(a) - net.encoder(b), dim=1)
    torch.testing.assert_close(net.distance(a, b), ref, atol=1e-5, rtol=1e-5)


def test_notes_loss_collapses_with_warning():
    X, labels = _blobs()
    net = SiameseNetwork(TanhEncoder(4, 3))
    cfg = TrainConfig(loss="notes", l2=1.0, optimizer="sgd", lr=0.1, epochs=150, pairs_per_epoch=64,
                      batch_size=64, progress=False, n_val_pairs=60)
    with pytest.warns(CollapseWarning):
        hist = train(net, (X, labels), config=cfg)
    assert hist.collapsed
    assert float(net.encode(torch.tensor(X)).norm(dim=1).max()) < 0.05   # the codes went to the origin


def test_threshold_frozen_and_predict():
    X, labels = _blobs()
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    with pytest.raises(ValueError, match="fit_threshold"):
        net.predict(X[:3], X[3:6])
    i, j, y = sample_pairs(labels, 40, 0)
    net.fit_threshold(X[i], X[j], y)
    s = net.similarity(X[:10], X[10:20])
    np.testing.assert_array_equal(net.predict(X[:10], X[10:20]), (s >= net.threshold_).astype(int))


def test_failures_leave_model_unchanged_and_bad_input():
    X, labels = _blobs()
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match="non-finite"):
        train(net, (X * 1e30, labels), config=TrainConfig(epochs=1, optimizer="sgd", lr=1e10, progress=False))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])
    with pytest.raises(ValueError, match="at least 2 classes"):
        train(net, (X, np.zeros(len(X))), config=TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="one length"):
        train(net, (X, labels[:-1]), config=TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="loss must be one of"):
        train(net, (X, labels), config=TrainConfig(loss="hinge", progress=False))
    with pytest.raises(ValueError, match="2-D"):
        SiameseNetwork(torch.nn.Unflatten(1, (2, 2))).embed(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same number of pairs"):
        net.distance(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="only 0"):
        PairSet(X[:2], X[2:4], [1, 5])


def test_explicit_pairs_train_and_l2_term():
    X, labels = _blobs()
    i, j, y = sample_pairs(labels, 60, 1)
    net = SiameseNetwork(MLPEncoder(4, (8,), 2))
    hist = train(net, PairSet(X[i], X[j], y), config=TrainConfig(epochs=2, progress=False))
    assert len(hist.epochs) == 2
    ref = sum(float((p ** 2).sum()) for n, p in net.encoder.named_parameters() if n.endswith("weight"))
    assert float(l2_of_weights(net.encoder)) == pytest.approx(ref, rel=1e-6)


def test_filter_encoder_starts_at_pixels_and_shift_is_a_shift():
    torch.manual_seed(0)
    enc = FilterEncoder(kernel_size=3, init_noise=0.0)
    x = torch.rand(4, 64)
    torch.testing.assert_close(enc(x), x)
    out = shift_augment(x, torch.Generator().manual_seed(0), max_shift=1)
    imgs = x.reshape(4, 8, 8)
    for b in range(4):   # brute force: the output equals one of the 9 zero-filled shifts
        cands = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                z = torch.zeros(10, 10)
                z[1:9, 1:9] = imgs[b]
                cands.append(z[1 + dy:9 + dy, 1 + dx:9 + dx].reshape(64))
        assert any(torch.allclose(out[b], c) for c in cands)
