"""Hessian-vector products over a whole data set, without forming H.

For L(θ) = Σ_b (n_b/N) ℓ_b(θ) (see :mod:`~curvlab.curvature.objective`), the product with
the Hessian H = ∇²L(θ) — the H of the quadratic model (1) and of Newton's step (37) — is

    H v = Σ_b (n_b/N) · d/dα ∇ℓ_b(θ + αv) |_{α=0},

Two exact ways to compute it (Pearlmutter 1994, "Fast exact multiplication by the Hessian"),
both exact:

* ``method="forward-over-reverse"``: ``jvp`` of ``grad`` — a forward and a backward pass
  that each carry a tangent.
* ``method="reverse-over-reverse"`` (default): the vector-Jacobian product of ∇ℓ_b, using
  H = Hᵀ: H_b v = ∂(∇ℓ_b · v)/∂θ. ∇ℓ_b is computed once with its own autograd graph
  (``create_graph=True``) and each product is one backward pass through that graph. The
  graph is *kept* between products (``cache=True``, the default for a single ``(X, y)``
  batch), so a further product costs one backward pass instead of a forward and two
  backward passes. It is rebuilt automatically when the parameters change (tracked by
  their in-place version counters and storage), so a cached operator never answers for stale weights.
  This path uses plain ``torch.autograd`` (with ``functional_call``), not ``torch.func``'s
  transforms: the first ``torch.func.grad``/``vjp`` call of a process imports
  ``torch._dynamo`` (seconds), and the recorded graph replays about as fast (measured,
  ``benchmarks/curvature.md``).
* ``method="forward-over-reverse"``: ``torch.func.jvp`` of ``torch.func.grad``.

Why the default is reverse-over-reverse: on torch 2.13, forward-mode differentiation of
``nn.MSELoss``'s backward raises "ZeroTensors are immutable", and on CPU we measured the
forward-over-reverse product slower (1.5–10×, cross-entropy worst) than reverse-over-reverse
on the digits MLP. Both give the same H v to round-off (tested).

With ``gauss_newton=True`` the operator is the generalized Gauss–Newton matrix
G = Σ_b (n_b/N) J_bᵀ (∇²_z ℓ_b) J_b, with J_b the Jacobian of the outputs z = f(X_b; θ)
(Schraudolph 2002). G drops the term Σ (∂ℓ/∂z)·∇²z of H; it is positive semi-definite
whenever the loss is convex in the outputs (MSE, cross-entropy). Computed as
Jᵀ(∇²_z ℓ (J v)): a ``jvp`` through the model, a ``jvp`` of the loss gradient in z, and a ``vjp``.

Unlike PyHessian, the model's train/eval mode is left as the caller set it.

Data-parallel. Under ``torch.distributed`` (launched with ``torchrun``; a process group of
k > 1 ranks) each rank's ``data`` is its shard and the operator is that of the *global* loss
L = Σ_ranks Σ_b (n_b/N) ℓ_b with N = Σ_ranks N_rank: every product is the rank's weighted
sum of batch products followed by one all_reduce, so every rank gets the same H v — the
same as one process on the concatenated data (exact for unequal shards). Communication per
product: one vector of P + 1 numbers (H v and a failure flag; ≈ 2P numbers sent and received
per rank by a ring all_reduce). Construction checks that every rank has the same model and
options and a non-empty shard, and a rank whose product fails ends every rank with its message.

Example
-------
>>> import torch
>>> torch.manual_seed(0)
>>> model = torch.nn.Linear(3, 1).double()
>>> X, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 1, dtype=torch.float64)
>>> H = HessianOperator(model, torch.nn.MSELoss(), (X, y))
>>> Hv = H.matvec(torch.ones(H.dim, dtype=torch.float64))   # (4,)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.func import grad, jvp, vjp

from .. import distributed as cd
from .data import Batches, Data, is_sharded
from .objective import LossFn, Objective
from .params import flatten

__all__ = ["HessianOperator", "METHODS"]

METHODS = ("reverse-over-reverse", "forward-over-reverse")


class HessianOperator:
    """The Hessian (or Gauss–Newton matrix) of L(θ) as a linear operator v ↦ Hv.

    Parameters
    ----------
    model : the network f(X; θ); its mode (train/eval) is used as it is.
    loss_fn : ``loss_fn(output, target) -> scalar``, the mean over a batch (``nn.MSELoss()``).
    data : an ``(X, y)`` tensor pair, or an iterable / ``DataLoader`` of ``(X, y)`` batches;
        the batch terms are averaged with weights n_b / N.
    params : the parameters to differentiate with respect to (default: all that require grad).
    gauss_newton : use the generalized Gauss–Newton matrix G instead of H.
    method : ``"reverse-over-reverse"`` (default) or ``"forward-over-reverse"``.
    cache : keep each batch's linearization between products (memory: one autograd graph
        per batch). ``None`` (default) caches when ``data`` is a single batch.
    distributed : ``data`` is this rank's shard of a data set spread over the process group
        (default: when a group of more than one rank is active). ``False``: a local operator.

    Attributes
    ----------
    dim : P, the number of parameters (H is P×P).
    num_matvecs : how many products have been computed (each is one pass over the data).
    dtype, device : those of the parameters; vectors are (P,) tensors of this kind.
    objective : the underlying :class:`~curvlab.curvature.objective.Objective` (loss, gradient).
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, data: Data | Batches, *,
                 params: Iterable[Tensor] | None = None, gauss_newton: bool = False,
                 method: str = "reverse-over-reverse", cache: bool | None = None,
                 distributed: bool | None = None):
        self.distributed = is_sharded(data, distributed)
        with cd.stage("building the HessianOperator", active=self.distributed):
            if method not in METHODS:
                raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
            self.objective = Objective(model, loss_fn, data, params=params, check_loss=False,
                                       distributed=self.distributed)
            self.gauss_newton = bool(gauss_newton)
            self.method = method
            self.cache = (self.objective.batches.num_batches == 1) if cache is None else bool(cache)
            self.num_matvecs = 0
            self._cached: list[tuple[Callable, float]] | None = None
            self._cached_versions: tuple | None = None
            if self.distributed:
                cd.agree("HessianOperator", gauss_newton=self.gauss_newton, method=method)
            if self.cache and self._uses_gradient_graph:
                # build the gradient graphs now: their forward pass also checks that the loss is a
                # scalar, so construction costs one forward and one backward pass, not an extra forward
                self._refresh_cache()
            else:
                self.objective.check_loss()

    @property
    def _uses_gradient_graph(self) -> bool:
        return not self.gauss_newton and self.method == "reverse-over-reverse"

    @property
    def dim(self) -> int:
        return self.objective.dim

    @property
    def dtype(self) -> torch.dtype:
        return self.objective.dtype

    @property
    def device(self) -> torch.device:
        return self.objective.device

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dim, self.dim)

    def matvec(self, v: Tensor) -> Tensor:
        """H v (or G v) for a flat vector v of shape (P,); returns (P,).

        Distributed: this rank's part Σ_b (n_b/N) H_b v, then one all_reduce (module docstring).
        """
        obj = self.objective
        v = obj.check_vector(v)
        tangents = obj.as_dict(v)

        def local() -> Tensor:
            out: Tensor | None = None
            with torch.no_grad():  # the products differentiate explicitly; no graph is recorded on the module
                for product, w in self._products():
                    hv = product(tangents)
                    term = flatten([hv[n] for n in obj.names])  # (P,)
                    if out is None:
                        out = term if w == 1.0 else w * term
                    else:
                        out += w * term
            return out

        out = cd.sum_or_raise(local, like=v, what="HessianOperator.matvec") if self.distributed else local()
        self.num_matvecs += 1
        if not bool(torch.isfinite(out).all()):
            obj.check_params()
            raise ValueError(
                "H v is not finite although v, the data and the parameters are: the loss or its "
                "derivatives overflow at these weights (e.g. a log of 0); use a numerically stable loss."
            )
        return out

    __matmul__ = matvec

    def __call__(self, v: Tensor) -> Tensor:
        return self.matvec(v)

    # ------------------------------------------------------------------ per batch
    def _products(self) -> Iterator[tuple[Callable[[dict], dict], float]]:
        """(tangent dict ↦ H_b v dict, n_b/N) for each batch, cached when asked and still valid."""
        self.objective.check_params()  # O(P): a NaN weight set since construction is named, not returned
        if not self.cache:
            primals = self.objective.primals()
            for X, y, w in self.objective.batches:
                yield self._batch_product(primals, X, y), w
            return
        versions = self._versions()
        if self._cached is None or versions != self._cached_versions:
            self._refresh_cache()
        yield from self._cached

    def _versions(self) -> tuple:
        # in-place updates bump _version; ``p.data = …`` (vector_to_parameters) swaps the storage
        return tuple((p._version, p.data_ptr()) for p in self.objective.params)

    def _refresh_cache(self) -> None:
        versions = self._versions()
        primals = self.objective.primals()
        first = True
        cached = []
        for X, y, w in self.objective.batches:
            cached.append((self._batch_product(primals, X, y, prepare=True, check=first), w))
            first = False
        self._cached, self._cached_versions = cached, versions

    def _batch_product(self, primals, X, y, *, prepare: bool = False,
                       check: bool = False) -> Callable[[dict], dict]:
        obj = self.objective
        if self.gauss_newton:
            return self._batch_ggn(primals, X, y)
        if self.method == "reverse-over-reverse":
            return self._batch_gradient_graph(primals, X, y, keep=prepare, check=check)

        def grad_loss(p):
            return grad(obj.batch_loss)(p, X, y)

        # H_b v = d/dα ∇ℓ_b(θ + αv): forward-mode derivative of the reverse-mode gradient
        def forward_over_reverse(tangents):
            try:
                return jvp(grad_loss, (primals,), (tangents,))[1]
            except RuntimeError as exc:
                if "ZeroTensor" not in str(exc):
                    raise
                raise ValueError(
                    "this loss_fn has no forward-mode derivative of its backward in this torch "
                    "version (e.g. nn.MSELoss); use method='reverse-over-reverse'."
                ) from exc

        return forward_over_reverse

    def _batch_gradient_graph(self, primals, X, y, *, keep: bool, check: bool) -> Callable[[dict], dict]:
        """v ↦ H_b v as one backward pass through the recorded graph of g = ∇ℓ_b(θ).

        H_b v = ∂(gᵀv)/∂θ (H_b symmetric). ``keep`` retains the graph for further products.
        """
        obj = self.objective
        names = obj.names
        leaves = {n: t.requires_grad_(True) for n, t in primals.items()}  # fresh leaves sharing storage
        inputs = [leaves[n] for n in names]
        with torch.enable_grad():
            value = obj.checked_batch_loss(leaves, X, y) if check else obj.batch_loss(leaves, X, y)
            if check:
                obj.check_loss_value(value)
            g = torch.autograd.grad(value, inputs, create_graph=True, allow_unused=True)
        # a gradient that does not depend on θ (a loss linear in that block) has no graph: H's rows are 0
        live = [i for i, gi in enumerate(g) if gi is not None and gi.requires_grad]
        outputs = [g[i] for i in live]

        def product(tangents: dict[str, Tensor]) -> dict[str, Tensor]:
            if not outputs:
                return {n: torch.zeros_like(t) for n, t in leaves.items()}
            hv = torch.autograd.grad(outputs, inputs, grad_outputs=[tangents[names[i]] for i in live],
                                     retain_graph=keep, allow_unused=True)
            return {n: torch.zeros_like(leaves[n]) if h is None else h for n, h in zip(names, hv)}

        return product

    def _batch_ggn(self, primals, X, y) -> Callable[[dict], dict]:
        # G_b v = J_bᵀ ∇²_z ℓ_b (J_b v), z = f(X_b; θ)
        obj = self.objective

        def outputs(p):
            return obj.batch_output(p, X)

        z, pullback = vjp(outputs, primals)  # Jᵀ(·)
        _, loss_hvp = vjp(grad(lambda zz: obj.loss_fn(zz, y)), z)  # ∇²_z ℓ (·), symmetric

        def product(tangents):
            _, Jv = jvp(outputs, (primals,), (tangents,))
            (Gv,) = pullback(loss_hvp(Jv)[0])
            return Gv

        return product

    def __repr__(self) -> str:
        kind = "GaussNewtonOperator" if self.gauss_newton else "HessianOperator"
        return f"{kind}(dim={self.dim}, dtype={self.dtype}, num_matvecs={self.num_matvecs})"
