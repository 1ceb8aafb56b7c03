"""Pair / triplet sampling against brute-force checks of each promised property."""

import numpy as np
import pytest

from curvlab.siamese.pairs import PairSet, sample_pairs, sample_triplets

LABELS = np.r_[np.zeros(30), np.ones(5), np.full(12, 2), np.full(8, 7)].astype(int)


def test_pairs_are_balanced_labelled_right_and_unique():
    i, j, y = sample_pairs(LABELS, 60, seed=3)
    assert y.sum() == 30
    for a, b, t in zip(i, j, y):                       # brute force: label = same class
        assert a != b
        assert t == float(LABELS[a] == LABELS[b])
    keys = {(min(a, b), max(a, b)) for a, b in zip(i, j)}
    assert len(keys) == 60


def test_positive_classes_are_drawn_uniformly_not_by_frequency():
    labels = np.r_[np.zeros(200), np.ones(5), np.full(60, 2), np.full(80, 7)].astype(int)
    i, j, y = sample_pairs(labels, 600, seed=0)
    cls = labels[i[y == 1]]
    counts = np.array([np.sum(cls == c) for c in (0, 1, 2, 7)])
    # class 1 has only C(5,2) = 10 distinct pairs; the other three share the rest uniformly
    assert counts[1] == 10
    expected = (300 - 10) / 3
    assert np.all(np.abs(counts[[0, 2, 3]] - expected) < 5 * np.sqrt(expected))


def test_same_seed_same_pairs_and_generator_accepted():
    a = sample_pairs(LABELS, 20, seed=11)
    b = sample_pairs(LABELS, 20, seed=11)
    c = sample_pairs(LABELS, 20, seed=np.random.default_rng(11))
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)


def test_triplets_brute_force():
    a, p, n = sample_triplets(LABELS, 200, seed=1)
    assert np.all(LABELS[a] == LABELS[p]) and np.all(a != p) and np.all(LABELS[a] != LABELS[n])
    assert len(set(zip(a.tolist(), p.tolist(), n.tolist()))) == 200


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 classes"):
        sample_pairs(np.zeros(10), 4)
    with pytest.raises(ValueError, match="even"):
        sample_pairs(LABELS, 5)
    with pytest.raises(ValueError, match="allow only"):
        sample_pairs(np.array([0, 0, 1, 1]), 8)
    with pytest.raises(TypeError, match="seed"):
        sample_pairs(LABELS, 4, seed=1.5)
    with pytest.raises(ValueError, match="one length"):
        PairSet(np.zeros((3, 2)), np.zeros((2, 2)), [1, 0, 1])
    with pytest.raises(ValueError, match="only 0"):
        PairSet(np.zeros((3, 2)), np.zeros((3, 2)), [1, 2, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PairSet(np.zeros((2, 2)), np.zeros((2, 2)), [0.5, 1.5], graded=True)


def test_pairset_batches_cover_every_pair_once():
    x1, x2 = np.arange(10)[:, None], -np.arange(10)[:, None]
    ps = PairSet(x1, x2, np.arange(10) % 2)
    seen = np.concatenate([b[0][:, 0] for b in ps.batches(3, seed=0)])
    np.testing.assert_array_equal(np.sort(seen), np.arange(10))
