"""Compiled coordinate descent for the elastic net on the Gram matrix (covariance updates).

Problem (the notes' elastic net, halved):

    P(β) = ½‖y − Xβ‖² + ½λ₁‖β‖² + μ‖β‖₁,        μ = λ₂/2.

It is the lasso ½‖ŷ − X̂β‖² + μ‖β‖₁ on the augmented data X̂ = [X; √λ₁ I], ŷ = [y; 0]
(eq. (25) plus the L1 term that eq. (26) drops). X̂ᵀX̂ = XᵀX + λ₁I and X̂ᵀŷ = Xᵀy, so the
augmented matrix is never built: coordinate descent needs only G = XᵀX, q = Xᵀy and the
"covariance" vector c = q − Gβ = Xᵀr (Friedman, Hastie & Tibshirani 2010, §2.2):

    β_j ← S(c_j + G_jj β_j, μ) / (G_jj + λ₁),     c ← c − (β_j^new − β_j^old) G[:, j]

with S(z, μ) = sign(z) max(|z| − μ, 0). Each nonzero update costs O(p), independent of
n; an update that leaves a zero coefficient at zero costs O(1), so a sweep costs
O(p·|active|) and c is kept exact (up to rounding) for all p features at that price.

Duality gap. With θ = s·r̂, r̂ = [r; −√λ₁β] the augmented residual and
s = min(1, μ / ‖X̂ᵀr̂‖_∞) (X̂ᵀr̂ = c − λ₁β), θ is dual feasible and

    D(θ) = s·yᵀr − ½ s² (‖r‖² + λ₁‖β‖²),     gap = P(β) − D(θ) ≥ P(β) − P(β*) ≥ 0,

all from c, q, β and ‖y‖² in O(p): ‖r‖² = ‖y‖² − βᵀq − βᵀc and yᵀr = ‖y‖² − βᵀq. Because
it costs O(p) — less than one coordinate update of a sweep — the gap is checked after
every sweep, over *all* p features, so the stopping rule certifies the full problem
whatever working set was swept.

Working set (sequential strong rule, Tibshirani et al. 2012). Going from μ_prev to μ
along a path, coordinate j (zero at the previous solution) is swept only if
|c_j| ≥ 2μ − μ_prev; the nonzero coefficients are always swept. After each sweep the
KKT conditions are checked on the rest (a zero β_j is optimal iff |c_j| ≤ μ) and the
violators join the working set, so the rule is a heuristic that can only cost time,
never exactness.

Anderson extrapolation (Bertrand & Massias 2021). On a correlated design cyclic CD
converges linearly but slowly (the common direction of the columns is corrected a little per
sweep). Every K + 1 = 6 sweeps with an unchanged working set, the iterates β⁽⁰⁾…β⁽ᴷ⁾ give
the differences U = [β⁽¹⁾ − β⁽⁰⁾, …, β⁽ᴷ⁾ − β⁽ᴷ⁻¹⁾]; with z = (UᵀU)⁻¹1 and w = z/1ᵀz,
β_e = Σᵢ wᵢβ⁽ⁱ⁾ is taken if P(β_e) < P(β⁽ᴷ⁾). Because Σwᵢ = 1, c(β_e) = Σᵢ wᵢc⁽ⁱ⁾ exactly
in exact arithmetic, so the test costs O(Kp); on acceptance c is recomputed from its
definition (O(p) per changed coordinate) so that no rounding from the weights builds up.

Gap-safe screening (Fercoq, Gramfort & Salmon 2015): the dual optimum lies in the ball
around θ of radius √(2·gap), so feature j is zero at the optimum whenever
|x̂_jᵀθ| + ‖x̂_j‖√(2·gap) < μ, with ‖x̂_j‖ = √(G_jj + λ₁); it is then removed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["enet_gram_cd", "enet_gram_path", "duality_gap"]

# ``state`` codes of a coordinate while one penalty is solved
_OUT, _SWEPT, _SCREENED = 0, 1, 2
_K = 5  # Anderson: extrapolate from K + 1 iterates


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
        _axpy_row(-delta, G, j, c)
        beta[j] = new
    return delta


@njit(cache=True, nogil=True)
def _axpy_row(a, G, j, c):
    """c ← c + a·G[j, :] (G symmetric: row j is column j, contiguous)."""
    for k in range(G.shape[0]):
        c[k] += a * G[j, k]


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
def _primal(q, yy, beta, c, lam1, mu):
    """P(β) from c = q − Gβ in O(p): ½(‖y‖² − βᵀq − βᵀc) + ½λ₁‖β‖² + μ‖β‖₁."""
    r2 = yy
    pen = 0.0
    for j in range(beta.shape[0]):
        b = beta[j]
        if b != 0.0:
            r2 -= b * (q[j] + c[j])
            pen += 0.5 * lam1 * b * b + mu * abs(b)
    return 0.5 * max(r2, 0.0) + pen


@njit(cache=True, nogil=True)
def _anderson(G, q, yy, beta, c, lam1, mu, B, Cb, be, ce):
    """Try β_e = Σ wᵢ B[i] (i = 1..K) from the K + 1 stored iterates B (with c's in Cb).

    Replaces (beta, c) and returns True when P(β_e) < P(β); ``be``, ``ce`` are (p,) buffers.
    """
    p = beta.shape[0]
    K = B.shape[0] - 1
    M = np.zeros((K, K))  # UᵀU, U[:, i] = B[i+1] − B[i]
    for j in range(p):
        for a in range(K):
            ua = B[a + 1, j] - B[a, j]
            if ua != 0.0:
                for b in range(a, K):
                    M[a, b] += ua * (B[b + 1, j] - B[b, j])
    scale = 0.0
    for a in range(K):
        scale += M[a, a]
    if scale <= 0.0:
        return False
    # solve (M + εI) z = 1 by Cholesky (M is a Gram matrix; ε keeps it definite)
    L = np.zeros((K, K))
    for a in range(K):
        for b in range(a + 1):
            acc = M[b, a] + (1e-10 * scale if a == b else 0.0)
            for t in range(b):
                acc -= L[a, t] * L[b, t]
            if a == b:
                if acc <= 0.0:
                    return False
                L[a, a] = np.sqrt(acc)
            else:
                L[a, b] = acc / L[b, b]
    z = np.ones(K)
    for a in range(K):
        for t in range(a):
            z[a] -= L[a, t] * z[t]
        z[a] /= L[a, a]
    for a in range(K - 1, -1, -1):
        for t in range(a + 1, K):
            z[a] -= L[t, a] * z[t]
        z[a] /= L[a, a]
    zs = z.sum()
    if zs == 0.0 or not np.isfinite(zs):
        return False
    for j in range(p):
        bj = 0.0
        cj = 0.0
        for i in range(K):
            w = z[i] / zs
            bj += w * B[i + 1, j]
            cj += w * Cb[i + 1, j]
        be[j] = bj
        ce[j] = cj  # c(β_e) up to rounding, since Σ wᵢ = 1
    if _primal(q, yy, be, ce, lam1, mu) >= _primal(q, yy, beta, c, lam1, mu):
        return False
    for j in range(p):  # accept: c ← c − G(β_e − β), exactly from its definition
        d = be[j] - beta[j]
        if d != 0.0:
            _axpy_row(-d, G, j, c)
            beta[j] = be[j]
    return True


@njit(cache=True, nogil=True)
def _collect(state, ws):
    """ws[:m] = the indices j with state[j] == _SWEPT, ascending; returns m."""
    m = 0
    for j in range(state.shape[0]):
        if state[j] == _SWEPT:
            ws[m] = j
            m += 1
    return m


@njit(cache=True, nogil=True)
def _solve(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen, strong, state, ws, B, Cb,
           be, ce):
    """Minimise P(β) from the warm start ``beta``; working set = β_j ≠ 0 or |c_j| ≥ strong.

    B, Cb (K + 1, p) hold the iterates and their c for Anderson extrapolation; be, ce (p,)
    are buffers. Returns (gap, sweeps, screened). For μ = 0 (ridge: no L1 dual) ``gap`` is
    the largest coordinate decrease ½(G_jj + λ₁)δ² of the last sweep.
    """
    p = G.shape[0]
    n_hist = 0
    for j in range(p):
        state[j] = _SWEPT if (beta[j] != 0.0 or abs(c[j]) >= strong) else _OUT
    m = _collect(state, ws)
    gap = np.inf
    sweeps = 0
    screened = 0
    while sweeps < max_iter:
        sweeps += 1
        max_dec = 0.0
        for t in range(m):
            j = ws[t]
            delta = _update(j, G, beta, c, lam1, mu)
            dec = 0.5 * (G[j, j] + lam1) * delta * delta
            if dec > max_dec:
                max_dec = dec
        if mu <= 0.0:
            gap = max_dec
            if gap <= tol:
                break
            continue
        gap, primal, s = duality_gap(q, yy, beta, c, lam1, mu)
        if gap <= tol:
            break
        # Anderson extrapolation, from iterates with the same working set
        B[n_hist, :] = beta
        Cb[n_hist, :] = c
        n_hist += 1
        if n_hist == B.shape[0]:
            n_hist = 0
            if _anderson(G, q, yy, beta, c, lam1, mu, B, Cb, be, ce):
                gap, primal, s = duality_gap(q, yy, beta, c, lam1, mu)
                if gap <= tol:
                    break
        # KKT check outside the working set; gap-safe screening inside it
        changed = False
        radius = np.sqrt(2.0 * gap)
        for j in range(p):
            if state[j] == _OUT:
                if abs(c[j]) > mu:  # β_j = 0 violates |c_j| ≤ μ
                    state[j] = _SWEPT
                    changed = True
            elif screen and state[j] == _SWEPT:
                bound = s * abs(c[j] - lam1 * beta[j]) + np.sqrt(G[j, j] + lam1) * radius
                if bound < mu:
                    state[j] = _SCREENED
                    screened += 1
                    changed = True
                    if beta[j] != 0.0:
                        _axpy_row(beta[j], G, j, c)
                        beta[j] = 0.0
        if changed:
            m = _collect(state, ws)
            n_hist = 0
    return gap, sweeps, screened


@njit(cache=True, nogil=True)
def enet_gram_cd(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen):
    """Minimise ½‖y − Xβ‖² + ½λ₁‖β‖² + μ‖β‖₁ from the warm start ``beta`` (in place).

    G (p, p) = XᵀX, q (p,) = Xᵀy, yy = ‖y‖², c (p,) = q − Gβ (kept consistent, in place).
    Every coordinate is swept; stops when the duality gap ≤ tol (absolute) or after
    ``max_iter`` sweeps. Returns (gap, number of sweeps, number of screened features).
    """
    p = G.shape[0]
    state = np.empty(p, dtype=np.int8)
    ws = np.empty(p, dtype=np.int64)
    B, Cb = np.empty((_K + 1, p)), np.empty((_K + 1, p))
    be, ce = np.empty(p), np.empty(p)
    return _solve(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen, -1.0, state, ws, B, Cb,
                  be, ce)


@njit(cache=True, nogil=True)
def enet_gram_path(G, q, yy, beta, c, lam1s, mus, mu_prev, tol, max_iter, screen,
                   coefs, gaps, n_iters):
    """Solve P along the penalties (lam1s[k], mus[k]), k = 0, 1, …, each warm-started.

    ``mu_prev`` is the μ of the solution ``beta`` starts from (μ_max = ‖q‖_∞ at β = 0); the
    sequential strong rule picks the working set at μ_k from the solution at μ_{k−1}.
    Fills coefs (p, K), gaps (K,) (absolute, halved notes' scale) and n_iters (K,) sweeps.
    Returns the μ of the last solution (to continue the path from).
    """
    p = G.shape[0]
    state = np.empty(p, dtype=np.int8)
    ws = np.empty(p, dtype=np.int64)
    B, Cb = np.empty((_K + 1, p)), np.empty((_K + 1, p))
    be, ce = np.empty(p), np.empty(p)
    for k in range(lam1s.shape[0]):
        mu = mus[k]
        strong = 2.0 * mu - mu_prev  # sequential strong rule; ≤ μ, so never misses a KKT violator at start
        gap, sweeps, _ = _solve(G, q, yy, beta, c, lam1s[k], mu, tol, max_iter, screen, strong,
                                state, ws, B, Cb, be, ce)
        for j in range(p):
            coefs[j, k] = beta[j]
        gaps[k] = gap
        n_iters[k] = sweeps
        mu_prev = mu
    return mu_prev
