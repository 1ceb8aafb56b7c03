"""Dropout noise: multiplicative factors δ with mean 1 and variance σ² (notes §4).

The notes (§4.1) write the dropout output as O_D = Σ_k δ_k ω_k x_k with random δ_k of
mean 1 and variance σ². Two families of δ are used in practice:

* ``"bernoulli"`` — *inverted* dropout: keep x_k with probability 1 − rate and rescale it
  by 1/(1 − rate), i.e. δ ∈ {0, 1/(1 − rate)} with P(δ = 0) = rate. Then
  E[δ] = 1 and Var[δ] = (1 − rate)/(1 − rate)² − 1 = rate/(1 − rate).
* ``"gaussian"`` — multiplicative Gaussian noise δ ~ N(1, σ²) with the *same* variance
  σ² = rate/(1 − rate) (Srivastava et al. 2014, §10).

Conventions. curvlab's ``rate`` is the *drop* probability (PyTorch's ``nn.Dropout(p)``).
Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov, "Dropout: a simple way to
prevent neural networks from overfitting", JMLR 15 (2014), write p for the *retain*
probability; in their §9.1 (linear regression) the expected dropout objective is
‖y − pXw‖² + p(1 − p)‖Γw‖² with Γ = diag(XᵀX)^{1/2}, which after the change of variables
w̃ = pw (the inverted-dropout weights) is ‖y − Xw̃‖² + (1 − p)/p ‖Γw̃‖². Hence

    σ² = rate/(1 − rate) = (1 − p)/p,   rate = 1 − p.

Use :func:`rate_from_retain` to convert a retain probability.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import numpy as np

from .._validation import check_in_range

__all__ = ["KINDS", "Kind", "check_kind", "check_rate", "noise_variance", "rate_from_retain",
           "sample_multipliers"]

Kind = Literal["bernoulli", "gaussian"]
KINDS: tuple[str, ...] = ("bernoulli", "gaussian")


def check_rate(rate) -> float:
    """Return ``rate`` as a float in [0, 1), or raise naming the argument and the fix."""
    try:
        return check_in_range(rate, "rate", 0.0, 1.0)
    except ValueError as exc:
        raise ValueError(
            f"{exc} rate is the probability of dropping an input; pass a value in [0, 1) "
            "(0 = no dropout). For Srivastava et al.'s retain probability p use "
            "rate = 1 - p (see curvlab.dropout.rate_from_retain)."
        ) from None


def check_kind(kind) -> str:
    """Return ``kind`` if it names a noise family, else raise."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    return kind


def noise_variance(rate: float) -> float:
    """σ² = rate/(1 − rate): the variance of δ for both kinds (mean 1).

    >>> noise_variance(0.5)
    1.0
    """
    rate = check_rate(rate)
    return rate / (1.0 - rate)


def rate_from_retain(p: float) -> float:
    """Convert Srivastava et al.'s retain probability p ∈ (0, 1] to curvlab's drop rate 1 − p.

    The difference is taken in decimal on p's shortest representation and rounded once, so
    the rate is the one a person reads off p (1 − 0.8 in binary is 0.19999999999999996):

    >>> rate_from_retain(0.8)
    0.2
    """
    p = check_in_range(p, "p", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    return float(Decimal(1) - Decimal(repr(p)))


def sample_multipliers(rng: np.random.Generator, shape: tuple[int, ...], rate: float,
                       kind: Kind = "bernoulli") -> np.ndarray:
    """Draw δ of ``shape`` with E[δ] = 1 and Var[δ] = rate/(1 − rate).

    ``"bernoulli"``: δ = m/(1 − rate), m ~ Bernoulli(1 − rate) (inverted dropout).
    ``"gaussian"``: δ ~ N(1, rate/(1 − rate)).
    """
    rate = check_rate(rate)
    check_kind(kind)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)); "
                        f"got {type(rng).__name__}.")
    try:
        shape = tuple(int(k) for k in np.atleast_1d(shape))
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"shape must be a tuple of non-negative integers; got {shape!r}.") from None
    if any(k < 0 for k in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers; got {shape!r}.")
    if rate == 0.0:
        return np.ones(shape)
    if kind == "bernoulli":
        keep = rng.random(shape) >= rate  # P(keep) = 1 − rate
        return keep / (1.0 - rate)
    return 1.0 + np.sqrt(rate / (1.0 - rate)) * rng.standard_normal(shape)
