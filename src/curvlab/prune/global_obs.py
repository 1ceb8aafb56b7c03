"""Global OBS over a flat weight vector: one weight at a time, or in jointly removed sets.

The greedy OBS loop (Hassibi & Stork 1993) repeats the single-weight rule of the notes:

1. saliency L_q = ½ w_q² / [H⁻¹]_qq for every remaining candidate            (8)
2. remove the cheapest q, compensate the others: w ← w − (w_q/[H⁻¹]_qq) H⁻¹e_q   (7)
3. downdate the inverse to that of the remaining weights:
   H⁻¹ ← H⁻¹ − H⁻¹e_q e_qᵀH⁻¹ / [H⁻¹]_qq  (the Schur complement; row/column q become 0).

With ``joint=k > 1`` each step removes the k cheapest candidates together with the
multi-weight rule δw = −H⁻¹E_Q(E_QᵀH⁻¹E_Q)⁻¹w_Q, cost ½w_Qᵀ(E_QᵀH⁻¹E_Q)⁻¹w_Q, and the rank-k
downdate H⁻¹ ← H⁻¹ − H⁻¹E_Q(E_QᵀH⁻¹E_Q)⁻¹E_QᵀH⁻¹.

**Delayed downdates.** A downdate of the P × P inverse is O(P²) memory traffic; doing one
per weight is the bottleneck. Step 1–2 only need diag(H⁻¹), w and one column H⁻¹e_q, so we
keep H⁻¹ = H₀⁻¹ − UUᵀ with the columns u = H⁻¹e_q/√[H⁻¹]_qq of the pending downdates in U
(for a set: U ← [U, H⁻¹E_Q L⁻ᵀ] with E_QᵀH⁻¹E_Q = LLᵀ). A column costs O(P·|U|), the diagonal
is updated by −u², and every ``delay`` columns the pending downdates are folded into H₀⁻¹ by
one matrix product (BLAS-3). Rows of removed weights are then dropped (H₀⁻¹ shrinks as the
model is pruned). The result equals the undelayed loop to round-off.

**Budgets.** Candidates can be restricted by quota groupings: each grouping assigns every
weight a group and each group may lose at most its quota. One grouping with one group is a
global budget; one group per layer is a per-layer budget; groups of M consecutive inputs with
quota M − N give the N:M pattern (N kept of every M).

Costs are additive: for a quadratic loss at a minimum the actual increase after all steps
is Σ L_q exactly (the gradient after each step is orthogonal to later feasible moves).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune
from tqdm.auto import tqdm

from .. import distributed as cd
from .._validation import check_in_range, check_positive, check_positive_int
from ..curvature.objective import Objective
from .curvatures import CURVATURES, CurvatureName, block_inverse_for, curvature_matrix, inverse_for
from .masks import apply_mask, copy_module, current_weight, restore_on_error
from .report import LayerRecord, PruningReport, RoundRecord

__all__ = ["ObsResult", "QuotaGroups", "global_obs", "prune_global"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuotaGroups:
    """A grouping of the P weights with a removal quota per group.

    group : (P,) long tensor, the group of each weight (−1: not in any group, unconstrained).
    quota : (G,) long tensor, the most weights each group may lose.
    """

    group: torch.Tensor
    quota: torch.Tensor


@dataclass(frozen=True)
class ObsResult:
    """What :func:`global_obs` returns.

    w : (P,) compensated weights, zero where removed.
    mask : (P,) bool, True where kept.
    order : (n,) indices in the order they were removed.
    step_cost : (steps,) predicted loss increase of each step (eq. (8), or the joint cost).
    step_size : (steps,) number of weights removed at each step.
    snapshots : {n: (P,) weights after the first n removals} for the requested ``snapshots``
        (the greedy path is the same whatever the final count, so one run gives every
        sparsity on the way).
    """

    w: torch.Tensor
    mask: torch.Tensor
    order: torch.Tensor
    step_cost: torch.Tensor
    step_size: torch.Tensor
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def predicted_increase(self) -> float:
        """Σ of the step costs: the quadratic model's loss increase."""
        return float(self.step_cost.sum())

    def __repr__(self) -> str:
        return (f"ObsResult(P={self.w.numel()}, removed={self.order.numel()}, steps={self.step_cost.numel()}, "
                f"predicted_increase={self.predicted_increase:.4g}, snapshots={sorted(self.snapshots)})")


