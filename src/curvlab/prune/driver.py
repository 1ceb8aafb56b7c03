"""Prune a whole model layer-wise, block by block, from calibration data.

:func:`prune_model` is a short loop over named stages (each in :mod:`curvlab.prune.stages` or
below, each tested on its own):

1. **capture block inputs** (:func:`~curvlab.prune.stages.capture_block_inputs`): the first
   block's inputs on the calibration batches, and whatever else the model passes its blocks
   (causal masks, rotary position embeddings; caches off) — any Hugging Face encoder or
   decoder (BERT, LLaMA, Mistral/Qwen2, Gemma, GPT-2, OPT); a model without a block list is
   one block;
2. **collect statistics** (:func:`collect_statistics`): one pass of the block with forward hooks
   that accumulate H = 2XXᵀ/N (and μ) per prunable layer, padding excluded, summed over ranks
   by :func:`~curvlab.prune.stages.reduce_statistics`; with the block target the later
   layers' dense inputs X are kept instead and their H is taken once the layers before them
   are pruned;
3. **allocate** (:func:`allocate`): the per-layer sparsities of the block (uniform, or the OBS
   split of its budget);
4. **fit each layer** (:func:`fit_layer`): mask and new weights with the chosen method
   (row-wise OBS of eqs. (7)–(8), or a baseline);
5. **write** (:func:`write_layer`): into the model with
   :func:`curvlab.prune.masks.apply_mask`, the calibration error measured;
6. **propagate** (:meth:`~curvlab.prune.stages.BlockCalls.propagate`): the pruned block's
   outputs are the next block's inputs, so every block is calibrated on what the
   already-pruned blocks before it produce.

Methods
-------
``"obs"`` (ours) = blocked row-wise OBS (or exact OBC for layers with ≤ ``exact_max_inputs``
inputs when ``mode="exact"``), then the improvements over SparseGPT, each switchable:
``alternate`` (iterations of alternating mask selection, :func:`~curvlab.prune.layerwise.alternate`),
``refit`` (exact least-squares refit of the kept weights; with ``bias``, of the bias too),
``allocation="obs"`` (non-uniform sparsity across the layers of a block from the OBS loss
estimates, unstructured only; not the default: on SmolLM2 at 50 % it lost on every validation
domain, Python docs / reviews / R help perplexity 27.00 / 137.2 / 69.8 against 26.97 / 131.1 /
69.4 uniform, benchmarks/llm.md), ``sensitivity`` (unstructured masks chosen with each row's OBS
losses weighted by how much the model's output depends on that row,
:mod:`curvlab.curvature.output_sensitivity`; ``allocation="output"`` also splits the budget by
these weighted losses) and ``target`` (:mod:`curvlab.prune.staged`): ``"block"`` — each layer
that does not read the block's input fits, from its new inputs X̂, the mix α·W X + (1 − α)·W X̂
of its outputs in the dense block and its own (α = ``target_mix``, 0.5), with an intercept that
moves the bias; ``"input"`` — the layer's own outputs, the default. The block target wins on
text like the calibration data (MiniLM validation cosine at 2:4 / 60 % / 70 %: 0.9127 / 0.9251
/ 0.8739 against 0.9030 / 0.9180 / 0.8557) but overfits it: on SmolLM2 at 2:4 (calibration 8 ×
256 tokens of Python docs, validation perplexity, benchmarks/llm.md) it gives 40.4 / 786 / 323
on Python docs / reviews / R help pages against 37.1 / 357 / 158 with ``"input"`` and SparseGPT's
47.2 / 386 / 177 — worse than SparseGPT on both domains the calibration never saw. It was the
default (``"auto"``: N:M and above 50 %) until that validation; it stays as an option.
``"sparsegpt"`` (the paper's algorithm), ``"wanda"``, ``"magnitude"``, ``"admm"`` (the ADMM layer
solver of Boža 2024 / ALPS, :mod:`curvlab.prune.admm`).

Options that lost on validation were removed (numbers in benchmarks/minilm.md): re-collecting
each layer's H after the layers before it are pruned (``sequential``: MiniLM 50 % cosine 0.9404
against 0.9406; 2:4 0.9026 against 0.9127 for the block target), fitting the dense *model*'s
outputs (``target="dense"``: 0.9373 against 0.9406 at 50 %, 2:4 0.9089 against 0.9127), N:M
groups removed jointly (``joint_groups``: no cosine gain at 2:4 for ~1.5× the sweep's time) and
the Kronecker-coupled refit exploration (2:4 cosine 0.9100 at several times the compute,
held-out error 0.0292 against 0.0276).

The report gives, per layer, the sparsity reached, the predicted error (the OBS loss sum, for
the damped H) and the measured calibration error ‖WX − ŴX‖²/‖WX‖² (undamped H; with a refitted
bias, of the whole output WX + b; for a layer that fits a ``target``, W is the fitted W′), and the
time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..curvature.layer_hessian import is_prunable, set_weight_matrix, weight_matrix
from ..curvature.output_sensitivity import output_sensitivities
from .. import distributed as cd
from . import layerwise as lw
from . import staged
from .admm import admm_layer
from .baselines import magnitude_layer, wanda_layer
from .masks import apply_mask
from .sparsegpt import sparsegpt_layer
from .stages import as_call, capture_block_inputs, restore_in_place

__all__ = ["DEFAULT_DAMPING", "LayerReport", "METHODS", "ObsOptions", "PruneReport", "allocate", "collect_statistics",
           "find_blocks", "fit_layer", "prune_layer", "prune_model", "write_layer"]

log = logging.getLogger(__name__)

METHODS = ("obs", "sparsegpt", "wanda", "magnitude", "admm")

# λ of H + λ·mean(diag H)·I when none is given: SparseGPT's published percdamp for the baselines;
# for OBS the value chosen on validation reviews of MiniLM (2:4 held-out layer error 0.0280 at
# 0.01, 0.0274 at 0.03, 0.0273 at 0.05 and 0.1 with a lower cosine; 50 %: no change).
DEFAULT_DAMPING = {"obs": 0.03, "sparsegpt": 0.01, "wanda": 0.01, "magnitude": 0.01, "admm": 0.01}


@dataclass(frozen=True)
class ObsOptions:
    """Settings of ``method="obs"``; every improvement over SparseGPT can be switched alone."""

    mode: str = "blocked"          # "blocked" (SparseGPT-style order) or "exact" (OBC per row)
    refit: bool = True             # exact least-squares refit of the kept weights on the final mask
    alternate: int = 0             # iterations of alternating mask selection (0 = off; 40 is best, ~3-4x the compute)
    alternate_max_inputs: int = 512  # alternate only on layers this narrow (the cost is R·d² per step)
    allocation: str = "uniform"    # unstructured: "uniform" the same sparsity everywhere; "obs" splits the block's
                                   # budget by OBS loss estimates (wins in-domain, loses out of domain: llm.md),
                                   # "output" by the estimated output error (needs sensitivity)
    max_shift: float = 0.15        # the most a layer's sparsity may move from the target
    block_size: int = 128          # columns per lazy-update block
    cg_iters: int = 8              # refit: warm-started CG steps (MiniLM: 98% of the gain on 384-input layers, 89% on 1536)
    fast_dtype: bool = True        # float32 column sweep and CG (as SparseGPT); losses in float64
    exact_max_inputs: int = 512    # mode="exact" falls back to blocked for wider layers
    target: str = "input"          # what each layer fits once the layers before it in its block are pruned:
                                   # "input" its own outputs on its new inputs; "block" its outputs in the dense
                                   # block (wins in-domain, overfits: out-of-domain perplexity 2x, llm.md)
    target_mix: float = 0.5        # α: "block" fits α·(those outputs) + (1 − α)·(the layer's own)
    target_max_inputs: int | None = None  # "block" only on layers with at most this many inputs
    bias: bool = True              # refit the layer's bias with the kept weights (with refit; layers with a bias)
    sensitivity: int = 8           # unstructured: choose the mask with each row's OBS losses weighted by the
                                   # output's sensitivity to that row, from this many calibration sequences (0 = off)
    sensitivity_clip: float = 3.0  # those weights are clipped to [mean/clip, mean·clip] within each layer

    def __post_init__(self):
        if self.mode not in ("blocked", "exact"):
            raise ValueError(f"mode must be 'blocked' or 'exact'; got {self.mode!r}.")
        if self.allocation not in ("uniform", "obs", "output"):
            raise ValueError(f"allocation must be 'uniform', 'obs' or 'output'; got {self.allocation!r}.")
        if self.allocation == "output" and not self.sensitivity:
            raise ValueError("allocation='output' weighs layers by output sensitivities; set sensitivity "
                             "(calibration sequences, e.g. 8) too.")
        if not (isinstance(self.sensitivity_clip, (int, float)) and self.sensitivity_clip >= 1):
            raise ValueError(f"sensitivity_clip must be a number >= 1 (math.inf: no clipping); "
                             f"got {self.sensitivity_clip!r}.")
        if self.target not in ("input", "block"):
            raise ValueError(f"target must be 'input' or 'block'; got {self.target!r}.")
        if not (isinstance(self.target_mix, (int, float)) and 0 <= self.target_mix <= 1):
            raise ValueError(f"target_mix must be a number in [0, 1] (e.g. 0.5); got {self.target_mix!r}.")
        if not (self.target_max_inputs is None or (isinstance(self.target_max_inputs, int)
                                                   and self.target_max_inputs >= 1)):
            raise ValueError(f"target_max_inputs must be None (no limit) or an integer >= 1; "
                             f"got {self.target_max_inputs!r}.")
        if not (isinstance(self.alternate, int) and self.alternate >= 0):
            raise ValueError(f"alternate must be an integer >= 0; got {self.alternate!r}.")
        if not (isinstance(self.sensitivity, int) and self.sensitivity >= 0):
            raise ValueError(f"sensitivity must be an integer >= 0 (calibration sequences, e.g. 8); "
                             f"got {self.sensitivity!r}.")
        if not (isinstance(self.cg_iters, int) and self.cg_iters >= 0):
            raise ValueError(f"cg_iters must be an integer >= 0 (refit CG steps, e.g. 8); got {self.cg_iters!r}.")
        if not (isinstance(self.max_shift, (int, float)) and 0 <= self.max_shift < 1):
            raise ValueError(f"max_shift must be a number in [0, 1) (e.g. 0.15); got {self.max_shift!r}.")


@dataclass
class LayerReport:
    name: str
    shape: tuple[int, int]
    sparsity: float               # fraction of zeros reached
    predicted_error: float        # OBS loss sum / ‖WX‖²  (damped H; 0-compensation methods: exact)
    calibration_error: float      # measured ‖WX − ŴX‖² / ‖WX‖² on the calibration tokens
    time_s: float
    heldout_error: float | None = None


@dataclass
class PruneReport:
    method: str
    sparsity: float
    pattern: str
    layers: list[LayerReport] = field(default_factory=list)
    compute_s: float = 0.0                 # pruning arithmetic only (no forward passes)
    total_s: float = 0.0
    n_calibration_tokens: int = 0
    peak_hessian_bytes: int = 0            # one block's H and μ (and, target="block", its layers' dense inputs)
    calibration_passes: int = 0            # passes of a block over the calibration data (a partial pass counts)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def overall_sparsity(self) -> float:
        total = sum(r.shape[0] * r.shape[1] for r in self.layers)
        return sum(r.sparsity * r.shape[0] * r.shape[1] for r in self.layers) / max(total, 1)

    def mean(self, attr: str) -> float:
        values = [getattr(r, attr) for r in self.layers if getattr(r, attr) is not None]
        return float(sum(values) / len(values)) if values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["overall_sparsity"] = self.overall_sparsity
        out["mean_calibration_error"] = self.mean("calibration_error")
        out["mean_heldout_error"] = self.mean("heldout_error")
        return out

    def __str__(self) -> str:
        """One line per layer (shape, sparsity, predicted / calibration / held-out error, time) under
        a header with the method, the pattern, the overall sparsity and the times."""
        held = any(r.heldout_error is not None for r in self.layers)
        width = max([len(r.name) for r in self.layers] + [5])
        lines = [f"{self.method} ({self.pattern}): sparsity {self.overall_sparsity:.1%} over {len(self.layers)} "
                 f"layers, {self.n_calibration_tokens} calibration tokens, {self.total_s:.1f} s "
                 f"(compute {self.compute_s:.1f} s)",
                 f"  {'layer':<{width}} {'shape':>11} {'sparsity':>8} {'predicted':>10} {'calib err':>10}"
                 + (f" {'held-out':>10}" if held else "") + f" {'time':>7}"]
        for r in self.layers:
            shape = f"{r.shape[0]}×{r.shape[1]}"
            lines.append(f"  {r.name:<{width}} {shape:>11} {r.sparsity:8.1%} {r.predicted_error:10.4g} "
                         f"{r.calibration_error:10.4g}"
                         + (f" {r.heldout_error:10.4g}" if held and r.heldout_error is not None
                            else f" {'':>10}" if held else "") + f" {r.time_s:6.2f}s")
        if self.layers:
            lines.append(f"  {'mean':<{width}} {'':>11} {'':>8} {self.mean('predicted_error'):10.4g} "
                         f"{self.mean('calibration_error'):10.4g}"
                         + (f" {self.mean('heldout_error'):10.4g}" if held else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------- one layer

def prune_layer(W: Tensor, H: Tensor, sparsity: float, pattern: lw.Pattern, method: str, *,
                damping: float | None = None, options: ObsOptions = ObsOptions(),
                mean: Tensor | None = None, U: Tensor | None = None,
                row_weights: Tensor | None = None) -> lw.LayerResult:
    """Prune one (R, d) weight matrix with ``method`` given its calibration Hessian H (and the
    mean input ``mean``, for ``options.bias``; ``U``, the inverse Cholesky factor of the damped
    H, when already computed; ``row_weights`` (R,), the output sensitivities c_r that weight
    each row's OBS losses when the blocked sweep chooses an unstructured mask). ``damping``: λ,
    by default the method's :data:`DEFAULT_DAMPING`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    damping = DEFAULT_DAMPING[method] if damping is None else damping
    if method == "magnitude":
        return magnitude_layer(W, sparsity, pattern, H=H)
    if method == "wanda":
        return wanda_layer(W, H, sparsity, pattern)
    if method == "sparsegpt":
        return sparsegpt_layer(W, H, sparsity, pattern, percdamp=damping)
    if method == "admm":
        return admm_layer(W, H, sparsity, pattern, damping=damping)
    W64 = W.to(torch.float64)
    fast = torch.float32 if options.fast_dtype else torch.float64
    refit_kw = dict(damping=damping, cg_iters=options.cg_iters, cg_dtype=fast)
    if options.mode == "exact" and W.shape[1] <= options.exact_max_inputs:
        result = lw.obs_exact(W64, H, sparsity, pattern, damping=damping)
    else:
        result = lw.obs_blocked(W64, H, sparsity, pattern, damping=damping, block_size=options.block_size,
                                dtype=fast, U=U,
                                row_weights=row_weights if pattern is None else None)
    if options.bias and options.refit and mean is not None:
        def fit(res: lw.LayerResult) -> lw.LayerResult:
            return lw.refit_with_bias(W64, H, mean, res.mask, W_init=res.W, **refit_kw)
    else:
        def fit(res: lw.LayerResult) -> lw.LayerResult:
            return lw.refit(W64, H, res.mask, W_init=res.W, **refit_kw)
    if options.alternate and W.shape[1] <= options.alternate_max_inputs:
        # ρ grows by the same total factor (1.15⁴⁰, tuned at 40 iterations) whatever the number of iterations
        alt = lw.alternate(W64, H, sparsity, pattern, damping=damping, init=result.W, iters=options.alternate,
                           rho_growth=1.15 ** (40 / options.alternate), dtype=fast)
        candidate = fit(alt)
        base = fit(result) if options.refit else result
        return candidate if candidate.loss < base.loss else base
    if options.refit:
        refitted = fit(result)
        return refitted if refitted.loss <= result.loss else result
    return result


def _shared_factors(Hs: dict[str, Tensor], damping: float, dtype: torch.dtype) -> dict[str, Tensor]:
    """:func:`~curvlab.prune.layerwise.inverse_cholesky_upper` of every damped H, factored once for
    layers that read the same input (a transformer's query, key and value: equal H)."""
    factors: dict[str, Tensor] = {}
    for name, H in Hs.items():
        twin = next((n for n in factors if torch.equal(Hs[n], H)), None)
        factors[name] = factors[twin] if twin is not None else lw.inverse_cholesky_upper(lw.damp(H, damping)[0], dtype)
    return factors


def allocate(Ws: Sequence[Tensor], Hs: Sequence[Tensor], sparsity: float, damping: float,
              max_shift: float, Us: Sequence[Tensor] | None = None,
              row_weights: Sequence[Tensor] | None = None) -> list[float]:
    """Per-layer sparsities with the block's total count of removed weights unchanged, chosen to
    minimize Σ_l ê_l(s_l), ê_l = (estimated OBS loss of layer l) / ‖W_l X_l‖²; with
    ``row_weights`` (the output sensitivities c_{l,r} of
    :func:`~curvlab.curvature.output_sensitivity.output_sensitivities`), to minimize the estimated
    error of the model's output instead, Σ_l Σ_r c_{l,r} (OBS loss of row r of layer l).

    The estimate of removing a set of weights is the sum of their single-weight OBS losses (8),
    L_q = ½ w_q² / [H⁻¹]_qq (interactions ignored). Minimizing a sum of such sums under a count
    budget is a threshold rule: remove the weights with the lowest L_q / ‖W_l X_l‖² across all
    layers of the block, each layer kept within ``sparsity ± max_shift``. ``Us`` are the layers'
    :func:`~curvlab.prune.layerwise.inverse_cholesky_upper` factors of the damped H, if known
    ([H⁻¹]_qq = Σ_i U_iq²).
    """
    scores, sizes = [], []
    for i, (W, H) in enumerate(zip(Ws, Hs)):
        W = W.to(torch.float64)
        H_d, dead = lw.damp(H.to(W.device, torch.float64), damping)
        U = Us[i] if Us is not None else lw.inverse_cholesky_upper(H_d)
        H_inv_diag = U.square().sum(0)                                            # (d,) diag of UᵀU
        if row_weights is not None:                                               # output error: c_r · L_q
            s = (0.5 * W.square() / H_inv_diag * row_weights[i].to(W).unsqueeze(1)).flatten()
        else:                                                                     # layer's relative error
            W32 = W.to(torch.float32)
            energy = abs(float(0.5 * ((W32 @ H_d.to(torch.float32)) * W32).sum())) or 1.0   # ½ Σ wᵀHw
            s = (0.5 * W.square() / H_inv_diag).flatten() / energy               # (R·d,)
        scores.append(np.sort(s.to(torch.float32).cpu().numpy()))                # numpy's SIMD sort: 3× torch's
        sizes.append(W.numel())
    total = sum(sizes)
    budget = lw.prune_count(total, sparsity)
    lo = [math.ceil(max(0.0, sparsity - max_shift) * n) for n in sizes]
    hi = [math.floor(min(0.99, sparsity + max_shift) * n) for n in sizes]

    def counts(tau: float) -> list[int]:
        return [min(max(int(np.searchsorted(s, tau, side="right")), a), b) for s, a, b in zip(scores, lo, hi)]

    low_tau, high_tau = 0.0, max(float(s[-1]) for s in scores) * 2 + 1e-30
    for _ in range(100):                                          # bisection on the threshold
        mid = 0.5 * (low_tau + high_tau)
        if sum(counts(mid)) < budget:
            low_tau = mid
        else:
            high_tau = mid
    k = counts(high_tau)
    excess = sum(k) - budget
    for i in sorted(range(len(k)), key=lambda i: -sizes[i]):     # fix rounding on the largest layers
        take = min(excess, k[i] - lo[i]) if excess > 0 else max(excess, k[i] - hi[i])
        k[i] -= take
        excess -= take
    return [ki / n for ki, n in zip(k, sizes)]


# ---------------------------------------------------------------- the stages

@torch.no_grad()
def collect_statistics(block: nn.Module, layers: dict[str, nn.Module], calls: list, token_masks: list, *,
                       keep_local: bool = False, every_hessian: bool = False) -> staged.BlockStatistics:
    """Stage 2: one pass of ``block`` over its calibration ``calls`` with forward hooks that
    accumulate H = 2XXᵀ/N and μ of each of ``layers`` (padding excluded by ``token_masks``),
    summed over ranks; with ``keep_local`` (the block target), the later layers' dense input
    rows instead (:func:`curvlab.prune.staged.collect_block`)."""
    return staged.collect_block(block, layers, calls, token_masks, keep_local=keep_local,
                                every_hessian=every_hessian)


@dataclass
class LayerFit:
    """Stage 4's result for one layer: the pruned weights (``result``), the weights W the layer
    fitted (its own, or W′ of the block target), the H and μ it was pruned with, the bias shift
    of the target fit, the arithmetic's time and the calibration passes it took."""

    result: lw.LayerResult
    W: Tensor
    H: Tensor
    mean: Tensor | None
    target_shift: Tensor | None
    compute_s: float
    passes: int = 0


def fit_layer(module: nn.Module, W: Tensor, H: Tensor | None, mean: Tensor | None, sparsity: float,
              pattern: lw.Pattern, method: str, *, damping: float, options: ObsOptions = ObsOptions(),
              U: Tensor | None = None, row_weights: Tensor | None = None, restage: bool = False,
              dense_rows: list | None = None, block: nn.Module | None = None, calls: list | None = None,
              token_masks: list | None = None) -> LayerFit:
    """Stage 4: prune one layer. With ``restage`` its (H, μ) are first taken from ``block`` as
    it is now (the layers before it pruned), and with ``dense_rows`` (its inputs X in the dense
    block) it first fits the block target W′ = α·H⁻¹GW + (1 − α)·W
    (:func:`curvlab.prune.staged.fit_target`); then :func:`prune_layer`."""
    passes, compute, target_shift = 0, 0.0, None
    if restage:
        H, G, _, mean, mean_dense = staged.layer_statistics(block, module, calls, token_masks, dense_rows=dense_rows)
        passes, U = 1, None
        if G is not None:
            t0 = time.perf_counter()
            with_bias = getattr(module, "bias", None) is not None and options.bias and options.refit
            W_fit, target_shift, U = staged.fit_target(
                W, H, G, damping, options.target_mix, mean=mean if with_bias else None,
                mean_dense=mean_dense if with_bias else None,
                dtype=torch.float32 if options.fast_dtype else torch.float64)
            W = W_fit.to(W.dtype)
            compute += time.perf_counter() - t0
    t0 = time.perf_counter()
    result = prune_layer(W, H, sparsity, pattern, method, damping=damping, options=options,
                         mean=mean if getattr(module, "bias", None) is not None else None,
                         U=U if options.mode == "blocked" else None, row_weights=row_weights)
    return LayerFit(result, W, H, mean, target_shift, compute + time.perf_counter() - t0, passes)


@torch.no_grad()
def write_layer(module: nn.Module, name: str, fit: LayerFit) -> LayerReport:
    """Stage 5: write the pruned weights (and a bias shift) into ``module`` the way
    ``torch.nn.utils.prune`` stores them, and measure the calibration error
    ‖WX − ŴX‖²/‖WX‖² = ½δᵀHδ / ½wᵀHw summed over rows (with a moved bias β, of the whole output:
    ½δ̃ᵀH̃δ̃, δ̃ = (δ, −β), H̃ = [[H, 2μ], [2μᵀ, 2]])."""
    W, H, result = fit.W, fit.H, fit.result
    W64, H64 = W.to(torch.float64), H.to(torch.float64)
    energy = max(lw.layer_loss(W64, torch.zeros_like(W64), H64), 1e-300)
    mask = set_weight_matrix(module, result.mask.to(W.dtype))
    new_weight = set_weight_matrix(module, result.W.to(W.dtype))
    apply_mask(module, mask, new_weight)
    measured = lw.layer_loss(W64, weight_matrix(module).to(torch.float64), H64)
    beta = result.bias_shift
    if fit.target_shift is not None:
        beta = fit.target_shift + (beta if beta is not None else 0)
    if beta is not None:
        beta = beta.to(torch.float64)                                               # (R,)
        module.bias.add_(beta.to(module.bias))
        delta = W64 - weight_matrix(module).to(torch.float64)                       # (R, d)
        measured += float((beta.square() - 2 * beta * (delta @ fit.mean.to(delta))).sum())
    return LayerReport(name=name, shape=tuple(W.shape), sparsity=float(1 - result.mask.float().mean()),
                       predicted_error=result.loss / energy, calibration_error=measured / energy,
                       time_s=fit.compute_s)


def _output_weights(model: nn.Module, layers: dict[str, nn.Module], batches: list, options: ObsOptions,
                    device: torch.device) -> dict[str, Tensor]:
    """The output sensitivities c_{l,r} (clipped) that weight each row's OBS losses, from the
    first ``options.sensitivity`` calibration sequences. Under a process group those are rank 0's
    first sequences (the other ranks pass none; :func:`output_sensitivities` sums and counts over
    ranks), so one process on every rank's batches in rank order gets the same weights."""
    calls = _first_rows(batches, options.sensitivity, device) if cd.is_main_process() else []
    try:
        c = output_sensitivities(model, layers, calls)
    except (TypeError, RuntimeError, ValueError) as exc:
        if cd.world_size() > 1:           # raised as it is: prune_model's decorator passes it to every rank
            raise
        _check_model_runs(model, calls, exc)
        raise type(exc)(f"the output-sensitivity pass (a backward pass on {options.sensitivity} calibration "
                        f"sequences) failed: {exc}; prune without it with ObsOptions(sensitivity=0).") from exc
    return {n: _clip_to_mean(v, options.sensitivity_clip) for n, v in c.items()}


def _check_model_runs(model: nn.Module, calls: list, exc: BaseException) -> None:
    """When a pass over the model failed: if the model cannot even run on the calibration inputs,
    say so (the inputs are wrong, not the pass)."""
    try:
        with torch.no_grad():
            for args, kwargs in calls[:1]:
                model(*args, **kwargs)
    except (RuntimeError, TypeError, ValueError, IndexError) as plain:
        raise ValueError(f"the model cannot run on the calibration inputs: {plain}; pass calibration batches "
                         "of the shape and dtype the model's forward expects.") from exc


def _check_tokens(stats: staged.BlockStatistics) -> None:
    empty = [n for n, h in stats.hessians.items() if h.n_samples == 0]
    if empty or any(r.numel() == 0 and not stats.hessians for rows in stats.local.values() for r in rows):
        raise ValueError("calibration holds no tokens (empty batches, or an attention_mask that is all "
                         "padding); pass batches with at least one real token.")


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The model's sequence of blocks: the ``nn.ModuleList`` of same-type modules holding the most
    prunable layers (``encoder.layer`` in BERT, ``h`` in GPT-2); ``[model]`` when there is none."""
    best, best_count = None, 0
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) > 1 and len({type(m) for m in module}) == 1:
            count = sum(1 for m in module.modules() if is_prunable(m))
            if count > best_count:
                best, best_count = module, count
    return list(best) if best is not None else [model]


def _clip_to_mean(c: Tensor, clip: float) -> Tensor:
    """c clipped to [c̄/clip, c̄·clip], c̄ = mean(c): rows far less sensitive than the layer's
    average are not emptied, rows far more sensitive not kept whole (MiniLM at 50 %, validation
    reviews: clip 1.5 / 2 / 3 / 5 / ∞ → cosine 0.954 / 0.956 / 0.957 / 0.957 / 0.952). A layer
    the output does not depend on at all (c = 0) gets unit weights: plain OBS."""
    m = float(c.mean())
    if not (m > 0 and math.isfinite(m)):
        return torch.ones_like(c)
    return c if math.isinf(clip) else c.clamp(m / clip, m * clip)


def _first_rows(batches: list, k: int, device: torch.device) -> list[tuple[tuple, dict]]:
    """The first ``k`` samples (rows of the batch dimension) of the calibration batches, as
    ``(args, kwargs)`` calls on ``device``."""
    calls, left = [], k
    for batch in batches:
        if left <= 0:
            break
        args, kwargs = as_call(batch)
        sizes = [v.shape[0] for v in list(args) + list(kwargs.values()) if isinstance(v, Tensor) and v.dim() > 0]
        take = min(left, sizes[0]) if sizes else left

        def cut(v):
            if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == sizes[0]:
                v = v[:take]
            return v.to(device) if isinstance(v, Tensor) else v
        calls.append((tuple(cut(a) for a in args), {n: cut(v) for n, v in kwargs.items()}))
        left -= take
    return calls


# ---------------------------------------------------------------- the model

def _check_calibration(batches: list) -> None:
    if not batches:
        raise ValueError("calibration is empty; pass at least one batch of inputs.")
    for i, batch in enumerate(batches):
        args, kwargs = as_call(batch)
        values = [v for v in list(args) + list(kwargs.values()) if isinstance(v, Tensor)]
        if any(v.numel() == 0 for v in values):
            raise ValueError(f"calibration batch {i} is empty (a tensor with 0 elements); pass batches with at "
                             "least one sequence of at least one token.")
        for value in values:
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError("calibration contains NaN or infinity; pass finite inputs.")


def _check_sparsity(sparsity: float | None, pattern: lw.Pattern) -> float:
    if pattern is None:
        return lw._check_sparsity(0.5 if sparsity is None else sparsity)
    implied = 1.0 - pattern[0] / pattern[1]
    if sparsity is not None and not (isinstance(sparsity, (int, float)) and abs(sparsity - implied) < 1e-9):
        raise ValueError(f"sparsity {sparsity!r} conflicts with the pattern {pattern[0]}:{pattern[1]}, which removes "
                         f"{implied:g} of the weights; leave sparsity out (None) or pass {implied:g}.")
    return implied


def _prunable(blocks: Sequence[nn.Module], names: dict, wanted: set | None) -> list[dict[str, nn.Module]]:
    return [{names[m]: m for m in block.modules() if is_prunable(m) and (wanted is None or names[m] in wanted)}
            for block in blocks]


@cd.raises_on_every_rank("prune_model")
@torch.no_grad()
def prune_model(model: nn.Module, calibration: Iterable[Any], sparsity: float | None = None,
                pattern: str | tuple[int, int] | None = None, method: str = "obs", *,
                damping: float | None = None, options: ObsOptions | None = None,
                layers: Sequence[str] | None = None, progress: bool | None = None) -> PruneReport:
    """Prune every prunable layer of ``model`` in place, block by block, and return a report.

    Parameters
    ----------
    model : a PyTorch model; its blocks are found by :func:`find_blocks` (any Hugging Face
        encoder or decoder: BERT, LLaMA, Mistral/Qwen2, Gemma, GPT-2, OPT).
    calibration : batches of inputs: dicts of keyword arguments (a Hugging Face tokenizer's
        output; its ``attention_mask`` also excludes padding from H), tensors, or tuples.
    sparsity : fraction of each layer's weights to remove, in [0, 1); default 0.5, or 1 − N/M
        for an N:M ``pattern`` (another value with a pattern is an error).
    pattern : None / "unstructured", or "N:M" (keep N of every M consecutive inputs).
    method : "obs" (ours), "sparsegpt", "wanda", "magnitude" or "admm".
    damping : λ of H + λ·mean(diag H)·I; default :data:`DEFAULT_DAMPING` of the method (0.03 for
        OBS, SparseGPT's published 0.01 for the baselines).
    options : :class:`ObsOptions` for ``method="obs"`` (default ``ObsOptions()``: blocked OBS, refit
        of the kept weights and the bias, uniform sparsity, and for unstructured sparsity
        output-sensitivity weighted masks; chosen on validation text that includes domains the
        calibration never saw, benchmarks/llm.md).
    layers : names (as in ``model.named_modules()``) to prune; default: every prunable layer
        inside the blocks.
    progress : show a progress bar (default: when stderr is a terminal).

    The model runs on its own device. If anything fails, the model is restored in place: the
    same modules and Parameter objects, with their values, as before the call.

    Under a process group (e.g. ``torchrun``) every rank passes its own shard of the calibration
    batches and the same model and options (checked first, :func:`curvlab.distributed.agree`).
    Every token statistic (H, μ, the block target's cross term G, the token counts) is a sum
    over the ranks' tokens divided by the global count, and the output sensitivities come from
    rank 0's first sequences, so every rank ends with the weights one process gets on all the
    batches in rank order (masks equal except exact ties). An error on one rank is raised on
    every rank, each model restored; the progress bar shows on rank 0 only.

    Example
    -------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> report = prune_model(net, [torch.randn(64, 8)], 0.5, progress=False)
    >>> round(report.overall_sparsity, 3)
    0.5
    """
    pattern_t = lw.parse_pattern(pattern)
    sparsity = _check_sparsity(sparsity, pattern_t)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    damping = DEFAULT_DAMPING[method] if damping is None else damping
    if not (isinstance(damping, (int, float)) and math.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0 (e.g. 0.01); got {damping!r}.")
    options = options or ObsOptions()
    if not isinstance(options, ObsOptions):
        raise TypeError(f"options must be an ObsOptions; got {type(options).__name__}.")
    batches = list(calibration)
    _check_calibration(batches)
    if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
        raise TypeError(f"model must be a torch.nn.Module with parameters; got {type(model).__name__}.")
    blocks = find_blocks(model)
    names = {m: n for n, m in model.named_modules()}
    wanted = set(layers) if layers is not None else None
    if wanted is not None:
        unknown = wanted - set(names.values())
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not modules of the model.")
    per_block = _prunable(blocks, names, wanted)
    if not any(per_block):
        raise ValueError("the model has no prunable layer (nn.Linear, nn.Conv2d or Hugging Face Conv1D)"
                         + (" among layers" if wanted is not None else " inside its blocks")
                         + "; pass a model with such layers (or their names in layers=).")
    report = PruneReport(method=method, sparsity=sparsity, pattern=f"{pattern_t[0]}:{pattern_t[1]}"
                         if pattern_t else "unstructured",
                         options={**asdict(options), "damping": damping} if method == "obs" else {"damping": damping})
    start = time.perf_counter()
    device = next(model.parameters()).device
    target = options.target
    target = target if method == "obs" else "input"
    allocating = method == "obs" and options.allocation != "uniform" and pattern_t is None
    with restore_in_place(model):
        try:                                                                        # 1. capture block inputs
            calls = capture_block_inputs(model, blocks, batches, device)
        except (RuntimeError, IndexError) as exc:
            raise ValueError(f"the model cannot run on the calibration inputs: {exc}; pass calibration batches "
                             "of the shape and dtype the model's forward expects.") from exc
        cd.agree("prune_model", model=cd.signature(model), sparsity=sparsity, pattern=pattern_t, method=method,
                 damping=damping, options=asdict(options), layers=sorted(wanted) if wanted is not None else None)
        weights = {}
        if method == "obs" and options.sensitivity and pattern_t is None:
            t0 = time.perf_counter()
            weights = _output_weights(model, {n: m for t in per_block for n, m in t.items()}, batches, options, device)
            report.compute_s += time.perf_counter() - t0
        bar = tqdm(blocks, desc=f"prune[{method}]", unit="block", disable=cd.progress_disabled(progress))
        for i, (block, targets) in enumerate(zip(bar, per_block)):
            if targets:
                block_calls = calls.of(i)
                try:                                                                # 2. collect statistics
                    stats = collect_statistics(block, targets, block_calls, calls.token_masks,
                                               keep_local=target == "block",
                                               every_hessian=allocating and len(targets) > 1)
                except RuntimeError as exc:
                    if block is model:
                        _check_model_runs(model, block_calls, exc)
                    raise
                _check_tokens(stats)
                report.calibration_passes += 1
                report.peak_hessian_bytes = max(report.peak_hessian_bytes, stats.nbytes())
                report.n_calibration_tokens = max([h.n_samples for h in stats.hessians.values()]
                                                  + [report.n_calibration_tokens])
                Ws = {n: weight_matrix(m) for n, m in targets.items()}
                Hs = {n: h.H for n, h in stats.hessians.items()}
                t0 = time.perf_counter()
                factors = (_shared_factors(Hs, damping, torch.float32 if options.fast_dtype else torch.float64)
                           if method == "obs" and options.mode == "blocked" else {})
                split = {n: sparsity for n in targets}                              # 3. allocate
                if allocating and len(targets) > 1:
                    split = dict(zip(targets, allocate(
                        list(Ws.values()), list(Hs.values()), sparsity, damping, options.max_shift,
                        Us=[factors[n] for n in targets] if factors else None,
                        row_weights=[weights[n] for n in targets] if options.allocation == "output" else None)))
                report.compute_s += time.perf_counter() - t0
                for name, module in targets.items():                               # 4. fit each layer
                    fits = target == "block" and (options.target_max_inputs is None
                                                  or Ws[name].shape[1] <= options.target_max_inputs)
                    local = stats.local.pop(name, None)
                    fit = fit_layer(module, Ws[name], Hs.get(name), stats.hessians[name].mean
                                    if name in stats.hessians else None, split[name], pattern_t, method,
                                    damping=damping, options=options, U=factors.get(name),
                                    row_weights=weights.get(name), restage=local is not None,
                                    dense_rows=local if fits else None, block=block, calls=block_calls,
                                    token_masks=calls.token_masks)
                    report.calibration_passes += fit.passes
                    report.compute_s += fit.compute_s
                    report.layers.append(write_layer(module, name, fit))           # 5. write
                    log.debug("%s: sparsity %.3f, error %.4g", name, report.layers[-1].sparsity,
                              report.layers[-1].calibration_error)
                del stats, Hs, Ws, factors
            before = calls.passes
            calls.propagate(i, block)                                               # 6. propagate
            report.calibration_passes += calls.passes - before
        bar.close()
    report.total_s = time.perf_counter() - start
    log.info("pruned %d layers with %s to %.3f sparsity in %.1f s (compute %.1f s)", len(report.layers),
             method, report.overall_sparsity, report.total_s, report.compute_s)
    return report
