"""Evaluation metrics against scikit-learn, brute force, and exact enumeration."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from curvlab.siamese.evaluate import (average_precision, fit_threshold, one_shot_accuracy, recall_at_k,
                                      roc_auc, verification_report)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_ap_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding makes ties
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_threshold_is_the_best_over_all_cuts_brute_force():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    s = rng.normal(size=80) + 1.2 * y
    tau = fit_threshold(s, y)
    acc = np.mean((s >= tau) == (y == 1))
    cuts = np.r_[np.sort(s), np.inf]
    best = max(np.mean((s >= c) == (y == 1)) for c in cuts)
    assert acc == pytest.approx(best)


def test_frozen_threshold_is_used_as_given():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.1, 0.4, 0.6])
    rep = verification_report(s, y, threshold=0.5)
    assert rep.threshold == 0.5 and rep.accuracy == pytest.approx(0.5)


def test_one_shot_matches_exact_enumeration():
    # 2 classes of 3 one-dimensional points; exact 2-way accuracy over all episodes.
    E = np.array([[0.0], [1.03], [2.47], [1.61], [3.09], [4.17]])  # no distance ties
    lab = np.array([0, 0, 0, 1, 1, 1])
    members = [np.flatnonzero(lab == c) for c in (0, 1)]
    total, right = 0.0, 0.0
    for s0, s1 in itertools.product(*members):
        sup = [s0, s1]
        for t in (0, 1):
            queries = [q for q in members[t] if q != sup[t]]
            for q in queries:
                w = 0.5 / len(queries) / 9                  # P(target) P(query) P(supports)
                d = [abs(E[q, 0] - E[s, 0]) for s in sup]
                right += w * (int(np.argmin(d)) == t)
                total += w
    exact = right / total
    mc = one_shot_accuracy(E, lab, n_way=2, n_episodes=4000, seed=0)
    assert abs(mc - exact) < 4 * np.sqrt(exact * (1 - exact) / 4000)


def test_one_shot_perfect_features_and_bad_input():
    lab = np.repeat(np.arange(5), 4)
    assert one_shot_accuracy(np.eye(5)[lab], lab, n_way=5, n_episodes=50) == 1.0
    with pytest.raises(ValueError, match="n_way=6"):
        one_shot_accuracy(np.eye(5)[lab], lab, n_way=6)
    with pytest.raises(ValueError, match="one length"):
        one_shot_accuracy(np.eye(5)[lab][:-1], lab, n_way=2)


def test_recall_at_k_brute_force():
    rng = np.random.default_rng(0)
    Q, D = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    for k in (1, 3):
        hits = [i in np.argsort(-(Dn @ Qn[i]), kind="stable")[:k] for i in range(30)]
        assert recall_at_k(Q, D, k) == pytest.approx(np.mean(hits))


def test_metrics_reject_bad_labels():
    with pytest.raises(ValueError, match="both similar"):
        roc_auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="only 0"):
        roc_auc([0.1, 0.2], [1, 3])
    with pytest.raises(ValueError, match="one length"):
        average_precision([0.1, 0.2, 0.3], [1, 0])
