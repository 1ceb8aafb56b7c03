"""§2–§3 of the notes: OLS, ridge, GLS and elastic net as scikit-learn estimators.

>>> from curvlab.linear import OLS, GLS, AR1, Ridge, ElasticNet, ols_equals_gls
"""

from .theory import *  # noqa: F401,F403  (the lead's §2 theory: expected_training_error, ...)
from .theory import __all__ as _theory_all

from ._solvers import RankDeficiencyWarning
from .covariance import AR1, DiagonalCovariance, FullCovariance
from .elastic_net import ElasticNet, ElasticNetCV, enet_objective
from .enet_path import enet_path, notes_to_sklearn, sklearn_to_notes
from .gls import GLS
from .kruskal import KruskalResult, ols_equals_gls
from .ols import OLS
from .ridge import Ridge

__all__ = list(_theory_all) + [
    "AR1", "DiagonalCovariance", "ElasticNet", "ElasticNetCV", "FullCovariance", "GLS", "KruskalResult", "OLS",
    "RankDeficiencyWarning", "Ridge", "enet_objective", "enet_path",
    "notes_to_sklearn", "ols_equals_gls", "sklearn_to_notes",
]
