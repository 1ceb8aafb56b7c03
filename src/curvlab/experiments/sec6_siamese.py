"""§6 Siamese networks, measured on scikit-learn's digits (8×8 images scaled to [0, 1]).

1. (38) is the exact gradient of J = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ + ‖W‖² (autograd, float64), and
   not the gradient of the squared code distance that §6.1 describes.
2. (39) is one gradient-descent step on the mean of the pair losses.
3. Minimizing the notes' loss alone sends every code to the origin (W → 0, b → 0): no
   similarity is learned; a contrastive loss (Hadsell et al. 2006) on the same layer does.
4. Similarity on seen classes (new images) and on classes never seen in training (train
   0–4, test 5–9) against raw pixels and PCA, with the embedding and distance histograms.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..siamese import (FilterEncoder, MLPEncoder, SiameseNetwork, TanhEncoder, TrainConfig,
                       one_shot_accuracy, roc_auc, sample_pairs, train)
from ..siamese.augment import make_augment
from ..siamese.tanh_layer import notes_forward, notes_gd_step, notes_gradients
from ..siamese.train import CollapseWarning
from . import experiment
from .findings import Figure, Finding, check, judge_correction, new_figure


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _torch_J(W, b, X1, X2):
    H1, H2 = torch.tanh(X1 @ W.T + b), torch.tanh(X2 @ W.T + b)
    return ((H1 * H1).sum(1) + (H2 * H2).sum(1) - (H1 * H2).sum(1) + (W * W).sum()).mean()


def _pair_auc(Z: np.ndarray, i, j, y) -> tuple[float, np.ndarray]:
    D = np.linalg.norm(Z[i] - Z[j], axis=1)
    return roc_auc(-D, y), D


@experiment(section="6", name="eq38-gradients")
def eq38_gradients(size: str, seed: int) -> list[Finding]:
    X, y = _digits()
    rng = np.random.default_rng(seed)
    k = 16
    W, b = rng.normal(size=(k, 64)) * 0.2, rng.normal(size=k) * 0.1
    i, j, _ = sample_pairs(y, 256 if size == "quick" else 2048, seed)
    X1, X2 = X[i], X[j]
    g = notes_gradients(W, b, X1, X2)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    gW, gb = torch.autograd.grad(_torch_J(Wt, bt, torch.tensor(X1), torch.tensor(X2)), (Wt, bt))
    err = max(float(np.abs(g.dW - gW.numpy()).max()), float(np.abs(g.db - gb.numpy()).max()))
    # the squared distance §6.1 speaks of: ½·E‖h₁ − h₂‖²·2 = E‖h₁ − h₂‖² + ‖W‖²
    Wd = torch.tensor(W, requires_grad=True)
    H1 = torch.tanh(torch.tensor(X1) @ Wd.T + torch.tensor(b))
    H2 = torch.tanh(torch.tensor(X2) @ Wd.T + torch.tensor(b))
    (gWd,) = torch.autograd.grad(((H1 - H2) ** 2).sum(1).mean() + (Wd * Wd).sum(), Wd)
    rel_dist = float(np.linalg.norm(g.dW - gWd.numpy()) / np.linalg.norm(gWd.numpy()))
    return [Finding(
        section="6", ref="§6.2, eq. (38)",
        claim="The hand-written gradients (38) are exact for J = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ + ‖W‖² (the loss "
              "the notes leave unstated), batch-averaged as (1/m)ΣΔ₃x₁ᵀ + Δ₄x₂ᵀ + 2W.",
        measured=err, predicted=0.0, tolerance="max |(38) − autograd| < 1e-10 (float64)",
        verdict=check(err < 1e-10),
        equation="∂J/∂W = Δ₃x₁ᵀ + Δ₄x₂ᵀ + 2W, Δ₁ = 2h₁ − h₂, Δ₃ = Δ₁ ⊙ (1 − h₁²)",
        details={"pairs": len(i), "k": k, "max_abs_error": err,
                 "relative_difference_to_gradient_of_squared_distance": rel_dist,
                 "note": "(38) is not the gradient of the code distance ‖h₁ − h₂‖² of §6.1 (that has "
                         "Δ₁ = 2(h₁ − h₂)); J adds ½‖h₁‖² + ½‖h₂‖² to ½‖h₁ − h₂‖², a pull of every code "
                         "to 0."},
    )]


@experiment(section="6", name="eq39-update")
def eq39_update(size: str, seed: int) -> list[Finding]:
    X, y = _digits()
    rng = np.random.default_rng(seed + 1)
    W, b = rng.normal(size=(16, 64)) * 0.2, np.zeros(16)
    i, j, _ = sample_pairs(y, 128, seed)
    eps = 0.02
    W1, b1 = notes_gd_step(W, b, X[i], X[j], eps=eps)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    opt = torch.optim.SGD([Wt, bt], lr=eps)
    _torch_J(Wt, bt, torch.tensor(X[i]), torch.tensor(X[j])).backward()
    opt.step()
    err = max(float(np.abs(W1 - Wt.detach().numpy()).max()), float(np.abs(b1 - bt.detach().numpy()).max()))
    return [Finding(
        section="6", ref="§6.2, eq. (39)",
        claim="Update (39) is one gradient-descent step on the mean of the m pair losses (torch SGD as reference).",
        measured=err, predicted=0.0, tolerance="max |Δparameters| < 1e-12",
        verdict=check(err < 1e-12), equation="W ← W − ε (1/m) Σᵢ ∂Jᵢ/∂W,  b ← b − ε (1/m) Σᵢ ∂Jᵢ/∂b",
        details={"m": len(i), "eps": eps},
    )]


@experiment(section="6", name="notes-loss-vs-contrastive")
def notes_loss_alone(size: str, seed: int) -> list[Finding]:
    X, y = _digits()
    quick = size == "quick"
    rng = np.random.default_rng(seed)
    tr, te = np.arange(1000), np.arange(1000, len(y))
    i, j, _ = sample_pairs(y[tr], 2000, seed)
    ie, je, ye = sample_pairs(y[te], 2000, seed + 1)
    ie, je = te[ie], te[je]
    k, eps, steps = 16, 0.02, 300 if quick else 3000   # ε below the §5 bound 2/λ_max
    W, b = rng.normal(size=(k, 64)) * 0.3, np.zeros(k)

    def state(W, b):
        code = float(np.linalg.norm(notes_forward(W, b, X[te]), axis=1).mean())
        auc, D = _pair_auc(notes_forward(W, b, X), ie, je, ye)
        return code, auc, float(D[ye == 1].mean()), float(D[ye == 0].mean())

    code0, auc0, _, _ = state(W, b)
    trace = []
    for t in range(steps):
        batch = rng.choice(len(i), 128, replace=False)
        W, b = notes_gd_step(W, b, X[tr][i[batch]], X[tr][j[batch]], eps=eps)
        if t % 20 == 0:
            trace.append((t, float(np.linalg.norm(notes_forward(W, b, X[te]), axis=1).mean())))
    code1, auc1, dpos1, dneg1 = state(W, b)

    torch.manual_seed(seed)
    net = SiameseNetwork(TanhEncoder(64, k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        train(net, (X[tr], y[tr]), config=TrainConfig(loss="contrastive", margin=2.0, lr=3e-3,
                                                      epochs=4 if quick else 30, seed=seed, progress=False,
                                                      pairs_per_epoch=1024 if quick else 4096))
    Zc = net.encode(torch.tensor(X, dtype=torch.float32)).numpy()
    auc_c, Dc = _pair_auc(Zc, ie, je, ye)
    code_c = float(np.linalg.norm(Zc[te], axis=1).mean())

    notes_ok = code1 > 0.1 * code0 and auc1 >= 0.9
    contrastive_ok = code_c > 0.1 * code0 and auc_c >= 0.9
    fig, ax = new_figure(1, 2, size=(9, 3.4))
    t_, c_ = zip(*trace)
    ax[0].semilogy(t_, c_)
    ax[0].set(xlabel="GD step (39)", ylabel="mean ‖h‖ (held-out digits)", title="notes' loss alone: codes → 0")
    ax[1].hist(Dc[ye == 1], bins=40, alpha=0.6, label="similar pairs")
    ax[1].hist(Dc[ye == 0], bins=40, alpha=0.6, label="dissimilar pairs")
    ax[1].set(xlabel="‖h₁ − h₂‖", ylabel="number of held-out pairs",
              title=f"contrastive tanh layer (AUC {auc_c:.3f})")
    ax[1].legend()
    return [Finding(
        section="6", ref="§6.1–6.2, eqs. (38)–(39)",
        claim="Training the shared tanh layer learns a similarity measure (§6.1): the notes' loss alone does "
              "not — its minimum is W = 0, b = 0, every code at the origin — while a contrastive loss on "
              "the same layer does.",
        measured=f"notes' loss: mean ‖h‖ {code0:.3g} → {code1:.3g}, AUC {auc1:.3f}; contrastive: ‖h‖ "
                 f"{code_c:.3g}, AUC {auc_c:.3f}",
        predicted="notes' loss: ‖h‖ → 0, AUC ≈ 0.5; contrastive: AUC ≥ 0.9",
        tolerance="learns similarity ⇔ mean ‖h‖ > 0.1·initial and held-out AUC ≥ 0.9",
        verdict=judge_correction(notes_ok, contrastive_ok),
        equation="L = y·½D² + (1 − y)·½max(0, m − D)², y = 1 similar (Hadsell et al. 2006)",
        notes_form="J = h₁ᵀh₁ + h₂ᵀh₂ − h₁ᵀh₂ + ‖W‖² (unlabelled; the loss behind (38))",
        correction=f"The notes' loss J uses no labels and is smallest at W = 0, b = 0: training on it shrinks "
                   f"every code to the origin (mean ‖h‖ {code0:.3g} → {code1:.3g}, AUC {auc1:.3f}, chance is "
                   f"0.5), while a contrastive loss on the same layer learns similarity (AUC {auc_c:.3f}).",
        details={"steps": steps, "eps": eps, "k": k, "code_norm_initial": code0, "code_norm_final": code1,
                 "auc_initial": auc0, "auc_final_notes": auc1, "d_pos_final": dpos1, "d_neg_final": dneg1,
                 "auc_contrastive": auc_c, "code_norm_contrastive": code_c,
                 "why": "J = ½‖h₁−h₂‖² + ½‖h₁‖² + ½‖h₂‖² + ‖W‖² ≥ 0 with equality only at h₁ = h₂ = 0, W = 0; "
                        "nothing pushes dissimilar pairs apart. With ε above the §5 bound (e.g. 0.1) GD "
                        "does not even converge to that collapse."},
        figures=(Figure.from_matplotlib(fig, "sec6-notes-loss-collapse",
                                        "Left: the notes' loss drives every code to the origin. Right: "
                                        "distances of held-out pairs after contrastive training."),),
    )]


def _embedding_figure(Z: np.ndarray, labels: np.ndarray, D_pix, D_net, yp, name: str) -> Figure:
    fig, ax = new_figure(1, 3, size=(12, 3.6))
    Zc = Z - Z.mean(0)
    _, _, Vt = np.linalg.svd(Zc, full_matrices=False)
    P = Zc @ Vt[:2].T                                    # (n, 2) principal-plane projection
    for c in np.unique(labels):
        ax[0].scatter(*P[labels == c].T, s=4, label=str(c))
    ax[0].legend(markerscale=3, fontsize=7)
    ax[0].set(title="learned embedding of unseen 5–9 (PCA 2-D)", xlabel="principal component 1",
              ylabel="principal component 2")
    for a, D, t in ((ax[1], D_pix, "raw pixels"), (ax[2], D_net, "Siamese (filter CNN)")):
        a.hist(D[yp == 1], bins=40, alpha=0.6, density=True, label="same class")
        a.hist(D[yp == 0], bins=40, alpha=0.6, density=True, label="different class")
        a.set(title=f"{t}: pair distances", xlabel="distance between the pair's embeddings",
              ylabel="density (each histogram integrates to 1)")
        a.legend(fontsize=7)
    return Figure.from_matplotlib(fig, name, "Unseen classes 5–9: 2-D projection of the learned embedding, "
                                             "and distance histograms of same- and different-class pairs.")


@experiment(section="6", name="unseen-classes")
def unseen_classes(size: str, seed: int) -> list[Finding]:
    """Train on digits 0–4, measure on 5–9 (never seen) against pixels and PCA."""
    from sklearn.decomposition import PCA

    X, y = _digits()
    X = X.astype(np.float32)
    quick = size == "quick"
    seen = y < 5
    Xs, ys, Xu, yu = X[seen], y[seen], X[~seen], y[~seen]
    perm = np.random.default_rng(seed).permutation(len(ys))
    tr, va = perm[: int(0.8 * len(ys))], perm[int(0.8 * len(ys)):]
    n_pairs, n_episodes = (2000, 600) if quick else (5000, 2000)
    i, j, yp = sample_pairs(yu, n_pairs, seed)

    def score(Z):
        auc, D = _pair_auc(Z, i, j, yp)
        return auc, one_shot_accuracy(Z, yu, n_way=5, n_episodes=n_episodes, seed=seed), D

    auc_pix, os_pix, D_pix = score(Xu)
    pca = PCA(30, random_state=seed).fit(Xs)
    auc_pca, os_pca, _ = score(pca.transform(Xu))
    torch.manual_seed(seed)
    net = SiameseNetwork(FilterEncoder(kernel_size=5))
    cfg = TrainConfig(loss="contrastive", margin=5.0, lr=1e-2, epochs=10 if quick else 30, patience=6,
                      pairs_per_epoch=2048, seed=seed, progress=False)
    train(net, (Xs[tr], ys[tr]), val=(Xs[va], ys[va]), config=cfg,
          augment=make_augment(max_shift=1, noise=0.05))
    Z = net.encode(torch.tensor(Xu)).numpy()
    auc_net, os_net, D_net = score(Z)
    rows = {"pixels": (auc_pix, os_pix), "PCA-30 (fit on 0–4)": (auc_pca, os_pca),
            "Siamese filter CNN": (auc_net, os_net)}
    if not quick:
        torch.manual_seed(seed)
        mlp = SiameseNetwork(MLPEncoder(64, (128,), 32))
        train(mlp, (Xs[tr], ys[tr]), val=(Xs[va], ys[va]),
              config=TrainConfig(epochs=30, patience=6, seed=seed, progress=False))
        auc_m, os_m, _ = score(mlp.encode(torch.tensor(Xu)).numpy())
        rows["Siamese MLP (contrastive)"] = (auc_m, os_m)
    ok = auc_net > auc_pix and os_net > os_pix
    return [Finding(
        section="6", ref="§6.1",
        claim="A Siamese encoder trained on digit classes 0–4 measures similarity on the unseen classes 5–9 "
              "better than raw pixels (ROC-AUC and 5-way one-shot).",
        measured=f"AUC {auc_net:.3f}, one-shot {os_net:.3f}",
        predicted=f"> pixels: AUC {auc_pix:.3f}, one-shot {os_pix:.3f}",
        tolerance=f"both strictly above pixels on the same {n_pairs} pairs / {n_episodes} episodes",
        verdict=check(ok),
        equation="encoder: 5×5 linear filter started at the identity, contrastive loss, ±1-pixel shifts + noise",
        details={"table": {k: {"auc": a, "one_shot_5way": o} for k, (a, o) in rows.items()},
                 "note": "MLP / CNN encoders fit 0–4 (validation AUC ≥ 0.99) but transfer worse than pixels; "
                         "see benchmarks/siamese.md for every attempt."},
        figures=(_embedding_figure(Z, yu, D_pix, D_net, yp, "sec6-unseen-embedding"),),
    )]


@experiment(section="6", name="seen-classes")
def seen_classes(size: str, seed: int) -> list[Finding]:
    """All ten classes, held-out images: verification AUC and 10-way one-shot."""
    X, y = _digits()
    X = X.astype(np.float32)
    quick = size == "quick"
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, va, te = perm[:1100], perm[1100:1400], perm[1400:]
    n_pairs, n_episodes = (2000, 600) if quick else (5000, 2000)
    i, j, yp = sample_pairs(y[te], n_pairs, seed)
    auc_pix, _ = _pair_auc(X[te], i, j, yp)
    os_pix = one_shot_accuracy(X[te], y[te], n_way=10, n_episodes=n_episodes, seed=seed)
    torch.manual_seed(seed)
    net = SiameseNetwork(MLPEncoder(64, (256,), 32))
    train(net, (X[tr], y[tr]), val=(X[va], y[va]),
          config=TrainConfig(epochs=6 if quick else 40, patience=6, seed=seed, progress=False))
    Z = net.encode(torch.tensor(X[te])).numpy()
    auc, _ = _pair_auc(Z, i, j, yp)
    os_ = one_shot_accuracy(Z, y[te], n_way=10, n_episodes=n_episodes, seed=seed)
    target_auc, target_os = (0.99, 0.95) if quick else (0.995, 0.97)
    return [Finding(
        section="6", ref="§6.1",
        claim="A Siamese network learns a similarity measure: on new images of the training classes it "
              "separates same- from different-class pairs.",
        measured=f"AUC {auc:.4f}, 10-way one-shot {os_:.3f}",
        predicted=f"AUC ≥ {target_auc}, one-shot ≥ {target_os} (pixels: {auc_pix:.3f}, {os_pix:.3f})",
        tolerance=f"AUC ≥ {target_auc} and one-shot ≥ {target_os} on {n_pairs} pairs / {n_episodes} episodes",
        verdict=check(auc >= target_auc and os_ >= target_os),
        equation="MLP 64→256→32, contrastive loss (margin 1), Adam, early stopping on validation AUC",
        details={"pixels_auc": auc_pix, "pixels_one_shot": os_pix},
    )]
