"""Classical inference for least squares: σ̂², standard errors, t and p values, intervals.

With Y = Zβ + ε, E[ε] = 0, Var(ε) = σ²I and Z of rank r:

* σ̂² = SSR / (N − r)  — unbiased because E[SSR] = σ² tr(I − A) = σ²(N − r), with the hat
  matrix A = Z(ZᵀZ)⁻¹Zᵀ idempotent of trace r: the argument of the notes' eq. (13).
  (SSR/N, the training error of §2.2, is biased low by the factor (N − r)/N.)
* Var(β̂) = σ²(ZᵀZ)⁻¹, estimated by σ̂²(ZᵀZ)⁻¹; se_j = √[σ̂²(ZᵀZ)⁻¹]_jj.
* t_j = β̂_j / se_j ~ t(N − r) under β_j = 0 and Gaussian errors; p_j = 2 P(T > |t_j|).
* the (1 − a) confidence interval β̂_j ± t_{1−a/2}(N − r) se_j.

For GLS the same formulas hold for the whitened data (Z̃ = L⁻¹Z, Σ = LLᵀ), which gives
Var(β̂_GLS) = σ²(XᵀΣ⁻¹X)⁻¹ — the correct first line of the notes' eq. (20).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from .._validation import check_in_range

__all__ = ["InferenceMixin", "compute_inference"]


def compute_inference(params: np.ndarray, cov_unscaled: np.ndarray, ssr: np.ndarray,
                      df_resid: int, *, cov_scaled: np.ndarray | None = None,
                      col_scale: np.ndarray | None = None, ssr_scaled: np.ndarray | None = None,
                      y_scale: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Inference for k targets at once.

    params : (k, p).   cov_unscaled : (p, p) = (ZᵀZ)⁻¹.   ssr : (k,).
    cov_scaled, col_scale : optionally (ZᵀZ)⁻¹ = D⁻¹ cov_scaled D⁻¹ with D = col_scale; the
        standard errors are then se_j = √(σ̂² cov_scaled_jj) / D_j, which neither under- nor
        overflows when (ZᵀZ)⁻¹ does (data scaled by 1e±200).
    ssr_scaled, y_scale : optionally ssr = ssr_scaled·y_scale², for the same reason (y·1e200).
    Returns scale (k,), cov_params (k, p, p), bse, tvalues, pvalues (k, p).
    """
    if df_resid <= 0:
        warnings.warn(
            f"no residual degrees of freedom (N − rank = {df_resid}); σ̂², standard errors, t and "
            "p values are undefined and set to NaN. Add observations or drop columns.",
            RuntimeWarning, stacklevel=3)
        nan = np.full(params.shape, np.nan)
        return dict(scale=np.full(ssr.shape, np.nan), cov_params=np.full(params.shape[:1] +
                    cov_unscaled.shape, np.nan), bse=nan, tvalues=nan.copy(), pvalues=nan.copy())
    scale = ssr / df_resid  # σ̂² = SSR / (N − r)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cov_params = scale[:, None, None] * cov_unscaled[None]  # (k, p, p)
        if cov_scaled is not None and col_scale is not None:
            if ssr_scaled is None or y_scale is None:
                ssr_scaled, y_scale = ssr, np.ones_like(ssr)
            c_jj = np.maximum(np.diag(cov_scaled), 0.0)  # (p,)
            bse = (y_scale[:, None] * np.sqrt(np.outer(ssr_scaled / df_resid, c_jj))) / col_scale
        else:
            bse = np.sqrt(np.maximum(np.einsum("kii->ki", cov_params), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tvalues = np.where(bse > 0, params / np.where(bse > 0, bse, 1.0), np.inf * np.sign(params))
    pvalues = 2.0 * stats.t.sf(np.abs(tvalues), df_resid)
    return dict(scale=scale, cov_params=cov_params, bse=bse, tvalues=tvalues, pvalues=pvalues)


class InferenceMixin:
    """Adds ``conf_int`` and ``summary`` to an estimator that set ``params_``, ``bse_``, ``df_resid_``.

    Fitted attributes (1-D ``y``; with k targets each gains a leading axis of length k):
    ``params_`` = [intercept_, *coef_] (intercept first when fitted), ``cov_params_``,
    ``bse_``, ``tvalues_``, ``pvalues_``, ``scale_`` (σ̂²), ``df_resid_`` (N − rank),
    ``rank_``, ``ssr_``, ``rsquared_``, ``rsquared_adj_``.
    """

    def _set_inference(self, params: np.ndarray, cov_unscaled: np.ndarray, ssr: np.ndarray,
                       tss: np.ndarray, n: int, rank: int, single: bool, *,
                       cov_scaled: np.ndarray | None = None,
                       col_scale: np.ndarray | None = None, ssr_scaled: np.ndarray | None = None,
                       y_scale: np.ndarray | None = None) -> None:
        """params (k, p), ssr and tss (k,): store the inference attributes."""
        df_resid = n - rank
        inf = compute_inference(params, cov_unscaled, ssr, df_resid, cov_scaled=cov_scaled,
                                col_scale=col_scale, ssr_scaled=ssr_scaled, y_scale=y_scale)
        squeeze = (lambda a: a[0]) if single else (lambda a: a)
        self.params_ = squeeze(params)
        self.cov_params_ = squeeze(inf["cov_params"])
        self.bse_ = squeeze(inf["bse"])
        self.tvalues_ = squeeze(inf["tvalues"])
        self.pvalues_ = squeeze(inf["pvalues"])
        self.scale_ = squeeze(inf["scale"])
        self.ssr_ = squeeze(ssr)
        self.df_resid_ = df_resid
        self.rank_ = rank
        df_total = n - int(self.fit_intercept)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(tss > 0, 1.0 - ssr / np.where(tss > 0, tss, 1.0), 0.0)
            r2_adj = 1.0 - (1.0 - r2) * df_total / df_resid if df_resid > 0 else np.full_like(r2, np.nan)
        self.rsquared_ = squeeze(r2)
        self.rsquared_adj_ = squeeze(r2_adj)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(p, 2) [lower, upper] (1 − alpha) confidence intervals for ``params_`` (t distribution)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "bse_")
        alpha = check_in_range(alpha, "alpha", 0.0, 1.0, low_inclusive=False)
        q = stats.t.ppf(1.0 - alpha / 2.0, self.df_resid_)
        return np.stack([self.params_ - q * self.bse_, self.params_ + q * self.bse_], axis=-1)

    def summary(self, names: list[str] | None = None) -> str:
        """A plain-text coefficient table (single target).

        Rows are named by ``names`` (intercept first), else by the column names of the
        DataFrame the model was fitted on (``feature_names_in_``), else ``x0, x1, …``.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "bse_")
        if np.ndim(self.params_) != 1:
            raise ValueError("summary() is for a single target; index params_ for several.")
        p = len(self.params_)
        if names is None:
            columns = getattr(self, "feature_names_in_", None)
            columns = [str(c) for c in columns] if columns is not None else \
                [f"x{j}" for j in range(p - int(self.fit_intercept))]
            names = (["intercept"] if self.fit_intercept else []) + columns
        if len(names) != p:
            raise ValueError(f"names must have {p} entries (intercept first); got {len(names)}.")
        ci = self.conf_int()
        w = max(12, *(len(str(n)) for n in names))                      # names in full, not cut
        lines = [f"{type(self).__name__}: N − rank = {self.df_resid_}, σ̂² = {self.scale_:.6g}, "
                 f"R² = {self.rsquared_:.6f}",
                 f"{'':>{w}} {'coef':>14} {'std err':>12} {'t':>9} {'P>|t|':>9} {'[0.025':>12} {'0.975]':>12}"]
        for j in range(p):
            lines.append(f"{names[j]:>{w}} {self.params_[j]:>14.6g} {self.bse_[j]:>12.4g} "
                         f"{self.tvalues_[j]:>9.3f} {self.pvalues_[j]:>9.3g} {ci[j, 0]:>12.5g} "
                         f"{ci[j, 1]:>12.5g}")
        return "\n".join(lines)
