"""The §4 experiments: their Monte Carlo pieces against exact references, and the cheap
experiments end to end at quick size (the expensive ones are covered piecewise)."""

from __future__ import annotations

import itertools

import numpy as np

from curvlab.experiments import sec4_dropout as sec4
from curvlab.experiments.findings import Verdict


def test_mc_gradient_matches_exact_bernoulli_enumeration():
    # Reference: the exact expectation over all 2^(N·d) masks for a tiny problem, written as a loop.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2, 2)), rng.normal(size=2)
    w, rate = np.array([-1.0, 2.0]), 0.4
    exact = np.zeros(2)
    for keep in itertools.product([0, 1], repeat=4):
        keep = np.array(keep, float).reshape(2, 2)
        prob = np.prod(np.where(keep == 1, 1 - rate, rate))
        delta = keep / (1 - rate)
        for n in range(2):
            x_t = delta[n] * X[n]
            exact += prob * (-2.0 * (y[n] - x_t @ w) * x_t) / 2
    mean, se = sec4._mc_gradient(X, y, w, rate, "bernoulli", 20_000, np.random.default_rng(1))
    assert np.all(np.abs(mean - exact) < 4 * se)


def test_alternating_w_separates_the_two_forms():
    # Reference: ω − ω² computed by hand for ω ∈ {−1, 2}.
    w = sec4._alternating_w(5)
    np.testing.assert_array_equal(w - w**2, np.full(5, -2.0))


def test_cheap_experiments_at_quick_size():
    # Reference: the verdicts the measurements must reach (corrected / holds), figure prefixes.
    findings = sec4.expected_loss("quick", 0) + sec4.ridge_equivalence("quick", 0)
    verdicts = [f.verdict for f in findings]
    assert verdicts == [Verdict.CORRECTED, Verdict.CORRECTED, Verdict.HOLDS]
    for f in findings:
        assert f.section == "4" and f.ref.startswith("§4")
        f.to_dict()  # JSON-ready


def test_same_seed_same_findings():
    a = sec4.expected_loss("quick", 3)
    b = sec4.expected_loss("quick", 3)
    assert [f.measured for f in a] == [f.measured for f in b]
