"""The expected dropout loss of a linear model and its exact minimizer (notes §4).

For one example (x, y) and dropout factors δ_k (E[δ_k] = 1, Var[δ_k] = σ², independent),
the dropout output is O_D = Σ_k δ_k ω_k x_k and J_D = (y − O_D)². Because
E[δ_i δ_k] = 1 + σ² [i = k],

    E[∂J_D/∂ω_i] = −2y x_i + 2 Σ_k ω_k x_k x_i + 2σ² ω_i x_i²
                 = ∂J_N/∂ω_i + 2σ² ω_i x_i²                          (29, corrected)

    E[J_D]       = (y − Σ_k ω_k x_k)² + σ² Σ_k ω_k² x_k²              (30, corrected)

The notes write the extra gradient term of (28)–(29) as 2σ² ω_i² x_i² (ω_i squared) and
keep the random δ_k inside the data term of (30); both are wrong (DESIGN.md) and the
functions ``notes_*`` below evaluate the notes' forms only so that the experiments can
show, by measurement, that they fail.

Summed over a data set with sample weights s_n, the expected loss is

    J_R(ω, b) = Σ_n s_n (y_n − b − x_nᵀω)² + σ² Σ_k ω_k² D_k,   D_k = Σ_n s_n x_nk²,

a ridge penalty scaled by each feature's (uncentred) energy D = diag(XᵀSX). Its minimizer
without intercept is

    ω = (XᵀSX + σ² diag(XᵀSX))⁻¹ XᵀSy.

The intercept b is never dropped, so it is not penalized: b = ȳ − x̄ᵀω with weighted means,
and ω solves the same system with X, y centred in the data term — but D stays the energy
of the *uncentred* inputs, because dropout multiplies the raw x_k. Equivalently, with
x̃_k = x_k / √D_k, the problem is ridge with α = σ² on x̃ (coefficients ω_k = ω̃_k / √D_k);
:func:`fit_marginalized` solves it in that scaled form by Cholesky: the scaled matrix
X̃_cᵀSX̃_c + σ²I has eigenvalues in [σ², d + σ²], so it is well conditioned for any σ² > 0.
At σ² = 0 (rate 0) it is ordinary least squares, solved by ``scipy.linalg.lstsq`` (minimum
norm on collinear data), as scikit-learn's ``LinearRegression`` does.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .._validation import as_real_array, check_positive, check_sample_weight_input

__all__ = [
    "dropout_energy",
    "expected_dropout_gradient",
    "expected_dropout_loss",
    "fit_marginalized",
    "marginalized_penalty",
    "notes_expected_gradient",
    "notes_regularized_loss",
    "plain_loss_gradient",
]


def _check_xyw(x, y, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = as_real_array(x, "x", ndim=(1, 2))
    X = x[None, :] if x.ndim == 1 else x  # (N, d)
    w = as_real_array(w, "w", ndim=1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w must have one entry per feature ({X.shape[1]}); got {w.shape[0]}.")
    y = np.atleast_1d(as_real_array(y, "y", ndim=(0, 1)))
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of x ({X.shape[0]}); got {y.shape[0]}.")
    return X, y, w


def check_fit_inputs(X, y, sample_weight):
    """X (N, d), y (N,) finite real arrays and sample_weight (N,) ≥ 0 or None, else raise."""
    X = as_real_array(X, "X", ndim=2)
    y = as_real_array(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}.")
    return X, y, check_sample_weight_input(sample_weight, X.shape[0])


def dropout_energy(X: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """D = diag(XᵀSX) = Σ_n s_n x_nk², shape (d,): the per-feature scale of the penalty."""
    X = as_real_array(X, "X", ndim=2)
    sample_weight = check_sample_weight_input(sample_weight, X.shape[0])
    if sample_weight is None:
        return np.einsum("nk,nk->k", X, X)
    return np.einsum("n,nk,nk->k", sample_weight, X, X)


def plain_loss_gradient(x, y, w) -> np.ndarray:
    """∂J_N/∂ω summed over rows: −2 Σ_n (y_n − x_nᵀω) x_n  (27). Shape (d,)."""
    X, y, w = _check_xyw(x, y, w)
    return -2.0 * X.T @ (y - X @ w)


def expected_dropout_gradient(x, y, w, sigma2: float) -> np.ndarray:
    """E[∂J_D/∂ω] = ∂J_N/∂ω + 2σ² ω ⊙ Σ_n x_n²  (29, corrected). Shape (d,).

    ``x`` is one example (d,) or a batch (N, d) (the gradients are summed over rows).
    """
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    X, y, w = _check_xyw(x, y, w)
    return plain_loss_gradient(X, y, w) + 2.0 * sigma2 * w * dropout_energy(X)


def notes_expected_gradient(x, y, w, sigma2: float) -> np.ndarray:
    """The notes' (29) as written: ∂J_N/∂ω + 2σ² ω² ⊙ Σ_n x_n² (ω squared — wrong)."""
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    X, y, w = _check_xyw(x, y, w)
    return plain_loss_gradient(X, y, w) + 2.0 * sigma2 * w**2 * dropout_energy(X)


