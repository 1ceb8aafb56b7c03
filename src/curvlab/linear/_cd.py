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

Conjugate gradients on the active set. On a correlated design cyclic CD converges slowly:
with pairwise correlation 0.5 the columns share one direction, each update corrects it a
little, and the duality gap — whose dual point is the rescaled residual, so it is governed
by the largest |X̂ᵀr̂|_j — falls far more slowly than P. Once a CD sweep leaves the working
set unchanged, the signs σ of the nonzero coefficients are held fixed; on that orthant P is
the quadratic ½β_Aᵀ(G_AA + λ₁I)β_A − β_Aᵀ(q_A − μσ) + ½‖y‖², whose minimiser conjugate
gradients reach in a few steps (G_AA + λ₁I is well conditioned apart from the one shared
direction, a single extra eigenvalue that CG removes in one step; Hestenes & Stiefel 1952).
Each CG step costs one product G[:, A]d — the price of one CD sweep — and moves c with it.
A step that would take a coefficient through zero is cut there (the coefficient is set to
zero exactly), so P never increases; the phase also ends when a zero coefficient violates
|c_j| ≤ μ more than the active gradients miss μ (then CD must change the support), and
after ``_MAX_CG`` steps. This is the active-set idea of homotopy/LARS solvers (Osborne,
Presnell & Turlach 2000) with CG in place of a factorization, which for |A| in the hundreds
would cost more than the whole path.

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
_MAX_CG = 25  # CG iterations per phase before coordinate descent looks at the support again


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
def _collect(state, ws):
    """ws[:m] = the indices j with state[j] == _SWEPT, ascending; returns m."""
    m = 0
    for j in range(state.shape[0]):
        if state[j] == _SWEPT:
            ws[m] = j
            m += 1
    return m


@njit(cache=True, nogil=True)
def _cg_active(G, q, yy, beta, c, lam1, mu, tol, max_cg, act, d, w):
    """Conjugate gradients on the active set with its signs σ fixed (see the module docstring).

    Minimises ½β_Aᵀ(G_AA + λ₁I)β_A − β_Aᵀ(q_A − μσ), which equals P while no sign changes;
    a step that would take a coefficient through zero stops at zero and ends the phase.
    ``act`` (p,) int buffer, d, w (p,) buffers. Returns (gap, iterations, stopped at a zero).
    """
    p = G.shape[0]
    na = 0
    rr = 0.0
    for j in range(p):
        if beta[j] != 0.0:
            act[na] = j
            r = c[j] - lam1 * beta[j] - (mu if beta[j] > 0.0 else -mu)  # −∇ of the quadratic
            d[na] = r
            rr += r * r
            na += 1
    gap = np.inf
    it = 0
    while it < max_cg and na > 0 and rr > 0.0:
        it += 1
        for k in range(p):
            w[k] = 0.0
        for t in range(na):
            _axpy_row(d[t], G, act[t], w)  # w = G[:, A] d, all p rows (c moves by −αw)
        dHd = 0.0
        for t in range(na):
            dHd += d[t] * (w[act[t]] + lam1 * d[t])
        if not dHd > 0.0:
            break
        alpha = rr / dHd
        # longest step that keeps every sign: β_j + α d_j must not cross zero
        t_hit = -1
        for t in range(na):
            b = beta[act[t]]
            if b * d[t] < 0.0 and -b / d[t] < alpha:
                alpha = -b / d[t]
                t_hit = t
        for t in range(na):
            beta[act[t]] += alpha * d[t]
        for k in range(p):
            c[k] -= alpha * w[k]
        if t_hit >= 0:  # that coefficient is now zero (up to rounding): make it exactly zero
            j = act[t_hit]
            _axpy_row(beta[j], G, j, c)
            beta[j] = 0.0
            gap = duality_gap(q, yy, beta, c, lam1, mu)[0]
            return gap, it, True
        gap = duality_gap(q, yy, beta, c, lam1, mu)[0]
        if gap <= tol:
            break
        # a zero coefficient that violates |c_j| ≤ μ more than the active gradients miss μ
        # bounds the gap from below whatever CG does: hand back to coordinate descent
        out_viol = 0.0
        for j in range(p):
            if beta[j] == 0.0:
                out_viol = max(out_viol, abs(c[j]) - mu)
        rr_new = 0.0
        in_viol = 0.0
        for t in range(na):
            j = act[t]
            r = c[j] - lam1 * beta[j] - (mu if beta[j] > 0.0 else -mu)
            w[t] = r  # w is free again: keep the new residual there
            rr_new += r * r
            in_viol = max(in_viol, abs(r))
        if out_viol > in_viol or in_viol <= 1e-15 * mu:
            break
        gamma = rr_new / rr
        for t in range(na):
            d[t] = w[t] + gamma * d[t]
        rr = rr_new
    return gap, it, False


