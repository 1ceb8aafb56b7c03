"""Collective helpers: the only place curvlab talks to ``torch.distributed``.

Every torch-based part of curvlab (curvature, pruning calibration, Siamese training) runs the
same code in one process and in many. When no process group is initialized these helpers are
identities (a sum over one rank is the value itself), so callers never branch on the launcher.

A data-parallel statistic is a sum over every rank's shard divided by the global count:

    S = Σ_ranks Σ_{i ∈ shard} s_i,      N = Σ_ranks n_rank,      mean = S / N,

which is exact for unequal shards. :func:`all_reduce_sum` is that sum, in place;
:func:`sum_or_raise` is the same sum for a result that a rank may fail to compute.

Failures. A rank that raises while the others wait in a collective would hang them. Two
rules prevent that: (1) every collective that follows code which can fail on one rank only
carries a failure status — :func:`sum_or_raise` one extra number in the reduced buffer,
:func:`exchange` / :func:`stage` / :func:`agree` a status per rank — and after a failure
every rank raises, the failing rank its own exception and the others the same type
(``ValueError`` / ``TypeError``) or :class:`DistributedError`, with the failing rank's
message; (2) a rank that fails outside those points (e.g. at the top of the command line)
posts its message to the group's store (:func:`post_failure`) and leaves; a rank waiting
for it in a collective then fails at once (Gloo sees the closed connection) or after the
group's timeout (:func:`init_from_env`), with a :class:`DistributedError` that repeats the
posted message.

Bad input is refused before any work: :func:`agree` checks that every rank passes the same
model (:func:`signature`: parameter names, shapes, dtypes) and options, and
:func:`check_shards` that no rank's shard is empty.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import math
import numbers
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistributedError", "agree", "all_gather_cat", "all_reduce_sum", "backend_for", "broadcast",
           "check_shards", "exchange", "global_count", "init_from_env", "is_distributed", "is_main_process",
           "launched_by_torchrun", "on_main_process", "post_failure", "print0", "progress_disabled", "raises_on_every_rank", "rank", "rank0_decides",
           "refuse_empty_shards",
           "signature", "stage", "sum_or_raise", "world_size"]


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


# ---------------------------------------------------------------------------------- argument checks
# Checked on every call, with or without a process group, so that a mistake shows in one process
# as it would under torchrun.

def _tensor(t: Any, name: str, what: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: {name} must be a torch.Tensor; got {type(t).__name__}.")
    return t


def _text(value: Any, name: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what}: {name} must be a string naming the operation (for error messages); "
                        f"got {type(value).__name__}.")
    return value


def _count(n: Any, name: str, what: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{what}: {name} must be an integer count of samples; got {type(n).__name__} {n!r}.")
    if n < 0:
        raise ValueError(f"{what}: {name} must be >= 0 (a number of samples); got {n}.")
    return int(n)


def _device(device: Any, name: str, what: str) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"{what}: {name} must be a torch.device or a string such as 'cpu' or 'cuda:0'; "
                        f"got {type(device).__name__}.")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"{what}: {name} {device!r} is not a device ({exc}); pass e.g. 'cpu' or 'cuda:0'.") from None


def _callable(fn: Any, name: str, what: str) -> Callable:
    if not callable(fn):
        raise TypeError(f"{what}: {name} must be callable; got {type(fn).__name__}.")
    return fn


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum ``t`` over every rank, in place, and return it (identity without a process group).

    Tensors on the CPU are reduced as they are (Gloo); a CUDA tensor needs an NCCL group.
    """
    _tensor(t, "t", "all_reduce_sum")
    if is_distributed() and world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast(t: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``t`` on every rank with rank ``src``'s value, in place (identity alone)."""
    _tensor(t, "t", "broadcast")
    if isinstance(src, (bool, np.bool_)) or not isinstance(src, numbers.Integral):
        raise TypeError(f"broadcast: src must be an integer rank; got {type(src).__name__} {src!r}.")
    if not 0 <= src < world_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {world_size()}) (the group has {world_size()} "
                         f"rank(s)); got {src}.")
    src = int(src)
    if is_distributed() and world_size() > 1:
        dist.broadcast(t, src=src)
    return t


