"""Error covariance structures Σ for GLS, each with a whitening transform W (WᵀW = Σ⁻¹).

GLS minimises (Y − Xβ)ᵀΣ⁻¹(Y − Xβ). With any W such that WᵀW = Σ⁻¹ this is OLS on the
whitened data (WX, WY), so β* = (XᵀΣ⁻¹X)⁻¹XᵀΣ⁻¹Y and Var(β*) = σ²(XᵀΣ⁻¹X)⁻¹.

* :class:`FullCovariance` — any SPD Σ = LLᵀ (Cholesky), W = L⁻¹; O(N³) once, O(N²) memory.
* :class:`DiagonalCovariance` — Σ = diag(s), W = diag(s^{-1/2}): weighted least squares.
* :class:`AR1` — Σ_ij = ρ^|i−j| (a stationary AR(1) process of unit variance). Σ⁻¹ is
  tridiagonal and W is the Prais–Winsten transform, applied in O(N) time and memory:
  (WA)₀ = A₀,   (WA)_t = (A_t − ρA_{t−1}) / √(1 − ρ²)  for t ≥ 1.
  No N×N matrix is formed, so N = 10⁶ costs what OLS costs.

Example
-------
>>> import numpy as np
>>> ar = AR1(0.5); A = np.arange(6.0).reshape(3, 2)
>>> W = np.linalg.cholesky(np.linalg.inv(ar.dense(3))).T        # any W with WᵀW = Σ⁻¹
>>> bool(np.allclose(np.linalg.norm(ar.whiten(A), axis=0), np.linalg.norm(W @ A, axis=0)))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .._validation import as_real_array, check_in_range, check_square, check_symmetric

__all__ = ["AR1", "Covariance", "DiagonalCovariance", "FullCovariance", "as_covariance"]


class Covariance:
    """Interface: ``whiten(A)`` returns WA for A of shape (N, ...) with WᵀW = Σ⁻¹."""

    n: int | None = None  # the N it was built for (None: any N)

    def whiten(self, A: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def dense(self, n: int | None = None) -> np.ndarray:  # pragma: no cover - interface
        """Σ as an (N, N) array (for checks on small N)."""
        raise NotImplementedError

    def matvec(self, A: np.ndarray) -> np.ndarray:
        """ΣA (default: through the dense matrix)."""
        return self.dense(A.shape[0]) @ A

    def check_n(self, n: int, name: str = "sigma") -> None:
        if self.n is not None and self.n != n:
            raise ValueError(f"{name} is {self.n}×{self.n} but the data have {n} rows; pass an "
                             f"{n}×{n} covariance (one row/column per observation).")


class FullCovariance(Covariance):
    """A dense symmetric positive definite Σ (N, N), whitened through its Cholesky factor."""

    def __init__(self, Sigma, name: str = "sigma"):
        Sigma = as_real_array(Sigma, name, ndim=2)
        check_square(Sigma, name)
        check_symmetric(Sigma, name)
        self.Sigma = (Sigma + Sigma.T) / 2
        self.n = Sigma.shape[0]
        try:
            self.L = scipy.linalg.cholesky(self.Sigma, lower=True, check_finite=False)  # Σ = LLᵀ
        except np.linalg.LinAlgError:
            lam_min = float(np.linalg.eigvalsh(self.Sigma)[0])
            raise ValueError(
                f"{name} must be positive definite; its smallest eigenvalue is {lam_min:.3e}. "
                "A covariance matrix of the errors needs every eigenvalue > 0 (add a small "
                "multiple of the identity if it is singular only by round-off).") from None

    def whiten(self, A: np.ndarray) -> np.ndarray:
        return scipy.linalg.solve_triangular(self.L, A, lower=True, check_finite=False)  # L⁻¹A

    def dense(self, n: int | None = None) -> np.ndarray:
        return self.Sigma


class DiagonalCovariance(Covariance):
    """Σ = diag(s) with s > 0: weighted least squares with weights 1/s."""

    def __init__(self, s, name: str = "sigma"):
        s = as_real_array(s, name, ndim=1)
        if np.any(s <= 0):
            j = int(np.argmax(s <= 0))
            raise ValueError(f"{name} (the diagonal of Σ) must be > 0 everywhere; {name}[{j}] = "
                             f"{s[j]!r}. Error variances are positive.")
        self.s = s
        self.n = s.shape[0]

    def whiten(self, A: np.ndarray) -> np.ndarray:
        scale = 1.0 / np.sqrt(self.s)
        return A * scale.reshape((-1,) + (1,) * (A.ndim - 1))

    def dense(self, n: int | None = None) -> np.ndarray:
        return np.diag(self.s)

    def matvec(self, A: np.ndarray) -> np.ndarray:
        return A * self.s.reshape((-1,) + (1,) * (A.ndim - 1))


@dataclass(frozen=True)
class AR1(Covariance):
    """Σ_ij = ρ^|i−j| for observations in time order: stationary AR(1) errors, |ρ| < 1.

    The scale σ² is estimated by the fit (σ̂² = SSR_whitened/(N − rank)); Σ fixes only the
    correlation. ``whiten`` and ``matvec`` cost O(N) time and memory.
    """

    rho: float

    def __post_init__(self):
        check_in_range(self.rho, "rho", -1.0, 1.0, low_inclusive=False, high_inclusive=False)

    def whiten(self, A: np.ndarray) -> np.ndarray:
        A = as_real_array(A, "A", ndim=(1, 2))
        rho = float(self.rho)
        out = np.empty_like(A, dtype=np.float64)
        out[0] = A[0]
        out[1:] = (A[1:] - rho * A[:-1]) / np.sqrt(1.0 - rho * rho)  # Prais–Winsten, scaled
        return out

    def dense(self, n: int | None = None) -> np.ndarray:
        if n is None:
            raise ValueError("AR1.dense needs n, the number of observations.")
        idx = np.arange(n)
        return float(self.rho) ** np.abs(idx[:, None] - idx[None, :])

    def matvec(self, A: np.ndarray) -> np.ndarray:
        """ΣA in O(N): (ΣA)_t = Σ_s ρ^|t−s| A_s = F_t + B_t − A_t, with the causal recursion
        F_t = A_t + ρF_{t−1} and the anti-causal one B_t = A_t + ρB_{t+1}."""
        from scipy.signal import lfilter

        A = np.asarray(A, dtype=np.float64)
        rho = float(self.rho)
        F = lfilter([1.0], [1.0, -rho], A, axis=0)
        B = lfilter([1.0], [1.0, -rho], A[::-1], axis=0)[::-1]
        return F + B - A


def as_covariance(sigma, n: int, name: str = "sigma") -> Covariance | None:
    """Interpret ``sigma``: None (identity), a (N, N) array, a (N,) diagonal, or a Covariance."""
    if sigma is None:
        return None
    if isinstance(sigma, Covariance):
        sigma.check_n(n, name)
        return sigma
    if isinstance(sigma, str):
        raise ValueError(f"{name}={sigma!r} is not a covariance; pass an array, AR1(rho), or "
                         "sigma='ar1' for feasible GLS.")
    arr = np.asarray(sigma)
    if arr.ndim == 1:
        cov: Covariance = DiagonalCovariance(arr, name)
    elif arr.ndim == 2:
        cov = FullCovariance(arr, name)
    else:
        raise ValueError(f"{name} must be a (N, N) matrix, a (N,) diagonal or AR1(rho); got an "
                         f"array of shape {arr.shape}.")
    cov.check_n(n, name)
    return cov