def global_obs(w: torch.Tensor, H_inv: torch.Tensor, n_prune: int, *,
               candidates: torch.Tensor | None = None, quotas: Sequence[QuotaGroups] = (),
               joint: int = 1, delay: int = 64, snapshots: Sequence[int] = (),
               progress: bool | None = None) -> ObsResult:
    """Remove ``n_prune`` weights of ``w`` greedily by OBS (eqs. (7)–(8)), with compensation.

    Parameters
    ----------
    w : (P,) weights (float64 advised).
    H_inv : (P, P) symmetric positive definite inverse curvature (see
        :func:`curvlab.prune.core.inverse_curvature`). Not modified.
    n_prune : how many weights to remove (≤ the number of candidates).
    candidates : (P,) bool, the weights that may be removed (default: all). The others (e.g.
        biases) are never removed but do move to compensate.
    quotas : quota groupings restricting the candidates (see :class:`QuotaGroups`).
    joint : weights removed per step (1: the classic one-at-a-time loop).
    delay : pending downdates kept before folding them into H⁻¹ (1: fold every step).
    snapshots : removal counts at which to keep a copy of the compensated weights.
    progress : show a tqdm bar (None: only on a terminal).

    Raises
    ------
    ValueError on bad shapes, a non-finite input, n_prune larger than what the candidates and
    quotas allow, or an H⁻¹ that loses positive definiteness (increase the damping).
    """
    if not isinstance(w, torch.Tensor) or not isinstance(H_inv, torch.Tensor):
        raise TypeError("w and H_inv must be torch tensors.")
    if w.ndim != 1:
        raise ValueError(f"w must be a flat (P,) vector; got shape {tuple(w.shape)}.")
    P = w.shape[0]
    if H_inv.shape != (P, P) and H_inv.shape != (P,):
        raise ValueError(f"H_inv must be ({P}, {P}), or ({P},) for a diagonal, to match w; "
                         f"got {tuple(H_inv.shape)}.")
    if not torch.isfinite(w).all() or not torch.isfinite(H_inv).all():
        raise ValueError("w and H_inv must be finite (no NaN or infinity).")
    n_prune = check_positive_int(n_prune, "n_prune", minimum=0)
    joint = check_positive_int(joint, "joint")
    delay = check_positive_int(delay, "delay")
    if candidates is None:
        candidates = torch.ones(P, dtype=torch.bool)
    if candidates.shape != (P,) or candidates.dtype != torch.bool:
        raise ValueError(f"candidates must be a ({P},) bool tensor.")
    for k, qg in enumerate(quotas):
        if qg.group.shape != (P,) or int(qg.group.max()) >= qg.quota.numel():
            raise ValueError(f"quotas[{k}].group must be a ({P},) tensor of group ids < len(quota).")
    allowed = _capacity(candidates, quotas)
    if n_prune > allowed:
        raise ValueError(f"n_prune = {n_prune} exceeds what the candidates and quotas allow ({allowed}); "
                         "lower the sparsity or loosen the budgets.")

    if H_inv.ndim == 1:
        return _diagonal_obs(w, H_inv, n_prune, candidates, quotas, snapshots)
    dtype = H_inv.dtype
    # Working set: local coordinates idx → global; shrinks when removed weights are compacted away.
    idx = torch.arange(P)
    H0 = H_inv.clone()
    d = torch.diagonal(H0).clone()
    w_loc = w.to(dtype).clone()
    cand = candidates.clone()
    alive = torch.ones(P, dtype=torch.bool)
    groups = [qg.group.clone() for qg in quotas]
    room = [qg.quota.clone().to(torch.long) for qg in quotas]
    U = torch.zeros(P, delay + joint, dtype=dtype)
    n_u = 0
    removed_global: list[torch.Tensor] = []
    step_cost: list[float] = []
    step_size: list[int] = []
    done = 0
    inf = torch.tensor(float("inf"), dtype=dtype)
    want = sorted({int(n) for n in snapshots if 0 < int(n) <= n_prune})
    saved: dict[int, torch.Tensor] = {}
    bar = tqdm(total=n_prune, desc="OBS", unit="w", disable=None if progress is None else not progress, leave=False)
    while done < n_prune:
        ok = cand.clone()
        for g, r in zip(groups, room):
            ok &= (g < 0) | (r.clamp(min=0)[g.clamp(min=0)] > 0)
        saliency = torch.where(ok, 0.5 * w_loc**2 / d.clamp(min=torch.finfo(dtype).tiny), inf)
        k = min(joint, n_prune - done)
        if k == 1:
            Q = torch.argmin(saliency).reshape(1)
        else:
            Q = _pick_within_quotas(saliency, k, groups, room)
        if not bool(torch.isfinite(saliency[Q]).all()):
            raise ValueError("no removable weight left within the quotas; loosen the budgets.")
        # Current columns H⁻¹E_Q = H₀⁻¹E_Q − U U[Q]ᵀ                                    (n, k)
        C = H0[:, Q] - U[:, :n_u] @ U[Q, :n_u].T
        S = C[Q]                                                                     # (k, k)
        L, info = torch.linalg.cholesky_ex((S + S.T) / 2)
        if int(info) != 0 or not bool((torch.diagonal(S) > 0).all()):
            raise ValueError("the inverse curvature lost positive definiteness during OBS (round-off on a "
                             "nearly singular H); increase damping.")
        lam = torch.cholesky_solve(w_loc[Q].unsqueeze(1), L).squeeze(1)             # (k,) = S⁻¹w_Q
        step_cost.append(float(0.5 * w_loc[Q] @ lam))
        step_size.append(k)
        w_loc -= C @ lam                                                             # δw = −H⁻¹E_Q S⁻¹w_Q
        if k == 1:
            Unew = C / L[0, 0]                                                       # (n, 1) = H⁻¹e_q/√[H⁻¹]_qq
        else:
            Unew = torch.linalg.solve_triangular(L, C.T.contiguous(), upper=False).T  # (n, k) = C L⁻ᵀ
        U[:, n_u:n_u + k] = Unew
        n_u += k
        d -= (Unew**2).sum(1)
        w_loc[Q] = 0.0
        d[Q] = 0.0
        cand[Q] = False
        alive[Q] = False
        for g, r in zip(groups, room):
            gq = g[Q]
            gq = gq[gq >= 0]
            r.index_add_(0, gq, -torch.ones_like(gq))
        removed_global.append(idx[Q])
        done += k
        bar.update(k)
        while want and done >= want[0]:
            snap = torch.zeros(P, dtype=dtype)
            snap[idx] = w_loc
            snap[torch.cat(removed_global)] = 0.0
            saved[want.pop(0)] = snap
        if n_u >= delay:
            H0, d, w_loc, cand, alive, groups, idx, U = _fold(H0, U, n_u, w_loc, cand, alive, groups, idx)
            n_u = 0
    bar.close()
    w_out = torch.zeros(P, dtype=dtype)
    w_out[idx] = w_loc
    order = torch.cat(removed_global) if removed_global else torch.zeros(0, dtype=torch.long)
    mask = torch.ones(P, dtype=torch.bool)
    mask[order] = False
    w_out[~mask] = 0.0
    log.info("global OBS removed %d of %d weights; predicted increase %.4g", n_prune, P, sum(step_cost))
    return ObsResult(w=w_out, mask=mask, order=order,
                     step_cost=torch.tensor(step_cost, dtype=torch.float64),
                     step_size=torch.tensor(step_size, dtype=torch.long), snapshots=saved)


