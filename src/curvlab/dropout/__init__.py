"""Dropout as regularization (notes §4): train a linear model with dropout, or skip the
sampling and solve the expected (marginalized) objective in closed form.

* :class:`DropoutRegression` — squared loss; ``solver="marginalized"`` gives
  ω = (XᵀX + σ² diag(XᵀX))⁻¹Xᵀy exactly, ``solver="sampled"`` trains by dropout SGD.
* :class:`DropoutLogisticRegression` — logistic loss with the quadratic-approximation
  dropout regularizer of Wager, Wang & Liang (2013), or sampled dropout SGD.
* :mod:`~curvlab.dropout.marginalized` — the corrected (29)–(30) as functions.
* :mod:`~curvlab.dropout.noise` — δ with mean 1 and variance σ² = rate/(1 − rate), and the
  conversion from Srivastava et al.'s retain probability p (rate = 1 − p).
"""

from .logistic import DropoutLogisticRegression, expected_logistic_dropout_loss, quadratic_dropout_penalty
from .marginalized import (
    dropout_energy,
    expected_dropout_gradient,
    expected_dropout_loss,
    fit_marginalized,
    marginalized_penalty,
    notes_expected_gradient,
    notes_regularized_loss,
    plain_loss_gradient,
)
from .noise import noise_variance, rate_from_retain, sample_multipliers
from .regression import DropoutRegression
from .sampled import SampledResult, fit_sampled

__all__ = [
    "DropoutLogisticRegression",
    "DropoutRegression",
    "SampledResult",
    "dropout_energy",
    "expected_dropout_gradient",
    "expected_dropout_loss",
    "expected_logistic_dropout_loss",
    "fit_marginalized",
    "fit_sampled",
    "marginalized_penalty",
    "noise_variance",
    "notes_expected_gradient",
    "notes_regularized_loss",
    "plain_loss_gradient",
    "quadratic_dropout_penalty",
    "rate_from_retain",
    "sample_multipliers",
]