def rank0_decides(flag: bool, *, device: torch.device | str = "cpu") -> bool:
    """Rank 0's ``flag`` on every rank (one broadcast of one number; identity alone).

    Iterative methods (Lanczos) decide when to stop from numbers that are identical on every
    rank in exact terms; taking rank 0's decision keeps the ranks in step even if round-off
    (different BLAS threads on different nodes) ever made them differ.
    """
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"rank0_decides: flag must be a bool; got {type(flag).__name__} {flag!r} "
                        "(compare first, e.g. bool(x > tol)).")
    device = _device(device, "device", "rank0_decides")
    if not (is_distributed() and world_size() > 1):
        return bool(flag)
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


# ---------------------------------------------------------------------------------- counts, gathers

def global_count(n: int, *, device: torch.device | str = "cpu") -> int:
    """N = Σ_ranks n_rank, the global number of samples (``n`` alone without a process group)."""
    n = _count(n, "n", "global_count")
    device = _device(device, "device", "global_count")
    if not (is_distributed() and world_size() > 1):
        return int(n)
    t = torch.tensor([int(n)], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return int(t.item())


def all_gather_cat(x: Tensor) -> Tensor:
    """[x_0; x_1; …; x_{k−1}]: every rank's ``x`` concatenated along dim 0, in rank order.

    The first dimension may differ between ranks (the other dimensions must agree). The
    gradient flows through this rank's own slice only: the other ranks' rows are constants
    here, as in CLIP-style in-batch losses, where each rank back-propagates into its own
    encoder calls. Identity without a process group. Cost: one all_gather of the sizes and
    one of max(n_r)·(row size) numbers per rank.
    """
    _tensor(x, "x", "all_gather_cat")
    if x.dim() == 0:
        raise ValueError("all_gather_cat: x must have a first (sample) dimension to concatenate along; "
                         "got a 0-dimensional tensor (use x.reshape(1) for one number).")
    if not (is_distributed() and world_size() > 1):
        return x
    k, r = world_size(), rank()
    n = torch.tensor([x.shape[0]], dtype=torch.int64, device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(k)]
    dist.all_gather(sizes, n)
    sizes = [int(s.item()) for s in sizes]
    n_max = max(sizes)
    padded = x.detach()
    if x.shape[0] < n_max:
        pad = torch.zeros((n_max - x.shape[0], *x.shape[1:]), dtype=x.dtype, device=x.device)
        padded = torch.cat([padded, pad])
    parts = [torch.empty_like(padded) for _ in range(k)]
    dist.all_gather(parts, padded.contiguous())
    parts = [p[:s] for p, s in zip(parts, sizes)]
    parts[r] = x                                   # the local rows keep their graph
    return torch.cat(parts)


# ---------------------------------------------------------------------------------- errors

class DistributedError(RuntimeError):
    """Another rank failed; the message names the rank and repeats its error."""


def _mark(exc: BaseException) -> BaseException:
    # every rank now knows of this failure: outer guards must not exchange again
    exc._curvlab_all_ranks_know = True
    return exc


def _known(exc: BaseException) -> bool:
    return bool(getattr(exc, "_curvlab_all_ranks_know", False))


def exchange(payload: Any = None, *, error: BaseException | None = None, what: str = "") -> list:
    """Every rank's ``payload`` (a list in rank order), or an error raised on every rank.

    The building block of curvlab's failure handling: a rank that failed passes its
    exception as ``error`` instead of a payload, and then *every* rank raises — the failing
    rank its own exception, the others a :class:`ValueError` / :class:`TypeError` (for bad
    input) or :class:`DistributedError` with the failing rank's message. No rank is left
    waiting in a collective. Without a process group: ``[payload]`` (or ``error`` raised).
    """
    if error is not None and not isinstance(error, BaseException):
        raise TypeError(f"exchange: error must be an exception (or None); got {type(error).__name__}.")
    _text(what, "what", "exchange")
    if not (is_distributed() and world_size() > 1):
        if error is not None:
            raise error
        return [payload]
    mine = ("ok", payload) if error is None else ("error", type(error).__name__, str(error))
    every: list = [None] * world_size()
    _collective(lambda: dist.all_gather_object(every, mine), what)
    failed = [(r, e) for r, e in enumerate(every) if e[0] == "error"]
    if not failed:
        return [e[1] for e in every]
    if error is not None:
        raise _mark(error)
    r, (_, kind, message) = failed[0]
    where = f" in {what}" if what else ""
    text = f"rank {r} failed{where}: {kind}: {message}"
    if len(failed) > 1:
        text += f" (ranks {[q for q, _ in failed]} failed)"
    cls = {"ValueError": ValueError, "TypeError": TypeError}.get(kind, DistributedError)
    raise _mark(cls(text))


@contextmanager
def stage(what: str, *, active: bool | None = None) -> Iterator[None]:
    """Run a block; if it raises on any rank, raise on every rank (see :func:`exchange`).

    Every rank exchanges one status at the end of the block, so a block must not end
    half-way through a tensor collective on some ranks only. ``active=False`` makes it a
    plain block (a rank working on local data while a group exists).
    """
    _text(what, "what", "stage")
    if not (active is None or isinstance(active, bool)):
        raise TypeError(f"stage: active must be True, False or None (whenever a group is active); "
                        f"got {type(active).__name__}.")
    if active is None:
        active = is_distributed() and world_size() > 1
    if not active:
        yield
        return
    try:
        yield
    except BaseException as exc:
        if _known(exc) or not isinstance(exc, Exception):
            raise
        exchange(error=exc, what=what)
        raise  # pragma: no cover  (exchange re-raises)
    exchange(what=what)


def raises_on_every_rank(what: str, *, when: Callable[..., bool] | None = None) -> Callable:
    """Decorator: an exception the function raises on one rank is raised on every rank.

    The function's first collective must be an :func:`exchange` (e.g. :func:`agree` on the
    arguments) so that a rank failing before it meets the others there; later collectives
    (:func:`sum_or_raise`) carry their own failure flag. ``when(*args, **kwargs)`` says
    whether a call is collective (e.g. only for a distributed operator); default: whenever
    a group of more than one rank is active.
    """
    _text(what, "what", "raises_on_every_rank")
    if when is not None:
        _callable(when, "when", "raises_on_every_rank")

    def decorate(fn: Callable) -> Callable:
        _callable(fn, "the decorated object", "raises_on_every_rank")
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not (is_distributed() and world_size() > 1) or (when is not None and not when(*args, **kwargs)):
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if _known(exc):
                    raise
                exchange(error=exc, what=what)
                raise  # pragma: no cover
        return wrapper
    return decorate


def post_failure(exc: BaseException) -> None:
    """Leave this rank's error in the process group's store before the rank ends.

    For errors outside any guarded collective (e.g. at the top of a command line): a rank
    still waiting in a collective for this one gets a :class:`DistributedError` that repeats
    this message (see :func:`_collective`). Best effort; a no-op without a group.
    """
    if not isinstance(exc, BaseException):
        raise TypeError(f"post_failure: exc must be the exception to report; got {type(exc).__name__}.")
    if not is_distributed():
        return
    try:
        store = dist.distributed_c10d._get_default_store()
        store.set(f"curvlab/failure/{rank()}", f"{type(exc).__name__}: {exc}")
    except Exception:  # the store may already be gone; the timeout still ends the others
        pass


def _posted_failures() -> list[str]:
    try:
        store = dist.distributed_c10d._get_default_store()
        keys = [f"curvlab/failure/{r}" for r in range(world_size()) if r != rank()]
        return [f"rank {k.rsplit('/', 1)[1]} failed: {store.get(k).decode()}" for k in keys if store.check([k])]
    except Exception:
        return []


def _collective(op: Callable[[], Any], what: str) -> Any:
    """Run one collective; if it breaks (a peer ended, or the group's timeout passed), raise a
    :class:`DistributedError` naming ``what`` and any message a failed rank posted."""
    try:
        return op()
    except RuntimeError as exc:
        posted = _posted_failures()
        detail = "; ".join(posted) if posted else f"another rank ended or timed out ({exc})"
        raise _mark(DistributedError(f"{what or 'a collective'} could not complete: {detail}")) from exc


def sum_or_raise(compute: Callable[[], Tensor], *, like: Tensor, what: str = "") -> Tensor:
    """Σ_ranks ``compute()`` with one all_reduce, or an error raised on every rank.

    ``like`` gives the result's shape, dtype and device (a rank whose ``compute`` raised has
    no result). The reduced buffer carries one extra number, a failure flag, so the cost
    stays one all_reduce of (numel + 1) numbers; only after a failure is a second collective
    (:func:`exchange` of the messages) needed. Without a process group: ``compute()``.
    ``compute()`` must return a tensor of ``like``'s number of elements (``ValueError`` otherwise,
    with or without a group).
    """
    _callable(compute, "compute", "sum_or_raise")
    _tensor(like, "like", "sum_or_raise")
    _text(what, "what", "sum_or_raise")

    def checked() -> Tensor:
        out = compute()
        if not isinstance(out, Tensor) or out.numel() != like.numel():
            got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"sum_or_raise{' in ' + what if what else ''}: compute() must return a tensor of "
                             f"like's shape {tuple(like.shape)}; got {got}.")
        return out

    if not (is_distributed() and world_size() > 1):
        return checked()
    error = None
    buf = torch.zeros(like.numel() + 1, dtype=like.dtype, device=like.device)   # (numel + 1,)
    try:
        buf[:-1] = checked().reshape(-1)
    except Exception as exc:
        if _known(exc):  # raised on every rank at the same collective inside compute()
            raise
        error = exc
        buf[-1] = 1
    _collective(lambda: dist.all_reduce(buf, op=dist.ReduceOp.SUM), what)
    if buf[-1] != 0 or error is not None:
        exchange(error=error, what=what)
    return buf[:-1].view(like.shape)