def _diagonal_obs(w, h_inv, n_prune, candidates, quotas, snapshots) -> ObsResult:
    """OBS with a diagonal H (magnitude: H = I; OBD): H⁻¹e_q ∝ e_q, so removing q moves no
    other weight and no saliency changes — the greedy loop is a sort, taken in order within
    the quotas. Same result as the dense loop, in O(P log P)."""
    if not bool((h_inv[candidates] > 0).all()):
        raise ValueError("the diagonal H⁻¹ must be > 0 on the candidates.")
    saliency = torch.where(candidates, 0.5 * w.double()**2 / h_inv.double().clamp(min=1e-300),
                           torch.tensor(float("inf"), dtype=torch.float64))
    order = torch.argsort(saliency, stable=True)
    if quotas:
        groups = [qg.group for qg in quotas]
        room = [qg.quota.clone() for qg in quotas]
        picked = _pick_within_quotas(saliency, n_prune, groups, room) if n_prune else order[:0]
    else:
        picked = order[:n_prune]
    if picked.numel() < n_prune:
        raise ValueError("no removable weight left within the quotas; loosen the budgets.")
    mask = torch.ones(w.shape[0], dtype=torch.bool)
    mask[picked] = False
    w_out = w.clone()
    w_out[~mask] = 0.0
    saved = {}
    for n in snapshots:
        if 0 < int(n) <= n_prune:
            snap = w.clone()
            snap[picked[:int(n)]] = 0.0
            saved[int(n)] = snap
    return ObsResult(w=w_out, mask=mask, order=picked, step_cost=saliency[picked],
                     step_size=torch.ones(n_prune, dtype=torch.long), snapshots=saved)


