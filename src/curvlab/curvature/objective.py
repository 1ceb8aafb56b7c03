"""A model, a loss and a data set seen as a function of the flat parameter vector θ.

    L(θ) = Σ_b (n_b / N) · loss_fn(f(X_b; θ), y_b)

``loss_fn(output, target)`` must return a scalar — the mean over the batch, like
``nn.MSELoss()`` or ``nn.CrossEntropyLoss()`` with their default ``reduction="mean"``.
:class:`Objective` evaluates L and ∇L and exposes the per-batch functional form
(``batch_loss``) that :mod:`~curvlab.curvature.hvp`, :mod:`~curvlab.curvature.dense`
and :mod:`~curvlab.curvature.fisher` differentiate with ``torch.func``.

The module's train/eval mode is the caller's choice and is never changed here (dropout in
train mode makes L random; put the model in ``eval()`` for a deterministic Hessian).

Data-parallel: under a process group each rank's ``data`` is its shard (see
:class:`~curvlab.curvature.data.Batches`); L and ∇L are each rank's weighted part summed
with one all_reduce of P + 2 numbers, so every rank gets the value of the whole data set.
"""

from __future__ import annotations

import contextlib
import dis
import os
import warnings
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .. import distributed as cd
from .data import Batches, Data, as_batches, is_sharded
from .params import flatten, num_params, resolve_params, unflatten

__all__ = ["LossFn", "Objective"]

LossFn = Callable[[Tensor, Tensor], Tensor]


