"""Compiled coordinate descent for the elastic net on the Gram matrix (covariance updates).

Problem (the notes' elastic net, halved):

    P(β) = ½‖y − Xβ‖² + ½λ₁‖β‖² + μ‖β‖₁,        μ = λ₂/2.

It is the lasso ½‖ŷ − X̂β‖² + μ‖β‖₁ on the augmented data X̂ = [X; √λ₁ I], ŷ = [y; 0]
(eq. (25) plus the L1 term that eq. (26) drops). X̂ᵀX̂ = XᵀX + λ₁I and X̂ᵀŷ = Xᵀy, so the
augmented matrix is never built: coordinate descent needs only G = XᵀX, q = Xᵀy and the
"covariance" vector c = q − Gβ = Xᵀr (Friedman, Hastie & Tibshirani 2010, §2.2):

    β_j ← S(c_j + G_jj β_j, μ) / (G_jj + λ₁),     c ← c − (β_j^new − β_j^old) G[:, j]

with S(z, μ) = sign(z) max(|z| − μ, 0). Each update costs O(p), independent of n.

Duality gap. With θ = s·r̂, r̂ = [r; −√λ₁β] the augmented residual and
s = min(1, μ / ‖X̂ᵀr̂‖_∞) (X̂ᵀr̂ = c − λ₁β), θ is dual feasible and

    D(θ) = s·yᵀr − ½ s² (‖r‖² + λ₁‖β‖²),     gap = P(β) − D(θ) ≥ P(β) − P(β*) ≥ 0,

all from c, q, β and ‖y‖² in O(p): ‖r‖² = ‖y‖² − βᵀq − βᵀc and yᵀr = ‖y‖² − βᵀq.

Gap-safe screening (Fercoq, Gramfort & Salmon 2015): the dual optimum lies in the ball
around θ of radius √(2·gap), so feature j is zero at the optimum whenever
|x̂_jᵀθ| + ‖x̂_j‖√(2·gap) < μ, with ‖x̂_j‖ = √(G_jj + λ₁); it is then removed.

Working set (glmnet's strategy): after each full sweep, sweep only the nonzero
coefficients until their largest objective decrease ½(G_jj + λ₁)δ² is below ``tol``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["enet_gram_cd", "duality_gap"]


@njit(cache=True, nogil=True)
def _update(j, G, beta, c, lam1, mu):
    """One coordinate update of β_j; returns δ = β_j^new − β_j^old (c updated in place)."""
    Gjj = G[j, j]
    denom = Gjj + lam1
    if denom <= 0.0:
        return 0.0
    old = beta[j]
    z = c[j] + Gjj * old
    if z > mu:
        new = (z - mu) / denom
    elif z < -mu:
        new = (z + mu) / denom
    else:
        new = 0.0
    delta = new - old
    if delta != 0.0:
        p = G.shape[0]
        for k in range(p):
            c[k] -= delta * G[j, k]  # G symmetric: row j is column j, contiguous
        beta[j] = new
    return delta


@njit(cache=True, nogil=True)
def duality_gap(q, yy, beta, c, lam1, mu):
    """(gap, primal, s) for P(β) = ½‖r‖² + ½λ₁‖β‖² + μ‖β‖₁ (see the module docstring)."""
    p = beta.shape[0]
    bq = 0.0
    bc = 0.0
    b2 = 0.0
    l1 = 0.0
    grad_inf = 0.0
    for j in range(p):
        b = beta[j]
        bq += b * q[j]
        bc += b * c[j]
        b2 += b * b
        l1 += abs(b)
        g = abs(c[j] - lam1 * b)
        if g > grad_inf:
            grad_inf = g
    r2 = yy - bq - bc
    if r2 < 0.0:
        r2 = 0.0
    yr = yy - bq
    primal = 0.5 * r2 + 0.5 * lam1 * b2 + mu * l1
    if grad_inf > mu:
        s = mu / grad_inf
    else:
        s = 1.0
    dual = s * yr - 0.5 * s * s * (r2 + lam1 * b2)
    return primal - dual, primal, s


@njit(cache=True, nogil=True)
def enet_gram_cd(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen):
    """Minimise ½‖y − Xβ‖² + ½λ₁‖β‖² + μ‖β‖₁ from the warm start ``beta`` (in place).

    G (p, p) = XᵀX, q (p,) = Xᵀy, yy = ‖y‖², c (p,) = q − Gβ (kept consistent, in place).
    Stops when the duality gap ≤ tol (absolute) or after ``max_iter`` full sweeps.
    Returns (gap, number of full sweeps, number of screened features).
    """
    p = G.shape[0]
    active = np.ones(p, dtype=np.bool_)
    ws = np.empty(p, dtype=np.int64)
    gap = np.inf
    n_sweeps = 0
    n_screened = 0
    for sweep in range(max_iter):
        n_sweeps = sweep + 1
        max_dec = 0.0
        for j in range(p):
            if active[j]:
                delta = _update(j, G, beta, c, lam1, mu)
                dec = (G[j, j] + lam1) * delta * delta
                if dec > max_dec:
                    max_dec = dec
        if mu > 0.0:
            gap, primal, s = duality_gap(q, yy, beta, c, lam1, mu)
        else:
            gap = max_dec  # pure ridge: no L1 dual; stop on the largest coordinate decrease
        if gap <= tol:
            break
        if screen and mu > 0.0:
            radius = np.sqrt(2.0 * gap)
            for j in range(p):
                if active[j]:
                    bound = s * abs(c[j] - lam1 * beta[j]) + np.sqrt(G[j, j] + lam1) * radius
                    if bound < mu:
                        active[j] = False
                        n_screened += 1
                        if beta[j] != 0.0:
                            delta = -beta[j]
                            for k in range(p):
                                c[k] -= delta * G[j, k]
                            beta[j] = 0.0
        # working set: the nonzero coefficients
        m = 0
        for j in range(p):
            if active[j] and beta[j] != 0.0:
                ws[m] = j
                m += 1
        for inner in range(1000):
            max_dec = 0.0
            for t in range(m):
                j = ws[t]
                delta = _update(j, G, beta, c, lam1, mu)
                dec = (G[j, j] + lam1) * delta * delta
                if dec > max_dec:
                    max_dec = dec
            if max_dec <= tol:
                break
    return gap, n_sweeps, n_screened