def _capacity(candidates: torch.Tensor, quotas: Sequence[QuotaGroups]) -> int:
    """An upper bound on how many weights can be removed: min over groupings of Σ min(quota, size)."""
    total = int(candidates.sum())
    for qg in quotas:
        g = qg.group[candidates]
        free = int((g < 0).sum())
        sizes = torch.bincount(g[g >= 0], minlength=qg.quota.numel())
        total = min(total, free + int(torch.minimum(sizes, qg.quota.clamp(min=0)).sum()))
    return total


def _pick_within_quotas(saliency: torch.Tensor, k: int, groups: list[torch.Tensor],
                        room: list[torch.Tensor]) -> torch.Tensor:
    """The k smallest finite saliencies, taken in order while every group has room."""
    order = torch.argsort(saliency)
    if not groups:
        return order[:k]
    left = [r.clone() for r in room]
    picked = []
    for q in order.tolist():
        if not math.isfinite(float(saliency[q])):
            break
        if all(g[q] < 0 or left_r[g[q]] > 0 for g, left_r in zip(groups, left)):
            picked.append(q)
            for g, left_r in zip(groups, left):
                if g[q] >= 0:
                    left_r[g[q]] -= 1
            if len(picked) == k:
                break
    return torch.tensor(picked if picked else [int(order[0])], dtype=torch.long)


def _fold(H0, U, n_u, w_loc, cand, alive, groups, idx):
    """H₀⁻¹ ← H₀⁻¹ − UUᵀ (one BLAS-3 product), then drop the rows of removed weights."""
    Uk = U[:, :n_u]
    H0 = H0 - Uk @ Uk.T
    if int(alive.sum()) < 0.9 * alive.numel():
        sel = alive.nonzero().squeeze(1)
        H0 = H0[sel][:, sel].contiguous()
        w_loc, cand, alive, idx = w_loc[sel], cand[sel], alive[sel], idx[sel]
        groups = [g[sel] for g in groups]
    # Refresh the diagonal from the folded matrix (removes drift of the running update).
    d = torch.diagonal(H0).clone()
    d[~alive] = 0.0
    U = torch.zeros(H0.shape[0], U.shape[1], dtype=H0.dtype)
    return H0, d, w_loc, cand, alive, groups, idx, U


