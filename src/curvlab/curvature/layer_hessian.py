"""Layer-wise Hessians H = 2XXᵀ/N from calibration data, accumulated by forward hooks.

For one layer with weight W (rows = outputs, columns = inputs) and calibration inputs
X = [x_1 … x_N] (one column per token / pixel), the layer reconstruction loss

    E(Ŵ) = (1/N) ‖W X − Ŵ X‖²_F = Σ_rows ½ (w − ŵ)ᵀ H (w − ŵ),      H = 2 X Xᵀ / N,

is the quadratic model (1)–(2) of the notes with the same H for every row of W, exactly
(no Taylor remainder: E is quadratic in Ŵ). This is what makes row-wise OBS (eqs. (7)–(8),
:mod:`curvlab.prune.layerwise`) possible on layers with millions of weights: one d × d
matrix per layer instead of one (R·d) × (R·d) matrix.

Accumulation
------------
Forward hooks see each batch of inputs, turn them into rows x (see :func:`layer_inputs`)
and update a running mean, so activations are never stored:

    H ← (n / (n + m)) H + (2 / (n + m)) Σ_{new m rows} x xᵀ,      n ← n + m.

When a token mask is set (``HessianCollector.token_mask``, e.g. the attention mask of a
padded batch) padding positions are dropped: they would otherwise pull H towards the
padding token's activations, which the model never uses.

Data-parallel calibration
-------------------------
Under a process group each rank accumulates its own calibration rows; :meth:`LayerHessian.reduce_`
(or :meth:`HessianCollector.reduce_` for every layer) then makes H, μ and N those of all the
ranks' rows together — the running means are weighted by their counts,

    H = Σ_r N_r H_r / N,   μ = Σ_r N_r μ_r / N,   N = Σ_r N_r,

one all_reduce of d² + d + 1 numbers per layer — exactly what one process would have
accumulated from all the rows (up to round-off), for any split of the tokens between ranks.

Supported layers: ``nn.Linear`` (x = the last input dimension), ``nn.Conv2d`` with
``groups == 1`` and zero padding (x = an unfolded receptive field, ordered as
``weight.flatten(1)``), and Hugging Face ``Conv1D`` (GPT-2 style, weight stored (in, out)).

Damping and dead inputs
-----------------------
H is only positive semi-definite: an input coordinate that is zero on every calibration
row ("dead input", diag(H)_j = 0) makes it singular, and a few thousand tokens rarely
pin down all d directions. :func:`damp` returns H + λ·mean(diag H)·I (λ = 0.01 by default,
the choice of SparseGPT) and sets H_jj = 1 for dead inputs; the weights of dead inputs have
no effect on the calibration loss, so the pruning routines prune them first, for free.

Example
-------
>>> import torch
>>> lin = torch.nn.Linear(8, 4)
>>> with HessianCollector({"lin": lin}) as hc:
...     _ = lin(torch.randn(32, 8))
>>> hc["lin"].H.shape, hc["lin"].n_samples
(torch.Size([8, 8]), 32)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from .. import distributed as cd

__all__ = ["HessianCollector", "LayerHessian", "damp", "is_prunable", "layer_inputs", "weight_matrix",
           "set_weight_matrix"]

log = logging.getLogger(__name__)


def _is_hf_conv1d(module: nn.Module) -> bool:
    # Hugging Face's Conv1D (GPT-2): a Linear with its weight stored transposed, (in, out).
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf") and hasattr(module, "weight")


def is_prunable(module: nn.Module) -> bool:
    """True for the layer types whose Hessian :class:`LayerHessian` can accumulate."""
    if isinstance(module, nn.Linear) or _is_hf_conv1d(module):
        return True
    return isinstance(module, nn.Conv2d) and module.groups == 1 and module.padding_mode == "zeros"


def _check_prunable(module: nn.Module) -> None:
    if is_prunable(module):
        return
    if isinstance(module, nn.Conv2d):
        raise TypeError(f"Conv2d with groups={module.groups} / padding_mode={module.padding_mode!r} is not "
                        "supported; only groups=1 with zero padding (exclude this layer).")
    raise TypeError(f"layer-wise Hessians support nn.Linear, nn.Conv2d and Hugging Face Conv1D; got "
                    f"{type(module).__name__} (exclude it from the layers to prune).")


def weight_matrix(module: nn.Module) -> Tensor:
    """The layer's effective weight as an (R, d) matrix: rows = outputs, columns = the inputs of
    :func:`layer_inputs` (a Conv2d weight is flattened, a Conv1D weight transposed). Detached."""
    _check_prunable(module)
    W = module.weight.detach()
    if _is_hf_conv1d(module):
        return W.t()                       # (in, out) -> (out, in)
    return W.flatten(1)                    # Conv2d: (C_out, C_in, kh, kw) -> (C_out, C_in·kh·kw)


def set_weight_matrix(module: nn.Module, W: Tensor) -> Tensor:
    """Reshape an (R, d) matrix back into the layer's weight layout (the inverse of
    :func:`weight_matrix`)."""
    expected = tuple(weight_matrix(module).shape)
    if not isinstance(W, Tensor) or tuple(W.shape) != expected:
        got = tuple(W.shape) if isinstance(W, Tensor) else type(W).__name__
        raise ValueError(f"W must have shape {expected} (the layer's weight_matrix); got {got}.")
    shape = module.weight.shape
    if _is_hf_conv1d(module):
        return W.t().contiguous()
    return W.reshape(shape)


def layer_inputs(module: nn.Module, x: Tensor) -> Tensor:
    """The calibration rows of one forward call: an (m, d) matrix whose rows are the x of
    H = 2 X Xᵀ / N (X's columns are these rows).

    Linear / Conv1D: every position of ``x[..., d]``. Conv2d: every receptive field, unfolded
    in the order of ``weight.flatten(1)``, (B·L, C·kh·kw).
    """
    _check_prunable(module)
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor (the layer's input); got {type(x).__name__}.")
    d_in = module.in_channels if isinstance(module, nn.Conv2d) else weight_matrix(module).shape[1]
    got = x.shape[-3] if isinstance(module, nn.Conv2d) and x.dim() >= 3 else x.shape[-1] if x.dim() else 0
    if got != d_in:
        what = "channels" if isinstance(module, nn.Conv2d) else "features"
        raise ValueError(f"x has {got} {what} (shape {tuple(x.shape)}) but the layer takes {d_in}; pass the "
                         "inputs this layer receives in the model.")
    if isinstance(module, nn.Conv2d):
        if x.dim() == 3:
            x = x.unsqueeze(0)
        cols = nn.functional.unfold(x, module.kernel_size, dilation=module.dilation,
                                    padding=module.padding, stride=module.stride)  # (B, C·kh·kw, L)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])                     # (B·L, C·kh·kw)
    d = x.shape[-1]
    return x.reshape(-1, d)                                                        # (B·T, d)


class LayerHessian:
    """The running H = 2 X Xᵀ / N of one layer (d × d), the mean input μ = X 1 / N (d,) and N,
    the number of rows seen.

    Parameters
    ----------
    module : the layer (see :func:`is_prunable`).
    dtype : accumulation precision (float64 by default: H of a few thousand tokens in float32
        loses the small eigenvalues that OBS divides by).
    """

    def __init__(self, module: nn.Module, *, dtype: torch.dtype = torch.float64):
        _check_prunable(module)
        self.module = module
        d = weight_matrix(module).shape[1]
        self.H = torch.zeros(d, d, dtype=dtype, device=module.weight.device)
        self.mean = torch.zeros(d, dtype=dtype, device=module.weight.device)
        self.n_samples = 0

    @property
    def d(self) -> int:
        return self.H.shape[0]

    @torch.no_grad()
    def add_batch(self, x: Tensor, token_mask: Tensor | None = None) -> None:
        """Add the rows of one forward input ``x`` (``token_mask`` (B, T) keeps positions where
        it is nonzero, for inputs of shape (B, T, d))."""
        if token_mask is not None and isinstance(self.module, nn.Conv2d):
            token_mask = None
        if token_mask is not None and x.dim() == 3 and tuple(token_mask.shape) == tuple(x.shape[:2]):
            x = x[token_mask.to(torch.bool)]                                   # (m, d)
        X = layer_inputs(self.module, x).to(self.H.dtype)                      # (m, d)
        m = X.shape[0]
        if m == 0:
            return
        if not torch.isfinite(X).all():
            raise ValueError("calibration activations contain NaN or infinity; check the calibration "
                             "data (and the model's weights) for non-finite values.")
        total = self.n_samples + m
        self.H.mul_(self.n_samples / total)
        self.H.addmm_(X.t(), X, alpha=2.0 / total)                             # H += 2/N · XᵀX
        self.mean.mul_(self.n_samples / total).add_(X.sum(0), alpha=1.0 / total)
        self.n_samples = total

    @torch.no_grad()
    def reduce_(self) -> "LayerHessian":
        """Sum the statistics over the process group in place (module docstring); returns self.

        Every rank must call it (after its calibration passes). Counts travel in float64 (exact
        to 2⁵³ rows) in the same buffer. Identity without a process group.
        """
        if cd.world_size() == 1:
            return self
        n = self.n_samples
        d = self.d

        def local() -> Tensor:
            buf = torch.empty(d * d + d + 1, dtype=torch.float64, device=self.H.device)   # (d² + d + 1,)
            buf[: d * d] = self.H.reshape(-1).to(torch.float64) * n
            buf[d * d: -1] = self.mean.to(torch.float64) * n
            buf[-1] = n
            return buf

        like = torch.zeros(d * d + d + 1, dtype=torch.float64, device=self.H.device)
        total = cd.sum_or_raise(local, like=like, what="LayerHessian.reduce_")
        N = int(total[-1].item())
        if N > 0:
            self.H.copy_((total[: d * d] / N).reshape(d, d))
            self.mean.copy_(total[d * d: -1] / N)
        self.n_samples = N
        return self

    def _hook(self, collector: "HessianCollector"):
        def hook(module, args, output):
            self.add_batch(args[0], collector.token_mask)
        return hook


class HessianCollector(Mapping):
    """Context manager: forward hooks on ``modules`` accumulate one :class:`LayerHessian` each.

    Parameters
    ----------
    modules : {name: layer}.
    dtype : accumulation precision.

    Set ``token_mask`` (a (B, T) tensor, or None) before each forward to exclude padding.
    The hooks are removed on exit; the Hessians stay readable (``collector[name].H``).
    """

    def __init__(self, modules: Mapping[str, nn.Module], *, dtype: torch.dtype = torch.float64):
        if not modules:
            raise ValueError("modules is empty; pass at least one layer to collect a Hessian for.")
        self.hessians = {name: LayerHessian(m, dtype=dtype) for name, m in modules.items()}
        self.token_mask: Tensor | None = None
        self._handles: list = []

    def __enter__(self) -> "HessianCollector":
        for h in self.hessians.values():
            self._handles.append(h.module.register_forward_hook(h._hook(self)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __getitem__(self, name: str) -> LayerHessian:
        return self.hessians[name]

    def __iter__(self):
        return iter(self.hessians)

    def __len__(self) -> int:
        return len(self.hessians)

    def reduce_(self) -> "HessianCollector":
        """:meth:`LayerHessian.reduce_` for every layer, in name order (every rank must call it,
        with the same layers: checked first, a ``ValueError`` on every rank otherwise)."""
        cd.agree("HessianCollector.reduce_", layers=[(name, h.d) for name, h in self.hessians.items()])
        for name in self.hessians:
            self.hessians[name].reduce_()
        return self

    def nbytes(self) -> int:
        """Memory held by the Hessians."""
        return sum((h.H.numel() + h.mean.numel()) * h.H.element_size() for h in self.hessians.values())


def damp(H: Tensor, damping: float = 0.01) -> tuple[Tensor, Tensor]:
    """Return (H + λ·mean(diag H)·I with dead inputs' H_jj set to 1, the dead-input mask).

    ``damping`` λ is relative to the mean curvature, so it does not depend on the scale of
    the activations. Dead inputs (diag(H)_j = 0: the input never fired on the calibration
    data) would make H singular; their weights cost nothing to prune.
    """
    if not (0.0 <= damping < float("inf")):
        raise ValueError(f"damping must be finite and >= 0; got {damping!r}.")
    if not isinstance(H, Tensor) or H.ndim != 2 or H.shape[0] != H.shape[1]:
        got = tuple(H.shape) if isinstance(H, Tensor) else type(H).__name__
        raise ValueError(f"H must be a square (d, d) tensor; got {got}.")
    if not torch.isfinite(H).all():
        raise ValueError("H contains NaN or infinity; the calibration data must be finite.")
    H = H.clone()
    diag = torch.diagonal(H)
    dead = diag <= 0
    H[dead, :] = 0
    H[:, dead] = 0
    alive_mean = diag[~dead].mean() if (~dead).any() else torch.tensor(1.0, dtype=H.dtype)
    diag.add_(damping * alive_mean)
    diag[dead] = 1.0
    return H, dead
