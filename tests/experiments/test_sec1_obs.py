"""Pieces of the §1 experiments: the data protocol (sizes from scikit-learn's split) and the
rule that hyperparameters are chosen on validation only; the cheap experiments end to end."""

import pytest

from curvlab.experiments import registered, run_experiment
from curvlab.experiments.sec1_obs import digits_split, select_on_validation


def test_digits_split_protocol():
    from sklearn.datasets import load_digits

    d = digits_split()
    n = len(load_digits().target)
    assert (d.X_test.shape[0], d.X_fit.shape[0] + d.X_val.shape[0]) == (450, n - 450)
    assert d.X_val.shape[0] == 270 and float(d.X_fit.max()) <= 1.0


def test_selection_ignores_test_accuracy():
    curves = {0.1: {0.8: (0.90, 0.99)}, 0.01: {0.8: (0.95, 0.50)}}   # (val, test)
    assert select_on_validation(curves, (0.8,))[0.8] == (0.01, 0.95, 0.50)


@pytest.mark.parametrize("name", ["obs-quadratic", "obs-identity"])
def test_cheap_experiments_hold(name):
    exp = next(e for e in registered(["1"]) if e.name == name)
    result = run_experiment(exp, "quick", 0)
    assert result.error is None and all(f.verdict.ok for f in result.findings)