# ---------------------------------------------------------------------------------- models
PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@cd.raises_on_every_rank("prune_global")
def prune_global(model: nn.Module, sparsity: float, data: tuple[torch.Tensor, torch.Tensor], *,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 curvature: CurvatureName = "abs_hessian", damping: float = 1e-2, rounds: int = 1,
                 budget: str | dict[str, float] = "global", pattern: str | None = None,
                 joint: int = 1, delay: int = 64, compensate_bias: bool = True,
                 blocks: str | int | None = None, modules: Sequence[str] | None = None,
                 progress: bool | None = None) -> PruningReport:
    """Prune the weight matrices of ``model`` in place by global OBS, one-shot (no retraining).

    Each round computes the curvature H of the loss at the current weights over the
    parameters still alive (weights of the prunable modules and, with ``compensate_bias``,
    their biases, which move but are never removed), inverts it with damping, and removes
    weights by :func:`global_obs` — OBS (7)–(8) with rank-1 downdates — until the round's
    share of the budget is reached (r/R of it after round r). Recomputing H between rounds
    corrects the quadratic model, which under-predicts the loss increase more and more as
    weights go.

    Parameters
    ----------
    model : a network with ``nn.Linear`` / ``nn.Conv*`` layers; modified in place. Modules
        already pruned by ``torch.nn.utils.prune`` keep their zeros (they count toward the
        sparsity) and the new mask is combined with theirs.
    sparsity : fraction of the prunable weights that end at zero, in [0, 1).
    data : ``(X, y)`` calibration data (the loss is taken over all of it).
    loss_fn : ``loss_fn(output, y)`` returning the batch mean (default cross-entropy).
    curvature : ``"magnitude"`` (H = I), ``"obd"``, ``"fisher"``, ``"gauss_newton"``,
        ``"hessian"`` or ``"abs_hessian"`` (see :mod:`curvlab.prune.curvatures`).
    damping : relative damping λ: H + λ·mean(diag H)·I. Larger λ moves OBS towards
        magnitude pruning; choose it on validation data.
    rounds : curvature computations R (1: classic one-shot OBS).
    budget : ``"global"`` (one pool for all layers), ``"layer"`` (each layer at
        ``sparsity``), or a dict ``{module name: sparsity}`` (layers not listed: ``sparsity``).
    pattern : ``"N:M"`` keeps N of every M consecutive input weights of each output row
        (``sparsity`` must then be None or 1 − N/M); the input size must divide by M.
    joint : weights removed together per OBS step (multi-weight rule).
    delay : pending rank-1 downdates before they are folded into H⁻¹.
    compensate_bias : let biases absorb part of the compensation.
    blocks : None (the full H), ``"layer"`` (H block-diagonal by module: weights and bias of
        a module form one block) or an int B (consecutive blocks of B parameters of θ) —
        WoodFisher's block-diagonal approximation; OBS then compensates within a block only.
    modules : names of the modules to prune (default: every Linear/Conv).

    Returns
    -------
    :class:`~curvlab.prune.report.PruningReport`. On any error the model is left unchanged.

    Data-parallel: under a process group (``torchrun``) ``data`` is each rank's calibration
    shard; every rank must pass the same model and options (checked before any work, like
    non-empty shards: a clear error on every rank otherwise). The curvature and the losses
    are those of all the ranks' data (:func:`~curvlab.prune.curvatures.curvature_matrix`), so
    every rank ends with the same weights as one process on the concatenated data.

    Example
    -------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> report = prune_global(model, 0.5, (X, y), curvature="gauss_newton")
    >>> round(report.total_sparsity, 2)
    0.5
    """
    start_time = time.perf_counter()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if curvature not in CURVATURES:
        raise ValueError(f"curvature must be one of {CURVATURES}; got {curvature!r}.")
    rounds = check_positive_int(rounds, "rounds")
    damping = check_positive(damping, "damping", strict=False)
    nm = _parse_pattern(pattern)
    if nm is not None and sparsity is None:
        sparsity = 1.0 - nm[0] / nm[1]
    sparsity = check_in_range(sparsity, "sparsity", 0.0, 1.0)
    if nm is not None and abs(sparsity - (1.0 - nm[0] / nm[1])) > 1e-12:
        raise ValueError(f"pattern {pattern!r} fixes the sparsity at {1 - nm[0] / nm[1]}; pass sparsity=None.")
    X, y = _check_data(data)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    names = _prunable_names(model, modules)

    # A plain float64 copy to work on, with any existing torch pruning made permanent there.
    work = copy_module(model).double()
    prior = {}
    for n in names:
        mod = work.get_submodule(n)
        if torch_prune.is_pruned(mod) and hasattr(mod, "weight_mask"):
            prior[n] = mod.weight_mask.detach().bool().clone()
            torch_prune.remove(mod, "weight")
        if not torch.isfinite(mod.weight).all():
            raise ValueError(f"the weights of module {n!r} contain NaN or infinity; nothing to prune.")
    X = X.to(torch.float64) if X.is_floating_point() else X
    # one forward pass: data that does not fit the model or loss_fn is named here, not as a torch error
    # (on this rank alone: the agree below must be the first collective)
    Objective(work, loss_fn, (X, y), params=[work.get_submodule(names[0]).weight], distributed=False)
    layout = _Layout(work, names, compensate_bias, nm)
    keep = layout.initial_keep(prior)                                                # (P,) bool
    if blocks is not None:
        layout.blocks(blocks, keep.nonzero().squeeze(1))                             # validates ``blocks``
    group, final = layout.budget_groups(sparsity, budget, nm)                       # (P,), (G,)
    if bool((final < layout.removed_per_group(group, final.numel(), keep)).any()) and nm is None:
        log.info("some layers are already sparser than asked; they lose nothing more")

    if cd.world_size() > 1:  # the first collective: every rank's model and options must agree
        cd.agree("prune_global", model=cd.signature(model), modules=names, sparsity=sparsity,
                 curvature=curvature, damping=damping, rounds=rounds, budget=budget, pattern=pattern,
                 joint=joint, delay=delay, compensate_bias=compensate_bias, blocks=blocks,
                 loss_fn=type(loss_fn).__name__)
    n_calibration = cd.global_count(X.shape[0])

    records: list[RoundRecord] = []
    costs: list[torch.Tensor] = []
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        removed = layout.removed_per_group(group, final.numel(), keep)              # (G,)
        target = torch.maximum(torch.round(final.double() * r / rounds).long(), removed)
        quota = target - removed                                                    # (G,)
        n_round = int(quota.sum())
        if n_round == 0:
            continue
        theta = layout.theta()
        loss_before = _loss(work, loss_fn, X, y)
        alive = keep.nonzero().squeeze(1)                                            # (P_alive,)
        C = curvature_matrix(curvature, work, loss_fn, X, y, layout.params)
        C_alive = _restrict(curvature, C, alive)
        if blocks is None:
            H_inv = inverse_for(curvature, C_alive, alive.numel(), damping)
        else:
            H_inv = block_inverse_for(curvature, C_alive, layout.blocks(blocks, alive), damping)
        quotas = [QuotaGroups(group[alive], quota)]
        result = global_obs(theta[alive], H_inv, n_round, candidates=layout.prunable[alive],
                            quotas=quotas, joint=joint, delay=delay, progress=progress)
        theta = theta.clone()
        theta[alive] = result.w.to(theta.dtype)
        keep = keep.clone()
        keep[alive[~result.mask]] = False
        theta[~keep] = 0.0
        layout.set_theta(theta)
        loss_after = _loss(work, loss_fn, X, y)
        if not math.isfinite(loss_after):
            raise ValueError("the pruned model's loss is not finite; increase damping.")
        costs.append(result.step_cost)
        records.append(RoundRecord(target_sparsity=float((~keep & layout.prunable).sum()) / layout.n_prunable,
                                   removed=n_round, loss_before=loss_before, loss_after=loss_after,
                                   predicted_increase=result.predicted_increase,
                                   seconds=time.perf_counter() - t0))
        log.info("round %d/%d: removed %d, loss %.4g → %.4g (predicted +%.3g)", r, rounds, n_round,
                 loss_before, loss_after, result.predicted_increase)

    # Write back into the caller's model the torch.nn.utils.prune way; roll back on error.
    with restore_on_error(model):
        for n in names:
            mod = model.get_submodule(n)
            w_new, m_new = layout.weight_of(n, keep)
            dtype = current_weight(mod).dtype
            apply_mask(mod, m_new.to(dtype), w_new.to(dtype))
            if compensate_bias and getattr(mod, "bias", None) is not None:
                with torch.no_grad():
                    mod.bias.copy_(layout.bias_of(n).to(mod.bias.dtype))
    layers = tuple(LayerRecord(f"{n}.weight", layout.numel(n), int((~layout.weight_of(n, keep)[1]).sum()))
                   for n in names)
    settings = dict(curvature=curvature, damping=damping, rounds=rounds, blocks=blocks,
                    budget=budget if isinstance(budget, str) else dict(budget), pattern=pattern,
                    joint=joint, delay=delay, compensate_bias=compensate_bias, sparsity=sparsity,
                    calibration_samples=n_calibration)
    return PruningReport(method=f"global OBS ({curvature})", settings=settings, layers=layers,
                         rounds=tuple(records),
                         step_cost=torch.cat(costs) if costs else torch.zeros(0, dtype=torch.float64),
                         seconds=time.perf_counter() - start_time)


