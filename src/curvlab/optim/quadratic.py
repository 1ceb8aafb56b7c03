"""Exact gradient descent and Newton iterates on a quadratic (notes §5, eqs. (31)–(37)).

The notes study L(ω) = ½ ωᵀHω  (31), with ∇L = Hω  (32) and ∇²L = H  (33). We allow a
minimizer ω* other than 0, L(ω) = ½ (ω − ω*)ᵀH(ω − ω*), which changes nothing but a shift.
With H = QΛQᵀ:

* gradient descent  ω⁽ᵗ⁺¹⁾ = ω⁽ᵗ⁾ − εHω⁽ᵗ⁾ = Q(I − εΛ)Qᵀω⁽ᵗ⁾                    (34)
* after t steps     ω⁽ᵗ⁾ = Q(I − εΛ)ᵗQᵀω⁽⁰⁾                                     (35)
  The notes write (35) as ω⁽ᵗ⁺¹⁾ = Q(I − εΛ)Qᵀω⁽⁰⁾, without the power t: that is one
  step, not t. :meth:`Quadratic.gd_closed_form` implements the corrected form.
* it converges for every ω⁽⁰⁾ iff |1 − ελ_i| < 1 for all i, i.e. 0 < ε < 2/λ_max  (36)
* Newton            ω⁽ᵗ⁺¹⁾ = ω⁽ᵗ⁾ − εH⁻¹∇L = (1 − ε)ω⁽ᵗ⁾                          (37)
  so ε = 1 reaches ω* in one step.

Example
-------
>>> import numpy as np
>>> q = Quadratic(np.diag([1.0, 10.0]))
>>> q.max_stable_lr
0.2
>>> traj = q.gradient_descent(np.ones(2), eps=0.1, steps=50)
>>> bool(np.allclose(traj.final, q.gd_closed_form(np.ones(2), eps=0.1, t=50)))
True
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.linalg

from .._validation import (as_float_array, check_positive, check_positive_int, check_real, check_square,
                           check_symmetric)
from .trajectory import Trajectory

__all__ = ["Quadratic"]


class Quadratic:
    """L(ω) = ½ (ω − ω*)ᵀ H (ω − ω*) with a symmetric positive semi-definite H.

    Parameters
    ----------
    H : (d, d) symmetric matrix with eigenvalues ≥ 0 (the notes' H of eq. (31)).
    w_star : (d,) minimizer ω*; zero (the notes' case) when omitted.
    divergence_factor : iterates whose distance to ω* grows beyond this factor of the
        initial distance are declared diverged and the run stops (default 1e30).
    """

    def __init__(self, H, w_star=None, *, divergence_factor: float = 1e30):
        check_real(H, "H")
        H = as_float_array(H, "H", ndim=2)
        check_square(H, "H")
        check_symmetric(H, "H")
        self.H = (H + H.T) / 2
        d = H.shape[0]
        if w_star is None:
            w_star = np.zeros(d)
        check_real(w_star, "w_star")
        self.w_star = as_float_array(w_star, "w_star", ndim=1)
        if self.w_star.shape[0] != d:
            raise ValueError(f"w_star must have length {d} to match H; got {self.w_star.shape[0]}.")
        self.divergence_factor = check_positive(divergence_factor, "divergence_factor")
        lam = self.eigenvalues
        if lam[0] < -1e-12 * max(abs(lam[-1]), 1.0):
            raise ValueError(
                f"H must be positive semi-definite; its smallest eigenvalue is {lam[0]:.3e}. "
                "A quadratic with a negative curvature direction has no minimum."
            )

    # ---------------------------------------------------------------- spectrum
    @cached_property
    def _eig(self) -> tuple[np.ndarray, np.ndarray]:
        lam, Q = np.linalg.eigh(self.H)  # H = Q diag(lam) Qᵀ, lam ascending
        return lam, Q

    @property
    def eigenvalues(self) -> np.ndarray:
        """Λ, ascending."""
        return self._eig[0]

    @property
    def eigenvectors(self) -> np.ndarray:
        """Q, one eigenvector per column."""
        return self._eig[1]

    @property
    def dim(self) -> int:
        return self.H.shape[0]

    @property
    def lam_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def lam_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def max_stable_lr(self) -> float:
        """2/λ_max: gradient descent is stable iff 0 < ε < this (eq. (36)).

        ``inf`` when H = 0 (λ_max = 0): no step moves the iterate, so none is unstable.
        """
        return 2.0 / self.lam_max if self.lam_max > 0 else float("inf")

    @property
    def optimal_lr(self) -> float:
        """2/(λ_min + λ_max), the fixed step with the smallest worst-case rate (κ − 1)/(κ + 1)
        (``inf`` when H = 0)."""
        total = self.lam_min + self.lam_max
        return 2.0 / total if total > 0 else float("inf")

    def rate(self, eps: float) -> float:
        """max_i |1 − ελ_i|: the factor by which the error shrinks per GD step in the worst direction."""
        eps = check_positive(eps, "eps")
        return float(np.max(np.abs(1.0 - eps * self.eigenvalues)))

    def converges(self, eps: float) -> bool:
        """Eq. (36): True iff gradient descent with step ε converges from every start."""
        return bool(self.rate(eps) < 1.0)

    # ---------------------------------------------------------------- loss
    def loss(self, w) -> float:
        """L(ω) = ½ (ω − ω*)ᵀH(ω − ω*)  (31)."""
        e = self._check_w(w, "w") - self.w_star
        return 0.5 * float(e @ self.H @ e)

    def grad(self, w) -> np.ndarray:
        """∇L = H(ω − ω*)  (32)."""
        return self.H @ (self._check_w(w, "w") - self.w_star)

    # ---------------------------------------------------------------- gradient descent
    def gd_closed_form(self, w0, eps: float, t: int) -> np.ndarray:
        """ω⁽ᵗ⁾ = ω* + Q(I − εΛ)ᵗQᵀ(ω⁽⁰⁾ − ω*): eq. (35), corrected with the power t."""
        w0 = self._check_w(w0)
        eps = check_positive(eps, "eps")
        t = check_positive_int(t, "t", minimum=0)
        lam, Q = self._eig
        return self.w_star + Q @ ((1.0 - eps * lam) ** t * (Q.T @ (w0 - self.w_star)))

    def gd_notes_form(self, w0, eps: float) -> np.ndarray:
        """Eq. (35) exactly as the notes write it, Q(I − εΛ)Qᵀω⁽⁰⁾ — one step for any t."""
        w0 = self._check_w(w0)
        eps = check_positive(eps, "eps")
        lam, Q = self._eig
        return self.w_star + Q @ ((1.0 - eps * lam) * (Q.T @ (w0 - self.w_star)))

    def gradient_descent(self, w0, eps: float, steps: int) -> Trajectory:
        """Simulate ω⁽ᵗ⁺¹⁾ = ω⁽ᵗ⁾ − ε∇L(ω⁽ᵗ⁾)  (34) for ``steps`` steps."""
        eps = check_positive(eps, "eps")
        return self._iterate(self._check_w(w0), lambda w: w - eps * self.grad(w), steps, "gd", eps)

    def gd_exact(self, w0, eps: float, steps: int) -> Trajectory:
        """The closed-form iterates (35) for t = 0 … steps, as a :class:`Trajectory`."""
        eps = check_positive(eps, "eps")
        w0 = self._check_w(w0)
        steps = check_positive_int(steps, "steps", minimum=0)
        lam, Q = self._eig
        z0 = Q.T @ (w0 - self.w_star)
        t = np.arange(steps + 1)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            Z = (1.0 - eps * lam)[None, :] ** t * z0[None, :]  # (T + 1, d) in the eigenbasis
        return self._finish(Z @ Q.T + self.w_star, "gd-closed-form", eps, w0)

    # ---------------------------------------------------------------- Newton
    @cached_property
    def _cho(self):
        try:
            return scipy.linalg.cho_factor(self.H)
        except np.linalg.LinAlgError:
            raise ValueError(
                "Newton's method needs H positive definite (it solves H δ = ∇L); this H is "
                f"singular (smallest eigenvalue {self.lam_min:.3e}). Add damping: Quadratic(H + μI)."
            ) from None

    def newton(self, w0, eps: float = 1.0, steps: int = 1) -> Trajectory:
        """Damped Newton ω⁽ᵗ⁺¹⁾ = ω⁽ᵗ⁾ − εH⁻¹∇L(ω⁽ᵗ⁾) = ω* + (1 − ε)(ω⁽ᵗ⁾ − ω*)  (37)."""
        eps = check_positive(eps, "eps")
        cho = self._cho
        return self._iterate(self._check_w(w0),
                             lambda w: w - eps * scipy.linalg.cho_solve(cho, self.grad(w)),
                             steps, "newton", eps)

    # ---------------------------------------------------------------- helpers
    def _check_w(self, w, name: str = "w0") -> np.ndarray:
        check_real(w, name)
        w = as_float_array(w, name, ndim=1)
        if w.shape[0] != self.dim:
            raise ValueError(f"{name} must have length {self.dim} to match H; got {w.shape[0]}.")
        return w

    def _iterate(self, w0, step, steps, method, eps) -> Trajectory:
        steps = check_positive_int(steps, "steps", minimum=0)
        iterates = np.empty((steps + 1, self.dim))
        iterates[0] = w0
        limit = self.divergence_factor * max(np.linalg.norm(w0 - self.w_star), 1e-300)
        diverged = False
        n = steps
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(steps):
                w = step(iterates[t])
                if not np.all(np.isfinite(w)) or np.linalg.norm(w - self.w_star) > limit:
                    diverged, n = True, t
                    break
                iterates[t + 1] = w
        iterates = iterates[: n + 1]
        losses = np.array([self.loss(w) for w in iterates])
        return Trajectory(method, eps, iterates, losses, diverged)

    def _finish(self, iterates, method, eps, w0) -> Trajectory:
        limit = self.divergence_factor * max(np.linalg.norm(w0 - self.w_star), 1e-300)
        dist = np.linalg.norm(iterates - self.w_star, axis=1)
        bad = ~np.isfinite(dist) | (dist > limit)
        diverged = bool(bad.any())
        if diverged:
            iterates = iterates[: int(np.argmax(bad))]
        losses = np.array([self.loss(w) for w in iterates])
        return Trajectory(method, eps, iterates, losses, diverged)
