"""Dropout logistic regression: the quadratic-approximation regularizer of Wager, Wang &
Liang (2013), or sampled dropout training (beyond the squared loss of notes §4).

For a generalized linear model with log-partition A — logistic regression has
A(z) = log(1 + eᶻ), y ∈ {0, 1} — the negative log-likelihood of one example is
ℓ(y, z) = A(z) − yz with z = b + xᵀβ. Dropout replaces x by x̃ = δ ⊙ x (E[δ] = 1,
Var[δ] = σ² = rate/(1 − rate)). Because the yz term is linear in x̃, its expectation is
unchanged, and the whole effect of the noise is

    E[ℓ(y, z̃)] − ℓ(y, z) = E[A(z̃)] − A(z) ≈ ½ A''(z) Var[z̃] = ½ A''(z) σ² Σ_j x_j² β_j²,

the second-order Taylor expansion of A about z (Wager, Wang & Liang, "Dropout training as
adaptive regularization", NeurIPS 2013, eq. for R^q). With A''(z) = p(1 − p), p = sigmoid(z),
the marginalized objective is

    J_q(β, b) = Σ_n s_n [A(z_n) − y_n z_n] + (σ²/2) Σ_n s_n p_n(1 − p_n) Σ_j x_nj² β_j².

For squared loss, A(z) = z²/2 up to scaling and the expansion is exact: the penalty
reduces to σ² Σ_j β_j² Σ_n x_nj², the corrected (30). Here A'' is not constant, so the
penalty is strongest on examples whose prediction is uncertain (p ≈ ½) — the "adaptive"
regularization. :class:`DropoutLogisticRegression` minimizes J_q with L-BFGS (analytic
gradient, including the dependence of p_n on β) or trains by sampled dropout SGD.

For Gaussian noise z̃ ~ N(z, σ² Σ_j x_j² β_j²) exactly, so E[A(z̃)] can be computed by 1-D
Gauss–Hermite quadrature (:func:`expected_logistic_dropout_loss`): the reference against
which the quadratic approximation is measured.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._validation import (as_real_array, check_finite_scalar, check_not_complex, check_positive,
                           check_positive_int, check_sample_weight_input)
from .noise import check_kind, check_rate
from .regression import _RollbackFit, check_sgd_params, validate_predict_x, validate_xy
from .sampled import fit_sampled

__all__ = ["DropoutLogisticRegression", "expected_logistic_dropout_loss", "logistic_objective",
           "quadratic_dropout_penalty"]

log = logging.getLogger(__name__)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check_glm(X, y, beta, b, sample_weight):
    X = as_real_array(X, "X", ndim=2)
    y = as_real_array(y, "y", ndim=1)
    beta = as_real_array(beta, "beta", ndim=1)
    if beta.shape[0] != X.shape[1]:
        raise ValueError(f"beta must have one entry per column of X ({X.shape[1]}); got {beta.shape[0]}.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}.")
    s = check_sample_weight_input(sample_weight, X.shape[0])
    s = np.ones(X.shape[0]) if s is None else s
    check_not_complex(b, "b")
    return X, y, beta, check_finite_scalar(b, "b"), s


def quadratic_dropout_penalty(X, beta, sigma2: float, b: float = 0.0, sample_weight=None) -> float:
    """R^q(β) = (σ²/2) Σ_n s_n p_n(1 − p_n) Σ_j x_nj² β_j²  (Wager, Wang & Liang 2013)."""
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    X = as_real_array(X, "X", ndim=2)
    X, _, beta, b, s = _check_glm(X, np.zeros(X.shape[0]), beta, b, sample_weight)
    p = _sigmoid(X @ beta + b)
    return float(0.5 * sigma2 * np.sum(s * p * (1 - p) * ((X**2) @ beta**2)))


def logistic_objective(params: np.ndarray, X: np.ndarray, y: np.ndarray, s: np.ndarray,
                       sigma2: float, fit_intercept: bool) -> tuple[float, np.ndarray]:
    """J_q and its gradient, both divided by Σ s (params = [β, b] or [β]).

    ∂J_q/∂β_j = Σ s (p − y) x_j + σ² β_j Σ s A'' x_j² + (σ²/2) Σ s A''' q x_j,
    ∂J_q/∂b   = Σ s (p − y) + (σ²/2) Σ s A''' q,
    with A'' = p(1 − p), A''' = p(1 − p)(1 − 2p), q_n = Σ_j x_nj² β_j².
    """
    d = X.shape[1]
    beta = params[:d]
    b = params[d] if fit_intercept else 0.0
    z = X @ beta + b
    p = _sigmoid(z)
    X2 = X**2
    q = X2 @ beta**2  # (N,): Var[z̃]/σ²
    A2 = p * (1 - p)
    A3 = A2 * (1 - 2 * p)
    total = s.sum()
    nll = np.logaddexp(0.0, z) - y * z
    value = (s @ nll + 0.5 * sigma2 * (s * A2) @ q) / total
    g_z = s * ((p - y) + 0.5 * sigma2 * A3 * q)  # (N,): ∂/∂z_n of both terms
    grad_beta = (X.T @ g_z + sigma2 * beta * (X2.T @ (s * A2))) / total
    if fit_intercept:
        return float(value), np.append(grad_beta, g_z.sum() / total)
    return float(value), grad_beta


def expected_logistic_dropout_loss(X, y, beta, sigma2: float, b: float = 0.0, sample_weight=None,
                                   *, nodes: int = 60) -> float:
    """Exact E[Σ s ℓ(y, z̃)] under *Gaussian* dropout, by Gauss–Hermite quadrature.

    z̃_n ~ N(z_n, σ² q_n) with q_n = Σ_j x_nj² β_j², so E[A(z̃_n)] = E_u[A(z_n + σ√q_n u)],
    u ~ N(0, 1), computed with ``nodes`` probabilists' Gauss–Hermite points.
    """
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    nodes = check_positive_int(nodes, "nodes")
    X, y, beta, b, s = _check_glm(X, y, beta, b, sample_weight)
    u, weights = np.polynomial.hermite_e.hermegauss(nodes)
    weights = weights / weights.sum()  # E_u[f(u)] ≈ Σ w f(u)
    z = X @ beta + b
    sd = np.sqrt(sigma2 * ((X**2) @ beta**2))
    EA = np.logaddexp(0.0, z[:, None] + sd[:, None] * u[None, :]) @ weights  # (N,)
    return float(s @ (EA - y * z))


class DropoutLogisticRegression(_RollbackFit, ClassifierMixin, BaseEstimator):
    """Binary logistic regression with input dropout: marginalized (Wager et al. 2013) or sampled.

    Parameters are those of :class:`~curvlab.dropout.DropoutRegression`; ``solver=
    "marginalized"`` minimizes J_q (module docstring) with L-BFGS for at most ``max_iter``
    iterations to gradient tolerance ``tol``; ``solver="sampled"`` runs ``max_iter`` epochs
    of dropout SGD on the logistic loss.

    Note: on linearly separable data the quadratic penalty vanishes as ‖β‖ → ∞ (A'' → 0),
    so J_q, like the plain likelihood, may have no finite minimizer; L-BFGS then stops at
    ``max_iter`` with a ``ConvergenceWarning``.

    Attributes
    ----------
    classes_ : the two labels. coef_ : (d,) β. intercept_ : b. sigma2_ : σ².
    n_iter_ : iterations (L-BFGS) or epochs (SGD). loss_history_ : sampled solver only.
    """

    def __init__(self, rate: float = 0.2, *, kind: str = "bernoulli", solver: str = "marginalized",
                 fit_intercept: bool = True, max_iter: int = 200, tol: float = 1e-8,
                 batch_size: int = 32, lr: float | str = "auto", lr_schedule: str = "invscaling",
                 power_t: float = 0.5, average: bool = True,
                 seed: int | np.random.Generator | None = 0, progress: bool | None = None):
        self.rate = rate
        self.kind = kind
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.average = average
        self.seed = seed
        self.progress = progress

    def _fit(self, X, y, sample_weight=None) -> "DropoutLogisticRegression":
        """Fit β and b. X (N, d); y with exactly two classes; sample_weight (N,) ≥ 0."""
        rate = check_rate(self.rate)
        check_kind(self.kind)
        lr = check_sgd_params(self)
        tol = check_positive(self.tol, "tol")
        X, y, sw = validate_xy(self, X, y, sample_weight, numeric_y=False)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if self.classes_.size != 2:
            raise ValueError(f"Only binary classification is supported; y has {self.classes_.size} "
                             f"classes ({self.classes_[:5]!r}). Wrap the estimator in "
                             "sklearn.multiclass.OneVsRestClassifier for more classes.")
        y01 = y01.astype(np.float64)
        s = np.ones(X.shape[0]) if sw is None else sw
        sigma2 = rate / (1.0 - rate)
        d = X.shape[1]
        if self.solver == "marginalized":
            x0 = np.zeros(d + int(bool(self.fit_intercept)))
            # L-BFGS does many tiny BLAS calls: threads only add contention on small problems
            with threadpool_limits(limits=1, user_api="blas"):
                res = scipy.optimize.minimize(
                    logistic_objective, x0, args=(X, y01, s, sigma2, bool(self.fit_intercept)),
                    jac=True, method="L-BFGS-B",
                    options={"maxiter": int(self.max_iter), "gtol": tol, "ftol": 1e-15},
                )
            if not res.success:
                warnings.warn(f"L-BFGS did not converge in {self.max_iter} iterations ({res.message}); "
                              "increase max_iter, or the data may be separable (see class docstring).",
                              ConvergenceWarning, stacklevel=2)
            coef = res.x[:d]
            intercept = float(res.x[d]) if self.fit_intercept else 0.0
            self.n_iter_ = int(res.nit)
        else:
            result = fit_sampled(
                X, y01, rate, kind=self.kind, loss="logistic", fit_intercept=self.fit_intercept,
                sample_weight=sw, epochs=int(self.max_iter),
                batch_size=int(self.batch_size), lr=lr, lr_schedule=self.lr_schedule,
                power_t=float(self.power_t), average=bool(self.average), seed=self.seed,
                progress=self.progress,
            )
            coef, intercept = result.coef, result.intercept
            self.loss_history_ = result.loss_history
            self.n_iter_ = int(self.max_iter)
        self.coef_, self.intercept_, self.sigma2_ = coef, intercept, sigma2
        return self

    def decision_function(self, X) -> np.ndarray:
        """z = b + Xβ, shape (N,); positive means ``classes_[1]``."""
        X = validate_predict_x(self, X)
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """[1 − p, p] with p = sigmoid(z), shape (N, 2)."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """The label of each row: ``classes_[1]`` where z > 0."""
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