class _Layout:
    """Where each prunable weight (and compensating bias) sits in the flat vector θ."""

    def __init__(self, work: nn.Module, names: list[str], compensate_bias: bool, nm: tuple[int, int] | None):
        self.work, self.names = work, names
        self.params: list[torch.Tensor] = []
        self.slices: dict[tuple[str, str], slice] = {}
        prunable, layer_id, nm_id = [], [], []
        start, nm_next = 0, 0
        for i, n in enumerate(names):
            mod = work.get_submodule(n)
            W = mod.weight
            rows = W.shape[0]
            cols = W[0].numel()
            if nm is not None and cols % nm[1] != 0:
                raise ValueError(f"pattern {nm[0]}:{nm[1]} needs the input size of {n!r} ({cols}) to be a "
                                 f"multiple of {nm[1]}; choose another M or leave this module out (modules=...).")
            self.params.append(W)
            self.slices[(n, "weight")] = slice(start, start + W.numel())
            start += W.numel()
            prunable.append(torch.ones(W.numel(), dtype=torch.bool))
            layer_id.append(torch.full((W.numel(),), i, dtype=torch.long))
            if nm is not None:
                per_row = cols // nm[1]
                ids = torch.arange(rows * per_row).repeat_interleave(nm[1]) + nm_next   # (rows·cols,)
                nm_next += rows * per_row
                nm_id.append(ids)
            if compensate_bias and getattr(mod, "bias", None) is not None:
                b = mod.bias
                self.params.append(b)
                self.slices[(n, "bias")] = slice(start, start + b.numel())
                start += b.numel()
                prunable.append(torch.zeros(b.numel(), dtype=torch.bool))
                layer_id.append(torch.full((b.numel(),), -1, dtype=torch.long))
                if nm is not None:
                    nm_id.append(torch.full((b.numel(),), -1, dtype=torch.long))
        self.prunable = torch.cat(prunable)
        self.layer_id = torch.cat(layer_id)
        self.nm_id = torch.cat(nm_id) if nm is not None else None
        self.n_nm_groups = nm_next
        self.n_prunable = int(self.prunable.sum())

    def blocks(self, blocks: str | int, alive: torch.Tensor) -> list[torch.Tensor]:
        """Index tensors (into the alive coordinates) of the diagonal blocks of H."""
        if blocks == "layer":
            owner = torch.empty(self.prunable.numel(), dtype=torch.long)
            for (n, _), s in self.slices.items():
                owner[s] = self.names.index(n)
        elif isinstance(blocks, int) and not isinstance(blocks, bool) and blocks > 0:
            owner = torch.arange(self.prunable.numel()) // blocks
        else:
            raise ValueError(f"blocks must be None, 'layer' or a positive int; got {blocks!r}.")
        owner = owner[alive]
        return [(owner == b).nonzero().squeeze(1) for b in owner.unique()]

    def numel(self, n: str) -> int:
        s = self.slices[(n, "weight")]
        return s.stop - s.start

    def theta(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params]).to(torch.float64)   # (P,)

    @torch.no_grad()
    def set_theta(self, theta: torch.Tensor) -> None:
        for (n, kind), s in self.slices.items():
            p = getattr(self.work.get_submodule(n), kind)
            p.copy_(theta[s].view(p.shape))                                           # (numel,) -> shape

    def initial_keep(self, prior: dict[str, torch.Tensor]) -> torch.Tensor:
        keep = torch.ones(self.prunable.numel(), dtype=torch.bool)
        for n, m in prior.items():
            keep[self.slices[(n, "weight")]] = m.reshape(-1)
        return keep

    def weight_of(self, n: str, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        W = self.work.get_submodule(n).weight.detach()
        return W.clone(), keep[self.slices[(n, "weight")]].view(W.shape)

    def bias_of(self, n: str) -> torch.Tensor:
        return self.work.get_submodule(n).bias.detach().clone()

    def removed_per_group(self, group: torch.Tensor, G: int, keep: torch.Tensor) -> torch.Tensor:
        gone = group[(~keep) & (group >= 0)]
        return torch.bincount(gone, minlength=G)

    def budget_groups(self, sparsity: float, budget, nm) -> tuple[torch.Tensor, torch.Tensor]:
        """(group of each θ entry, −1 if not prunable; final removed count per group)."""
        if nm is not None:
            return self.nm_id, torch.full((self.n_nm_groups,), nm[1] - nm[0], dtype=torch.long)
        if budget == "global":
            group = torch.where(self.prunable, 0, -1)
            return group, torch.tensor([int(round(sparsity * self.n_prunable))])
        if budget == "layer" or isinstance(budget, dict):
            per = budget if isinstance(budget, dict) else {}
            unknown = set(per) - set(self.names)
            if unknown:
                raise ValueError(f"budget names modules that are not pruned: {sorted(unknown)}; "
                                 f"prunable modules are {self.names}.")
            final = []
            for n in self.names:
                s = check_in_range(per.get(n, sparsity), f"budget[{n!r}]", 0.0, 1.0)
                final.append(int(round(s * self.numel(n))))
            return self.layer_id, torch.tensor(final, dtype=torch.long)
        raise ValueError(f"budget must be 'global', 'layer' or a dict of per-module sparsities; got {budget!r}.")


def _restrict(curvature: str, C: torch.Tensor | None, alive: torch.Tensor) -> torch.Tensor | None:
    """The curvature of the alive parameters only (the removed ones are held at 0)."""
    if C is None:
        return None
    if curvature == "obd":
        return C[alive]
    if curvature == "fisher":
        return C[:, alive]                                                              # (N, P_alive)
    return C[alive][:, alive]


def _parse_pattern(pattern: str | None) -> tuple[int, int] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str) or pattern.count(":") != 1:
        raise ValueError(f"pattern must be 'N:M' (e.g. '2:4'); got {pattern!r}.")
    try:
        N, M = (int(v) for v in pattern.split(":"))
    except ValueError:
        raise ValueError(f"pattern must be 'N:M' with integers (e.g. '2:4'); got {pattern!r}.") from None
    if not 0 < N < M:
        raise ValueError(f"pattern N:M needs 0 < N < M (N weights kept of every M); got {pattern!r}.")
    return N, M