@njit(cache=True, nogil=True)
def _solve(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen, strong, state, ws, act, d, w):
    """Minimise P(β) from the warm start ``beta``; working set = β_j ≠ 0 or |c_j| ≥ strong.

    state, ws, act (p,) ints and d, w (p,) floats are work buffers. Returns (gap, sweeps,
    screened); sweeps counts CD sweeps and CG steps. For μ = 0 (ridge: no L1 dual) ``gap`` is
    the largest coordinate decrease ½(G_jj + λ₁)δ² of the last sweep.
    """
    p = G.shape[0]
    for j in range(p):
        state[j] = _SWEPT if (beta[j] != 0.0 or abs(c[j]) >= strong) else _OUT
    m = _collect(state, ws)
    min_norm = np.inf  # min_j ‖x̂_j‖ = √(G_jj + λ₁)
    for j in range(p):
        min_norm = min(min_norm, np.sqrt(max(G[j, j] + lam1, 0.0)))
    gap = np.inf
    sweeps = 0
    screened = 0
    if mu > 0.0:  # the warm start may already be certified (scikit-learn checks this too)
        gap = duality_gap(q, yy, beta, c, lam1, mu)[0]
        if gap <= tol:
            return gap, sweeps, screened
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
        # KKT check outside the working set; gap-safe screening inside it (skipped while
        # the ball is too large for any feature to pass: ‖x̂_j‖·√(2 gap) ≥ μ for all j)
        changed = False
        radius = np.sqrt(2.0 * gap)
        do_screen = screen and min_norm * radius < mu
        for j in range(p):
            if state[j] == _OUT:
                if abs(c[j]) > mu:  # β_j = 0 violates |c_j| ≤ μ
                    state[j] = _SWEPT
                    changed = True
            elif do_screen and state[j] == _SWEPT:
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
        elif sweeps < max_iter:
            # working set settled: conjugate gradients on the active set, signs held fixed
            gap_cg, it, _ = _cg_active(G, q, yy, beta, c, lam1, mu, tol,
                                       min(max_iter - sweeps, _MAX_CG), act, d, w)
            if it > 0:
                gap = gap_cg
            sweeps += it
            if gap <= tol:
                break
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
    act, d, w = np.empty(p, dtype=np.int64), np.empty(p), np.empty(p)
    return _solve(G, q, yy, beta, c, lam1, mu, tol, max_iter, screen, -1.0, state, ws, act,
                  d, w)


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
    act, d, w = np.empty(p, dtype=np.int64), np.empty(p), np.empty(p)
    for k in range(lam1s.shape[0]):
        mu = mus[k]
        strong = 2.0 * mu - mu_prev  # sequential strong rule (≤ μ: no violator left out)
        gap, sweeps, _ = _solve(G, q, yy, beta, c, lam1s[k], mu, tol, max_iter, screen, strong,
                                state, ws, act, d, w)
        for j in range(p):
            coefs[j, k] = beta[j]
        gaps[k] = gap
        n_iters[k] = sweeps
        mu_prev = mu
    return mu_prev
