"""scikit-learn's own estimator test suite (reference: sklearn.utils.estimator_checks)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from curvlab.linear import GLS, OLS, ElasticNet, ElasticNetCV, Ridge

ESTIMATORS = [
    OLS(),
    Ridge(alpha=0.5),
    GLS(),
    ElasticNet(alpha=0.01, l1_ratio=0.5),
    ElasticNetCV(n_alphas=5, cv=3),
]

# Each entry would be an expected failure with the reason it is not a defect; there are none.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def _expected(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    check(estimator)