def _check_data(data) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError("data must be an (X, y) pair of tensors (the calibration data).")
    X, y = data
    if X.shape[0] == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"data must hold the same number (> 0) of inputs and targets; got X {tuple(X.shape)}, "
                         f"y {tuple(y.shape)}.")
    for name, t in (("X", X), ("y", y)):
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"the calibration data {name} contains NaN or infinity; clean it first.")
    return X, y


def _prunable_names(model: nn.Module, modules: Sequence[str] | None) -> list[str]:
    found = [n for n, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)]
    if modules is not None:
        missing = [n for n in modules if n not in found]
        if missing:
            raise ValueError(f"modules {missing} are not Linear/Conv modules of the model; choose from {found}.")
        found = [n for n in found if n in set(modules)]
    if not found:
        raise ValueError("the model has nothing to prune (no nn.Linear / nn.Conv module); pass a model "
                         "with weight layers.")
    return found


@torch.no_grad()
def _loss(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor) -> float:
    """The mean loss over the calibration data (of every rank: Σ_r N_r·L_r / N)."""
    if cd.world_size() == 1:
        return float(loss_fn(model(X), y))
    n = X.shape[0]
    like = torch.zeros(2, dtype=torch.float64, device=X.device)
    total = cd.sum_or_raise(lambda: torch.stack([loss_fn(model(X), y).double().reshape(()) * n,
                                                  torch.tensor(float(n), dtype=torch.float64, device=X.device)]),
                            like=like, what="prune_global's loss")
    return float(total[0] / total[1])
