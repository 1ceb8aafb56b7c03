"""A data set for curvature: one ``(X, y)`` batch or an iterable of batches.

The loss over a data set of N samples split into batches of sizes n_b is the
size-weighted mean of the batch losses,

    L(θ) = Σ_b (n_b / N) · ℓ_b(θ),      ℓ_b = loss_fn(model(X_b), y_b)  (a batch mean),

so every derivative of L (gradient, Hessian-vector product, Hessian) is the same
weighted sum of per-batch derivatives. :class:`Batches` wraps the caller's data, can be
iterated many times (a one-shot iterator is materialized once), knows N, and rejects an
empty data set.

Under ``torch.distributed`` (a process group with more than one rank) each rank's data is
its shard: N is the *global* count Σ_ranks N_rank (one exchange at construction, which also
refuses an empty shard on any rank), so the weights n_b/N of every rank sum to 1 over all
ranks and a rank's weighted sum is its part of the global mean — exact for unequal shards.
The consumers (:class:`~curvlab.curvature.objective.Objective`, the Hessian operator,
:func:`~curvlab.curvature.dense.dense_hessian`) add the parts with one all_reduce.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor

from .. import distributed as cd

__all__ = ["Batches", "as_batches", "is_sharded"]

Data = tuple[Tensor, Tensor] | Iterable[tuple[Tensor, Tensor]]


class Batches:
    """Re-iterable ``(X_b, y_b, n_b / N)`` triples over a data set.

    Parameters
    ----------
    data : an ``(X, y)`` pair of tensors (one batch, the first dimension indexes samples),
        or an iterable of such pairs (a list, a ``DataLoader``); a one-shot iterator is
        read once into memory.
    device : where each batch is moved (the parameters' device); the dtype is left alone.
    distributed : treat ``data`` as this rank's shard of a data set spread over the process
        group (weights n_b/N with the global N). ``None`` (default): when a group with more
        than one rank is active. ``False``: local data even under a group.

    Attributes
    ----------
    num_samples : this rank's N_rank.   total_samples : N = Σ_ranks N_rank (= num_samples alone).
    """

    def __init__(self, data: Data, *, device: torch.device | None = None, name: str = "data",
                 distributed: bool | None = None):
        self.name = name
        self.device = device
        self.distributed = cd.world_size() > 1 if distributed is None else bool(distributed)
        if not self.distributed:
            self._read(data)
            self.total_samples = self.num_samples
            return
        error = None
        try:
            self._read(data)
        except Exception as exc:  # reported on every rank by the exchange below
            error = exc
        counts = cd.exchange(None if error else self.num_samples, error=error, what=f"reading {name}")
        cd.refuse_empty_shards(counts, f"reading {name}", name)
        self.total_samples = int(sum(counts))

    def _read(self, data: Data) -> None:
        name = self.name
        if _is_pair(data):
            self._source: Iterable = [tuple(data)]
        elif isinstance(data, Iterator):
            self._source = list(data)
        elif isinstance(data, Iterable) and not isinstance(data, (Tensor, str, bytes)):
            self._source = data
        else:
            raise TypeError(
                f"{name} must be an (X, y) pair of tensors or an iterable of (X, y) batches "
                f"(e.g. a DataLoader); got {type(data).__name__}."
            )
        self.num_samples = 0
        self.num_batches = 0
        first: tuple[Tensor, Tensor] | None = None
        for i, (X, y) in enumerate(self._raw()):
            self.num_samples += X.shape[0]
            self.num_batches += int(X.shape[0] > 0)
            _check_batch(X, y, i, first, name)
            if first is None:
                first = (X, y)
        if self.num_samples == 0 and not self.distributed:
            raise ValueError(f"{name} is empty (no samples); pass at least one (X, y) with N ≥ 1.")

    def _raw(self) -> Iterator[tuple[Tensor, Tensor]]:
        for i, batch in enumerate(self._source):
            if not _is_pair(batch):
                raise TypeError(
                    f"{self.name} batch {i} must be an (X, y) pair of tensors; got "
                    f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of length {len(batch)}'}."
                )
            X, y = batch
            if X.ndim == 0 or (y.ndim > 0 and y.shape[0] != X.shape[0]):
                raise ValueError(
                    f"{self.name} batch {i}: X and y must share the first (sample) dimension; got "
                    f"X {tuple(X.shape)} and y {tuple(y.shape)}."
                )
            yield X, y

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, float]]:
        for X, y in self._raw():
            n = X.shape[0]
            if n == 0:
                continue
            if self.device is not None:
                X, y = X.to(self.device), y.to(self.device)
            yield X, y, n / self.total_samples

    def first(self) -> tuple[Tensor, Tensor]:
        """The first non-empty batch (used to check the loss once)."""
        X, y, _ = next(iter(self))
        return X, y


def as_batches(data: Data | Batches, *, device: torch.device | None = None,
               name: str = "data", distributed: bool | None = None) -> Batches:
    """``data`` as :class:`Batches` (returned unchanged when it already is one)."""
    if isinstance(data, Batches):
        return data
    return Batches(data, device=device, name=name, distributed=distributed)


def is_sharded(data: Data | Batches, distributed: bool | None = None) -> bool:
    """Whether ``data`` will be treated as one rank's shard (see :class:`Batches`)."""
    if distributed is not None:
        return bool(distributed)
    if isinstance(data, Batches):
        return data.distributed
    return cd.world_size() > 1


def _check_batch(X: Tensor, y: Tensor, i: int, first: tuple[Tensor, Tensor] | None, name: str) -> None:
    """Finite values, and every batch shaped and typed like the first (one pass, no compute)."""
    for role, t in (("X", X), ("y", y)):
        if (t.is_floating_point() or t.is_complex()) and t.numel() and not bool(torch.isfinite(t).all()):
            where = tuple(int(k) for k in (~torch.isfinite(t)).nonzero()[0])
            raise ValueError(
                f"{name} batch {i}: {role} contains NaN or infinity (first at index {where}); "
                "remove or impute non-finite values before calling."
            )
    if first is not None:
        for role, t, t0 in (("X", X, first[0]), ("y", y, first[1])):
            # sequence lengths may differ between batches; the number of dimensions, the dtype
            # and (for real-valued inputs) the feature width may not
            width = role == "X" and t.is_floating_point() and t.ndim >= 2 and t.shape[-1] != t0.shape[-1]
            if t.ndim != t0.ndim or t.dtype != t0.dtype or width:
                raise ValueError(
                    f"{name} batch {i}: {role} has shape {tuple(t.shape)} and dtype {t.dtype}, but batch 0 "
                    f"has {tuple(t0.shape)} and {t0.dtype}; every batch must have the same number of "
                    "dimensions, dtype and feature width."
                )


def _is_pair(obj) -> bool:
    return (isinstance(obj, (tuple, list)) and len(obj) == 2
            and isinstance(obj[0], Tensor) and isinstance(obj[1], Tensor))
