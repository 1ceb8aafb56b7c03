"""The elastic-net penalty in two parametrizations, and its warm-started regularization path.

The notes (§3.4) write the elastic net as

    F(β) = ‖y − Xβ‖² + λ₁‖β‖² + λ₂‖β‖₁                                           (24)–(26)

scikit-learn (and glmnet) write, for N observations,

    f(β) = 1/(2N)‖y − Xβ‖² + α·ρ‖β‖₁ + ½α(1 − ρ)‖β‖²,     ρ = l1_ratio.

F = 2N·f exactly when

    λ₁ = Nα(1 − ρ),   λ₂ = 2Nαρ;     conversely  α = (λ₁ + λ₂/2)/N,  ρ = (λ₂/2)/(λ₁ + λ₂/2),

so both have the same minimiser. The solver (:mod:`curvlab.linear._cd`) works with the
halved notes' objective ½‖r‖² + ½λ₁‖β‖² + μ‖β‖₁, μ = λ₂/2 = Nαρ.

The path runs from α_max = ‖Xᵀy‖_∞/(Nρ) — the smallest α at which β = 0 — down to
eps·α_max on a log grid, each solve warm-started from the previous one.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from .._validation import (as_real_array, check_in_range, check_positive, check_positive_int,
                           check_symmetric)
from . import _dask
from ._cd import enet_gram_path

__all__ = ["alpha_max", "enet_path", "notes_to_sklearn", "sklearn_to_notes"]

log = logging.getLogger(__name__)


def sklearn_to_notes(alpha: float, l1_ratio: float, n_samples: int) -> tuple[float, float]:
    """(α, ρ) → (λ₁, λ₂) = (Nα(1 − ρ), 2Nαρ).

    >>> sklearn_to_notes(0.1, 0.5, 100)
    (5.0, 10.0)
    """
    alpha = check_positive(alpha, "alpha", strict=False)
    l1_ratio = check_in_range(l1_ratio, "l1_ratio", 0.0, 1.0, high_inclusive=True)
    n_samples = check_positive_int(n_samples, "n_samples")
    return n_samples * alpha * (1.0 - l1_ratio), 2.0 * n_samples * alpha * l1_ratio


def notes_to_sklearn(lam1: float, lam2: float, n_samples: int) -> tuple[float, float]:
    """(λ₁, λ₂) → (α, ρ) = ((λ₁ + λ₂/2)/N, (λ₂/2)/(λ₁ + λ₂/2)).

    >>> notes_to_sklearn(5.0, 10.0, 100)
    (0.1, 0.5)
    """
    lam1 = check_positive(lam1, "lam1", strict=False)
    lam2 = check_positive(lam2, "lam2", strict=False)
    n_samples = check_positive_int(n_samples, "n_samples")
    total = lam1 + lam2 / 2.0
    if total == 0.0:
        return 0.0, 1.0
    return total / n_samples, (lam2 / 2.0) / total



def alpha_path(q: np.ndarray, n: int, l1_ratio: float, alphas, n_alphas: int, eps: float) -> np.ndarray:
    """The path's penalties, largest first: the given ``alphas`` (checked, sorted), or ``n_alphas``
    log-spaced from λ_max = :func:`alpha_max` down to ``eps``·λ_max. ``q`` = Xᵀy, shape (p,)."""
    if alphas is not None:
        alphas = np.sort(as_real_array(alphas, "alphas", ndim=1))[::-1]
        if alphas[-1] < 0:
            raise ValueError("alphas must be >= 0.")
        return alphas
    n_alphas = check_positive_int(n_alphas, "n_alphas")
    eps = check_in_range(eps, "eps", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    a_max = alpha_max(q, n, l1_ratio)
    return np.geomspace(a_max, a_max * eps, n_alphas) if a_max > 0 else np.zeros(n_alphas)

def alpha_max(Xy: np.ndarray, n_samples: int, l1_ratio: float) -> float:
    """α_max = ‖Xᵀy‖_∞/(Nρ): for α ≥ α_max the solution is β = 0 (KKT at zero)."""
    if l1_ratio <= 0:
        raise ValueError("l1_ratio must be > 0 for a path that starts at β = 0; for l1_ratio = 0 "
                         "(pure ridge) use Ridge.")
    return float(np.max(np.abs(Xy))) / (n_samples * l1_ratio)


def enet_path(X, y, *, l1_ratio: float = 0.5, alphas=None, n_alphas: int = 100,
              eps: float = 1e-3, tol: float = 1e-4, max_iter: int = 1000, screening: bool = True,
              Gram=None, Xy=None, coef_init=None, check_input: bool = True):
    """Elastic-net solutions along a decreasing grid of α (scikit-learn's parametrization).

    No centring is done (as in ``sklearn.linear_model.enet_path``): centre X and y first if
    the model has an intercept. Each α is solved to duality gap ≤ tol·‖y‖² in the scale of
    f (the convention of scikit-learn, whose gap formula this is), warm-started from the
    previous α. XᵀX is formed once (one BLAS ``syrk``) unless ``Gram`` is given; after that
    the cost no longer depends on N.

    Parameters
    ----------
    X : (N, p).  y : (N,).  l1_ratio : ρ ∈ (0, 1].
    alphas : decreasing grid; default ``n_alphas`` values from α_max to eps·α_max.
    Gram, Xy : optional precomputed XᵀX (p, p) and Xᵀy (p,).
    max_iter : sweeps (coordinate-descent sweeps plus conjugate-gradient steps) per α.
    check_input : False skips the NaN/inf and symmetry checks of X, y, Gram and Xy (shapes
        are always checked), as scikit-learn's ``check_input=False`` does.

    Returns
    -------
    alphas (n_alphas,), coefs (p, n_alphas), dual_gaps (n_alphas,) in the scale of f,
    n_iters (n_alphas,) sweeps.

    Example
    -------
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(50, 5)); y = X[:, 0]
    >>> alphas, coefs, gaps, _ = enet_path(X, y, n_alphas=5)
    >>> coefs.shape, bool(np.all(coefs[:, 0] == 0))
    ((5, 5), True)
    """
    if _dask.any_dask(X, y):  # XᵀX, Xᵀy reduced over the chunks; see linear._dask
        return _dask.enet_path(X, y, l1_ratio=l1_ratio, alphas=alphas, n_alphas=n_alphas, eps=eps,
                               tol=tol, max_iter=max_iter, screening=screening, Gram=Gram, Xy=Xy,
                               coef_init=coef_init, check_input=check_input)
    if check_input:
        X = as_real_array(X, "X", ndim=2)
        y = as_real_array(y, "y", ndim=1)
    else:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.ndim != 1:
            raise ValueError(f"X must be 2-D and y 1-D; got shapes {X.shape} and {y.shape}.")
    n, p = X.shape
    if y.shape[0] != n:
        raise ValueError(f"X and y must have the same number of rows; got {n} and {y.shape[0]}.")
    l1_ratio = check_in_range(l1_ratio, "l1_ratio", 0.0, 1.0, low_inclusive=False, high_inclusive=True)
    tol = check_positive(tol, "tol", strict=False)
    max_iter = check_positive_int(max_iter, "max_iter")
    if Gram is None:
        G = np.ascontiguousarray(X.T @ X)  # (p, p), symmetric rank-k update
    else:
        G = np.ascontiguousarray(as_real_array(Gram, "Gram", ndim=2) if check_input
                                 else np.asarray(Gram, dtype=np.float64))
        if G.shape != (p, p):
            raise ValueError(f"Gram must be XᵀX of shape ({p}, {p}); got {G.shape}.")
        if check_input:
            check_symmetric(G, "Gram")
    if Xy is None:
        q = X.T @ y
    else:
        q = (as_real_array(Xy, "Xy", ndim=1) if check_input
             else np.asarray(Xy, dtype=np.float64)).copy()
        if q.shape != (p,):
            raise ValueError(f"Xy must be Xᵀy of shape ({p},); got {q.shape}.")
    if coef_init is not None:
        coef_init = as_real_array(coef_init, "coef_init", ndim=1)
        if coef_init.shape != (p,):
            raise ValueError(f"coef_init must have shape ({p},); got {coef_init.shape}.")
    alphas = alpha_path(q, n, l1_ratio, alphas, n_alphas, eps)
    yy = float(y @ y)
    coefs, gaps, n_iters = solve_path_gram(G, q, yy, n, alphas, l1_ratio, tol, max_iter,
                                           screening, coef_init)
    return alphas, coefs, gaps, n_iters


def solve_path_gram(G: np.ndarray, q: np.ndarray, yy: float, n: int, alphas: np.ndarray,
                    l1_ratio: float, tol: float, max_iter: int, screening: bool,
                    coef_init=None, progress: bool = True):
    """The path loop on sufficient statistics (G, q, ‖y‖²); see :func:`enet_path`.

    The compiled kernel :func:`~curvlab.linear._cd.enet_gram_path` runs the whole path
    (sequential strong rule between consecutive α); it is called on blocks of α so that the
    progress bar moves.
    """
    p = G.shape[0]
    alphas = np.ascontiguousarray(alphas, dtype=np.float64)
    beta = np.zeros(p) if coef_init is None else np.array(coef_init, dtype=np.float64)
    c = q - G @ beta  # Xᵀr
    tol_abs = tol * yy  # gap threshold in the halved notes' scale (= N × sklearn's)
    lam1s = n * alphas * (1.0 - l1_ratio)  # (K,) the notes' λ₁
    mus = n * alphas * l1_ratio  # (K,) μ = λ₂/2
    # μ of the starting point: at β = 0 the solution is exact for μ ≥ ‖q‖_∞
    mu_prev = float(np.max(np.abs(c))) if coef_init is None else float(mus[0]) if len(mus) else 0.0
    K = len(alphas)
    coefs = np.empty((p, K))
    gaps = np.empty(K)
    n_iters = np.empty(K, dtype=np.int64)
    block = max(1, -(-K // 10))
    with tqdm(total=K, desc="elastic-net path", disable=None if progress else True,
              leave=False) as bar:
        for k0 in range(0, K, block):
            k1 = min(K, k0 + block)
            mu_prev = enet_gram_path(G, q, yy, beta, c, lam1s[k0:k1], mus[k0:k1], mu_prev,
                                     tol_abs, max_iter, screening, coefs[:, k0:k1],
                                     gaps[k0:k1], n_iters[k0:k1])
            bar.update(k1 - k0)
    for k in np.flatnonzero(gaps > tol_abs):
        warnings.warn(f"elastic net at alpha={alphas[k]:.3g} did not reach the duality gap "
                      f"{tol_abs / n:.3g} in {max_iter} sweeps (gap {gaps[k] / n:.3g}); increase "
                      "max_iter or tol.", ConvergenceWarning, stacklevel=3)
    log.debug("elastic-net path: %d alphas, %d sweeps in all", K, int(n_iters.sum()))
    return coefs, gaps / n, n_iters