class Objective:
    """L(θ) of ``model`` under ``loss_fn`` over ``data``, with θ the chosen parameters.

    Parameters
    ----------
    model : the network f(X; θ).
    loss_fn : ``loss_fn(output, target) -> scalar`` (the batch mean).
    data : an ``(X, y)`` pair or an iterable of batches (see :class:`~curvlab.curvature.data.Batches`).
    params : the parameters θ stands for (default: all with ``requires_grad``); the others
        are held at their current values.
    check_loss : evaluate the loss once now to check it is a scalar (one forward pass). A
        caller that evaluates it anyway (``HessianOperator`` building its gradient graph)
        passes ``False`` and calls :meth:`check_loss_value` on its own value instead.

    distributed : ``data`` is this rank's shard (default: when a process group of more than
        one rank is active; see :class:`~curvlab.curvature.data.Batches`). Every rank must then
        pass the same model (checked: parameter names, shapes, dtypes).

    Raises ``ValueError`` for a model without trainable parameters, empty data (on any rank),
    a loss that is not a scalar, or ranks whose models differ — on every rank.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                 params: Iterable[Tensor] | None = None, check_loss: bool = True,
                 distributed: bool | None = None):
        self.distributed = is_sharded(data, distributed)
        with cd.stage("building the objective", active=self.distributed):
            if not callable(loss_fn):
                raise TypeError(f"loss_fn must be callable as loss_fn(output, target); got {type(loss_fn).__name__}.")
            self.model = model
            self.loss_fn = loss_fn
            self.names, self.params = resolve_params(model, params)
            first = self.params[0]
            self.dtype: torch.dtype = first.dtype
            self.device: torch.device = first.device
            self.dim: int = num_params(self.params)
            self.check_params()
            self.batches = as_batches(data, device=self.device, distributed=self.distributed)
            if self.distributed:
                cd.agree("the objective", parameters=[(n, tuple(p.shape), str(p.dtype))
                                                      for n, p in zip(self.names, self.params)],
                         loss_fn=type(loss_fn).__name__)
            if check_loss:
                self.check_loss()

    # ------------------------------------------------------------------ functional form
    def primals(self) -> dict[str, Tensor]:
        """The current parameter values, detached, keyed by name (the point θ)."""
        return {n: p.detach() for n, p in zip(self.names, self.params)}

    def as_dict(self, vec: Tensor) -> dict[str, Tensor]:
        """A flat vector (P,) as a name → tensor dict shaped like the parameters."""
        return dict(zip(self.names, unflatten(vec, self.params)))

    def batch_output(self, p: dict[str, Tensor], X: Tensor) -> Tensor:
        """f(X; θ) with θ given as a dict (the unchosen parameters and buffers as they are)."""
        return functional_call(self.model, p, (X,), strict=False)

    def batch_loss(self, p: dict[str, Tensor], X: Tensor, y: Tensor) -> Tensor:
        """ℓ_b(θ) = loss_fn(f(X_b; θ), y_b), a scalar."""
        return self.loss_fn(self.batch_output(p, X), y)

    # ------------------------------------------------------------------ values
    def theta(self) -> Tensor:
        """The current flat parameter vector θ (P,), detached."""
        return flatten([p.detach() for p in self.params])

    @torch.no_grad()
    def loss(self) -> float:
        """L(θ) at the current parameters (over every rank's shard when distributed)."""
        p = self.primals()

        def local() -> Tensor:
            return sum(w * self.batch_loss(p, X, y).reshape(()) for X, y, w in self.batches)

        if not self.distributed:
            return float(local())
        return float(cd.sum_or_raise(local, like=torch.zeros((), dtype=self.dtype, device=self.device),
                                     what="Objective.loss"))

    def loss_and_gradient(self) -> tuple[float, Tensor]:
        """L(θ) and ∇L(θ) (P,) at the current parameters.

        Plain reverse mode (``torch.autograd.grad``; ``.grad`` fields are left untouched): it
        is the cheapest way to a gradient and needs none of ``torch.func``'s machinery.
        """
        def local() -> Tensor:
            out = torch.zeros(self.dim + 1, dtype=self.dtype, device=self.device)  # (P + 1,): ∇L, then L
            for X, y, w in self.batches:
                with torch.enable_grad():
                    value = self.loss_fn(self.model(X), y)
                    grads = torch.autograd.grad(value, self.params, allow_unused=True)
                out[:-1] += w * flatten([torch.zeros_like(p) if gi is None else gi
                                         for gi, p in zip(grads, self.params)])
                out[-1] += w * value.detach()
            return out

        if self.distributed:
            out = cd.sum_or_raise(local, like=torch.zeros(self.dim + 1, dtype=self.dtype, device=self.device),
                                  what="Objective.loss_and_gradient")
        else:
            out = local()
        return float(out[-1]), out[:-1]

    def gradient(self) -> Tensor:
        """∇L(θ) (P,) at the current parameters."""
        return self.loss_and_gradient()[1]

    def check_vector(self, v: Tensor, name: str = "v") -> Tensor:
        """``v`` as a finite real (P,) tensor of the parameters' dtype and device, or raise."""
        if not isinstance(v, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape ({self.dim},); got {type(v).__name__}.")
        if v.is_complex():
            raise TypeError(f"{name} must be real (H is a real symmetric operator); got dtype {v.dtype}. "
                            f"Apply H to {name}.real and {name}.imag separately.")
        if v.ndim != 1 or v.shape[0] != self.dim:
            raise ValueError(f"{name} must have shape ({self.dim},) (the number of parameters); got {tuple(v.shape)}.")
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} contains NaN or infinity (first at index "
                             f"{int((~torch.isfinite(v)).nonzero()[0])}); pass a finite vector.")
        return v.to(dtype=self.dtype, device=self.device)

    # ------------------------------------------------------------------ checks
    def check_params(self) -> None:
        """Raise ``ValueError`` naming the first parameter θ holds that contains NaN or infinity."""
        for name, p in zip(self.names, self.params):
            if not bool(torch.isfinite(p.detach()).all()):
                raise ValueError(
                    f"the model parameter {name!r} contains NaN or infinity; every Hessian, gradient "
                    "and loss of it would be NaN. Reinitialize or restore the model's weights."
                )

    def checked_batch_loss(self, p: dict[str, Tensor], X: Tensor, y: Tensor) -> Tensor:
        """ℓ_b(θ) like :meth:`batch_loss`, with the errors torch raises for data that does not fit
        the model (shapes, dtypes, class indices) turned into a ``ValueError`` that names the data
        and the fix. Used for the first forward pass over ``data``."""
        with self._explain("model(X)", X, y):
            out = self.batch_output(p, X)
        with self._explain("loss_fn(model(X), y)", X, y, out):
            return self.loss_fn(out, y)

    @contextlib.contextmanager
    def _explain(self, what: str, X: Tensor, y: Tensor, out: Tensor | None = None):
        with warnings.catch_warnings():
            # torch's MSE-type losses only warn when target and output broadcast to a wrong shape
            warnings.filterwarnings("error", message=r".*target size.*", category=UserWarning)
            try:
                yield
            except (RuntimeError, IndexError, UserWarning) as exc:
                if not _raised_by_torch(exc):
                    raise  # the caller's own error (a fault in their loss_fn, say) propagates unchanged
                raise ValueError(self._mismatch(what, X, y, out, exc)) from exc

    def _mismatch(self, what: str, X: Tensor, y: Tensor, out: Tensor | None, exc: BaseException) -> str:
        data = self.batches.name if hasattr(self, "batches") else "data"
        msg = (f"{what} failed on the first batch of {data}: X has shape {tuple(X.shape)} and dtype {X.dtype}, "
               f"y has shape {tuple(y.shape)} and dtype {y.dtype}")
        if out is None:
            msg += f"; the model's parameters are {self.dtype}"
            if X.is_floating_point() and X.dtype != self.dtype:
                fix = f"convert the data with X.to({self.dtype}) (or the model with model.to({X.dtype}))"
            else:
                fix = "pass X with the number of features (trailing shape) and dtype the model expects"
        else:
            msg += f"; the model's output has shape {tuple(out.shape)} and dtype {out.dtype}"
            fix = ("pass y shaped like the output (e.g. y.reshape(-1, 1) for a one-output model with "
                   "nn.MSELoss), or class indices in [0, classes) of dtype torch.long for nn.CrossEntropyLoss")
        return f"{msg}. Torch said: {first_line(exc)}. Fix: {fix}."

    def check_loss(self) -> None:
        """Raise ``ValueError`` unless the loss of the first batch is a scalar (one forward pass);
        data that does not fit the model is reported by :meth:`checked_batch_loss`."""
        X, y = self.batches.first()
        with torch.no_grad():
            value = self.checked_batch_loss(self.primals(), X, y)
        self.check_loss_value(value)

    def check_loss_value(self, value: object) -> None:
        """Raise ``ValueError`` unless ``value`` (a loss_fn result) is a scalar tensor."""
        if not isinstance(value, Tensor) or value.numel() != 1 or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(
                f"loss_fn must return a scalar (the mean over the batch); got {shape}. Use "
                "reduction='mean' (e.g. nn.MSELoss()), or wrap it: lambda out, y: f(out, y).mean()."
            )

    _check_scalar_loss = check_loss  # the former private name


_TORCH_DIR = os.path.dirname(torch.__file__)


@contextlib.contextmanager
def explain_model_errors(what: str, inputs: str):
    """Turn a torch error of a model call into a ``ValueError`` that names the inputs (the
    caller's own ``raise`` propagates unchanged; see :func:`_raised_by_torch`)."""
    try:
        yield
    except (RuntimeError, IndexError) as exc:
        if not _raised_by_torch(exc):
            raise
        raise ValueError(f"{what} failed on {inputs}: {first_line(exc)}. Pass inputs of the shape and dtype the "
                         "model expects.") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (torch's messages run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _raised_by_torch(exc: BaseException) -> bool:
    """Whether torch raised ``exc``: the innermost frame of its traceback is torch's own code,
    or an instruction of the caller's code other than ``raise`` (an operation such as ``x @ W``
    that failed inside torch's C++ kernels). An explicit ``raise`` in the caller's code is the
    caller's own error."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if os.path.abspath(code.co_filename).startswith(_TORCH_DIR):
        return True
    # the instruction that raised: an explicit ``raise`` (RAISE_VARARGS) or a call into torch
    op = code.co_code[tb.tb_lasti] if 0 <= tb.tb_lasti < len(code.co_code) else None
    return op not in _RAISE_OPCODES


_RAISE_OPCODES = {dis.opmap[name] for name in ("RAISE_VARARGS", "RERAISE") if name in dis.opmap}