def marginalized_penalty(x, w, sigma2: float) -> float:
    """σ² Σ_k ω_k² Σ_n x_nk²: the regularizer of (30)."""
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    x = as_real_array(x, "x", ndim=(1, 2))
    X = x[None, :] if x.ndim == 1 else x  # (N, d)
    w = as_real_array(w, "w", ndim=1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w must have one entry per feature ({X.shape[1]}); got {w.shape[0]}.")
    return float(sigma2 * np.sum(w**2 * dropout_energy(X)))


def expected_dropout_loss(x, y, w, sigma2: float) -> float:
    """E[J_D] = Σ_n (y_n − x_nᵀω)² + σ² Σ_k ω_k² Σ_n x_nk²  (30, corrected)."""
    X, y, w = _check_xyw(x, y, w)
    return float(np.sum((y - X @ w) ** 2)) + marginalized_penalty(X, w, sigma2)


def notes_regularized_loss(x, y, w, sigma2: float, delta: np.ndarray) -> np.ndarray:
    """The notes' (30) as written, for given draws ``delta`` of shape (R, N, d) or (R, d).

    J_R = (y − Σ_k δ_k ω_k x_k)² + σ² Σ_k ω_k² x_k², one value per draw (R,). Its mean is
    E[J_D] + σ² Σ ω_k² x_k², so it over-counts the penalty: the random data term already
    carries it.
    """
    X, y, w = _check_xyw(x, y, w)
    delta = as_real_array(delta, "delta", ndim=(2, 3))
    if delta.ndim == 2:
        delta = delta[:, None, :]  # (R, 1, d): one example
    if delta.shape[1:] != X.shape:
        raise ValueError(f"delta must have shape (R, {X.shape[0]}, {X.shape[1]}) (or (R, "
                         f"{X.shape[1]}) for one example); got {delta.shape}.")
    O_D = np.einsum("rnk,nk,k->rn", delta, X, w)  # (R, N)
    return np.sum((y - O_D) ** 2, axis=1) + marginalized_penalty(X, w, sigma2)


def fit_marginalized(X: np.ndarray, y: np.ndarray, sigma2: float, *, fit_intercept: bool = True,
                     sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Exact minimizer of the expected dropout loss J_R (30, corrected). Returns (ω, b).

    ω = (X_cᵀSX_c + σ² diag(XᵀSX))⁻¹ X_cᵀS y_c, b = ȳ − x̄ᵀω, where X_c, y_c are centred by
    the weighted means when ``fit_intercept`` (else X_c = X, b = 0) and the penalty uses
    the energy D of the uncentred X (dropout acts on the raw inputs). σ² = 0 is ordinary
    (weighted) least squares, minimum-norm when X is rank deficient.

    X (N, d) finite, y (N,), sample_weight (N,) ≥ 0 or None (each checked, naming the argument).
    """
    X, y, sample_weight = check_fit_inputs(X, y, sample_weight)
    sigma2 = check_positive(sigma2, "sigma2", strict=False)
    N, d = X.shape
    s = np.ones(N) if sample_weight is None else np.asarray(sample_weight, float)
    if fit_intercept:
        total = s.sum()
        if total <= 0:
            raise ValueError("sample_weight sums to zero; give at least one sample a positive weight.")
        x_mean = s @ X / total  # (d,)
        y_mean = float(s @ y / total)
        X_c, y_c = X - x_mean, y - y_mean
    else:
        x_mean, y_mean = np.zeros(d), 0.0
        X_c, y_c = X, y
    sqrt_s = np.sqrt(s)
    A = X_c * sqrt_s[:, None]  # (N, d): √S X_c
    rhs = y_c * sqrt_s
    if sigma2 == 0:
        # ordinary least squares, minimum-norm if rank deficient (as sklearn LinearRegression)
        w, *_ = scipy.linalg.lstsq(A, rhs, check_finite=False)
    else:
        D = dropout_energy(X, s)  # diag(XᵀSX) of the raw inputs
        live = D > np.finfo(float).tiny  # an all-zero column has ω_k = 0 (minimum norm; it never affects the fit)
        w = np.zeros(d)
        scale = 1.0 / np.sqrt(D[live])  # Jacobi scaling: x̃_k = x_k/√D_k
        A_tilde = A[:, live] * scale  # (N, d_live)
        # w̃ = inv(X̃_cᵀSX̃_c + σ²I) X̃_cᵀS y_c, ω = w̃/√D. The scaled Gram has unit-bounded diagonal,
        # so its eigenvalues lie in [σ², d + σ²]: Cholesky is well conditioned for any σ² > 0.
        G = A_tilde.T @ A_tilde  # (d_live, d_live)
        G[np.diag_indices_from(G)] += sigma2
        if live.any():
            w[live] = scale * scipy.linalg.solve(G, A_tilde.T @ rhs, assume_a="pos", check_finite=False)
    b = y_mean - float(x_mean @ w) if fit_intercept else 0.0
    return w, b
