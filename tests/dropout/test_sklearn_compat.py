"""scikit-learn's estimator contract (reference: ``sklearn.utils.estimator_checks``)."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from curvlab.dropout import DropoutLogisticRegression, DropoutRegression

# Sampled dropout SGD is stochastic: weighting a row by 2 and repeating it are equal only in
# expectation, never draw for draw (sklearn marks its own SGD estimators the same way).
_SGD_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "stochastic solver: weights and repeated rows agree only in expectation",
    "check_sample_weight_equivalence_on_sparse_data":
        "stochastic solver: weights and repeated rows agree only in expectation",
}


def _expected_failed_checks(estimator):
    if getattr(estimator, "solver", None) == "sampled":
        return _SGD_XFAIL
    return {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # separable toy data
@parametrize_with_checks(
    [
        DropoutRegression(),
        DropoutRegression(rate=0.5, kind="gaussian"),
        DropoutRegression(solver="sampled", max_iter=20),
        DropoutLogisticRegression(max_iter=30),  # few L-BFGS steps: the toy data are separable
        DropoutLogisticRegression(solver="sampled", max_iter=20),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
