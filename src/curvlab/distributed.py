"""Collective helpers: the only place curvlab talks to ``torch.distributed``.

Every torch-based part of curvlab (curvature, pruning calibration, Siamese training) runs the
same code in one process and in many. When no process group is initialized these helpers are
identities (a sum over one rank is the value itself), so callers never branch on the launcher.

A data-parallel statistic is a sum over every rank's shard divided by the global count:

    S = Σ_ranks Σ_{i ∈ shard} s_i,      N = Σ_ranks n_rank,      mean = S / N,

which is exact for unequal shards. :func:`all_reduce_sum` is that sum, in place.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_reduce_sum", "broadcast", "is_distributed", "is_main_process", "rank", "world_size"]


def is_distributed() -> bool:
    """True when a default process group is initialized (even with a single rank)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of ranks of the default group (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank in the default group (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the rank that writes files and shows progress."""
    return rank() == 0


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum ``t`` over every rank, in place, and return it (identity without a process group).

    Tensors on the CPU are reduced as they are (Gloo); a CUDA tensor needs an NCCL group.
    """
    if is_distributed() and world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast(t: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``t`` on every rank with rank ``src``'s value, in place (identity alone)."""
    if is_distributed() and world_size() > 1:
        dist.broadcast(t, src=src)
    return t