# ---------------------------------------------------------------------------------- agreement

def _key(value: Any) -> Any:
    """A comparable stand-in: tensors and generators by content digest, the rest as they are."""
    if isinstance(value, torch.Generator):
        value = value.get_state()
    if isinstance(value, Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        digest = hashlib.sha1(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"").hexdigest()[:12]
        return f"tensor{tuple(t.shape)}:{t.dtype}:{digest}"
    if isinstance(value, dict):
        return {k: _key(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_key(v) for v in value)
    return value


def agree(what: str, **values: Any) -> None:
    """Raise ``ValueError`` on every rank unless every rank passed equal ``values``.

    One :func:`exchange`; the message names each disagreeing value and what each rank has,
    e.g. ``ranks disagree on lanczos's tol: rank 0 has 1e-06, rank 1 has 0.001``. Tensors
    and generators compare by a digest of their contents. No-op without a process group.
    """
    _text(what, "what", "agree")
    if not (is_distributed() and world_size() > 1):
        return
    mine = {k: _key(v) for k, v in values.items()}
    every = exchange(mine, what=what)
    for name in mine:
        seen = [e.get(name) for e in every]
        if any(s != seen[0] for s in seen[1:]):
            name, seen = _first_difference(name, seen)
            per_rank = ", ".join(f"rank {r} has {s!r}" for r, s in enumerate(seen))
            raise _mark(ValueError(
                f"ranks disagree on {what}'s {name}: {per_rank}. Every rank must call {what} with the "
                "same model and options; only the data shards differ."))


def _first_difference(name: str, seen: list) -> tuple[str, list]:
    """Narrow a disagreement to its first differing key (dicts) or entry (equal-length lists)."""
    if all(isinstance(s, dict) for s in seen):
        for key in seen[0].keys() | set().union(*seen[1:]):
            values = [s.get(key) for s in seen]
            if any(v != values[0] for v in values[1:]):
                return _first_difference(f"{name}[{key!r}]", values)
    if all(isinstance(s, (list, tuple)) for s in seen) and len({len(s) for s in seen}) == 1:
        for i in range(len(seen[0])):
            values = [s[i] for s in seen]
            if any(v != values[0] for v in values[1:]):
                return f"{name} (entry {i})", values
    return name, seen


def signature(model_or_params: nn.Module | Iterable[Tensor]) -> list[tuple]:
    """The parameters' (name, shape, dtype) — what every rank's model must agree on."""
    if isinstance(model_or_params, nn.Module):
        items = list(model_or_params.named_parameters())
    else:
        if isinstance(model_or_params, (Tensor, str, bytes)) or not isinstance(model_or_params, Iterable):
            raise TypeError(f"signature: model_or_params must be an nn.Module or an iterable of tensors (e.g. "
                            f"model.parameters()); got {type(model_or_params).__name__}.")
        items = [(str(i), p) for i, p in enumerate(model_or_params)]
        bad = [i for i, (_, p) in enumerate(items) if not isinstance(p, Tensor)]
        if bad:
            raise TypeError(f"signature: model_or_params must hold tensors only; entry {bad[0]} is "
                            f"{type(items[bad[0]][1]).__name__}.")
    return [(n, tuple(p.shape), str(p.dtype)) for n, p in items]


def check_shards(what: str, n_local: int, name: str = "data") -> list[int]:
    """Every rank's sample count; ``ValueError`` on every rank if some shard is empty."""
    _text(what, "what", "check_shards")
    _text(name, "name", "check_shards")
    counts = exchange(_count(n_local, "n_local", "check_shards"), what=what)
    refuse_empty_shards(counts, what, name)
    return counts


def refuse_empty_shards(counts: list[int], what: str, name: str = "data") -> None:
    """``ValueError`` (on every rank: ``counts`` is the exchanged list) if a rank's shard is empty."""
    _text(what, "what", "refuse_empty_shards")
    if not isinstance(counts, (list, tuple)):
        raise TypeError(f"refuse_empty_shards: counts must be a list of every rank's sample count; "
                        f"got {type(counts).__name__}.")
    for c in counts:
        _count(c, "counts (each entry)", "refuse_empty_shards")
    empty = [r for r, c in enumerate(counts) if c == 0]
    if empty:
        raise _mark(ValueError(
            f"{what}: {name} is empty on rank(s) {empty} (samples per rank {counts}); give every rank at "
            "least one sample (e.g. DistributedSampler(..., drop_last=False) with len(data) ≥ world size)."))


# ---------------------------------------------------------------------------------- launch and output

def backend_for(device: torch.device | str | None) -> str:
    """``"cpu:gloo,cuda:nccl"`` for a CUDA device (where NCCL is built), ``"gloo"`` otherwise.

    With both, each collective runs on the backend of its tensors' device: NCCL for a model on
    the GPU, Gloo for CPU statistics and the small status exchanges.
    """
    dev = _device(device, "device", "backend_for") if device is not None else torch.device("cpu")
    return "cpu:gloo,cuda:nccl" if dev.type == "cuda" and dist.is_nccl_available() else "gloo"


def launched_by_torchrun() -> bool:
    """True when the environment of ``torchrun`` (RANK, WORLD_SIZE, MASTER_ADDR) is present."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def init_from_env(*, device: torch.device | str | None = None, timeout_s: float = 600.0) -> bool:
    """Initialize the default process group from torchrun's environment; True if it did.

    Backend: NCCL when ``device`` (default: ``cuda:LOCAL_RANK`` if CUDA is available, else
    CPU) is a CUDA device, Gloo otherwise. ``timeout_s`` bounds every collective, so a rank
    that dies without reaching :func:`exchange` ends the others with an error, not a hang.
    Does nothing (returns False) when not launched by torchrun or a group already exists.
    ``CURVLAB_DIST_TIMEOUT`` (seconds) overrides ``timeout_s``.
    """
    if device is not None:
        device = _device(device, "device", "init_from_env")
    env_timeout = os.environ.get("CURVLAB_DIST_TIMEOUT")
    if env_timeout is not None:
        try:
            timeout_s = float(env_timeout)
        except ValueError:
            raise ValueError(f"init_from_env: CURVLAB_DIST_TIMEOUT must be a number of seconds; "
                             f"got {env_timeout!r}.") from None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real):
        raise TypeError(f"init_from_env: timeout_s must be a number of seconds; got {type(timeout_s).__name__}.")
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"init_from_env: timeout_s must be a finite number of seconds > 0 (e.g. 600); "
                         f"got {timeout_s!r}.")
    if not launched_by_torchrun() or is_distributed():
        return False
    if device is None:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), timeout=datetime.timedelta(seconds=timeout_s))
    return True


def on_main_process(fn: Callable[[], Any], *, what: str = "") -> Any:
    """Run ``fn()`` on rank 0 only (e.g. write the output files); every rank returns its result.

    An exception on rank 0 is raised on every rank (:func:`exchange`), so the other ranks
    never wait for output that will not come. The result must pickle. Alone: ``fn()``.
    """
    _callable(fn, "fn", "on_main_process")
    _text(what, "what", "on_main_process")
    if not (is_distributed() and world_size() > 1):
        return fn()
    result, error = None, None
    if is_main_process():
        try:
            result = fn()
        except Exception as exc:
            error = exc
    return exchange(result, error=error, what=what)[0]


def print0(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only (the rank that writes output)."""
    if is_main_process():
        print(*args, **kwargs)


def progress_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` flag, with every rank but 0 silent: one bar.

    ``None`` (a bar only on a TTY) maps to tqdm's ``disable=None``.
    """
    if not (progress is None or isinstance(progress, (bool, np.bool_))):
        raise TypeError(f"progress must be True, False or None (a bar only on a terminal); "
                        f"got {type(progress).__name__} {progress!r}.")
    if not is_main_process():
        return True
    return None if progress is None else not progress
