"""The six sections of the derivation notes, as the report presents them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SECTIONS", "Section"]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    equations: str  # the range of equations of the notes
    summary: str    # the section's central claims, as equations in plain text


SECTIONS: dict[str, Section] = {
    s.id: s
    for s in (
        Section(
            "1", "Pruning with second-order information (Optimal Brain Surgeon)", "(1)–(10)",
            "Removing weight q costs L_q = ½ w_q² / [H⁻¹]_qq  (8); the best compensation is "
            "δw = −(w_q / [H⁻¹]_qq) H⁻¹ e_q  (7). With H = I this is magnitude pruning: "
            "δw = −w_q e_q, L_q = ½ w_q²  (9)–(10).",
        ),
        Section(
            "2", "Least squares: the expected training error", "(11)–(13)",
            "E[‖(X(XᵀX)⁻¹Xᵀ − I) ε‖² / N] = (N − d)/N · σ²  (13), because the hat matrix "
            "A = X(XᵀX)⁻¹Xᵀ is idempotent with tr(I − A) = N − d.",
        ),
        Section(
            "3", "Linear estimators: OLS, ridge, GLS, elastic net", "(14)–(26)",
            "β̂_OLS = (XᵀX)⁻¹XᵀY  (16); β̂_ridge = (XᵀX + αI)⁻¹XᵀY  (19); GLS equals OLS "
            "iff ΣX = XF  (21)–(23); the elastic net is a lasso on augmented data  (24)–(26).",
        ),
        Section(
            "4", "Dropout as regularization", "(27)–(30)",
            "Multiplicative input noise δ_k (mean 1, variance σ²) adds, in expectation, the "
            "penalty σ² Σ_k ω_k² x_k²: J_R = (y − Σ ω_k x_k)² + σ² Σ ω_k² x_k²  (30, corrected).",
        ),
        Section(
            "5", "Gradient descent vs Newton's method", "(31)–(37)",
            "On L = ½ ωᵀHω, GD gives ω⁽ᵗ⁾ = Q(I − εΛ)ᵗQᵀω⁽⁰⁾  (35, corrected) and converges iff "
            "0 < ε < 2/λ_max  (36); Newton's ω⁽ᵗ⁺¹⁾ = (1 − ε)ω⁽ᵗ⁾  (37) converges in one step at ε = 1.",
        ),
        Section(
            "6", "Siamese networks", "(38)–(39)",
            "Two inputs pass through one shared layer h = tanh(Wx + b); the gradients (38) of "
            "the pair loss and the minibatch update (39) train it to measure similarity.",
        ),
    )
}
