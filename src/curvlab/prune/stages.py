"""The stages of :func:`~curvlab.prune.driver.prune_model`, one function each.

The driver is a loop over the model's blocks (the decoder layers of an LLM, the encoder layers
of BERT)::

    calls = capture_block_inputs(model, blocks, batches)         # 1. inputs of every block
    for i, block in enumerate(blocks):
        stats = collect_statistics(block, layers, calls.of(i))   # 2. H, μ per layer (reduced over ranks)
        split = allocate(W, H, sparsity)                         # 3. per-layer sparsity
        for each layer: result = fit_layer(...)                  # 4. mask and new weights
                        write_layer(module, result, ...)         # 5. into the model, measured
        calls.propagate(i, block)                                # 6. outputs → next block's inputs

Every statistic accumulated over calibration tokens — a layer's H with its token count, its
mean input μ, the block target's cross term G and the output sensitivities c — is a sum over
tokens divided by a count. :func:`reduce_statistics` is the one place these sums and counts
go through :func:`curvlab.distributed.all_reduce_sum`, so that calibration batches spread
over several processes (each rank its own shard) give every rank the same statistics; in one
process it changes nothing.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..curvature.layer_hessian import LayerHessian
from ..distributed import all_reduce_sum, exchange

__all__ = ["BlockCalls", "capture_block_inputs", "reduce_statistics", "restore_in_place"]


class _Captured(Exception):
    """Raised by the capture hook: the rest of the model's forward pass is not needed."""


def as_call(batch: Any) -> tuple[tuple, dict]:
    """A calibration batch as the ``(args, kwargs)`` of one call of the model."""
    if isinstance(batch, Mapping):
        return (), dict(batch)
    if isinstance(batch, Tensor):
        return (batch,), {}
    if isinstance(batch, (tuple, list)):
        return tuple(batch), {}
    raise TypeError(f"calibration batches must be tensors, tuples of tensors or dicts of model inputs; "
                    f"got {type(batch).__name__}.")


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, Tensor) else value


def _hidden_of(out: Any) -> Tensor:
    """A block's output hidden states: the tensor itself (transformers ≥ 5) or the first of a tuple."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _without_cache(model: nn.Module, kwargs: dict) -> dict:
    """``use_cache=False`` for models that take it: a key/value cache filled by the calibration
    passes would grow with every block call (and change what later calls see)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return kwargs
    if "use_cache" in params and "use_cache" not in kwargs:
        return {**kwargs, "use_cache": False}
    return kwargs


@dataclass
class BlockCalls:
    """What every block is called with on each calibration batch.

    ``hidden[b]`` is the current block's hidden-state input on batch b; ``extra[i][b]`` the
    other positional and keyword arguments block i receives from the model on batch b (a
    decoder's causal mask, rotary ``position_embeddings``, ``position_ids``, the cache switched
    off — block-specific where the model gives blocks different masks, e.g. sliding-window
    layers); ``token_masks[b]`` the model's ``attention_mask`` (padding excluded from H).
    When the model is its own single block, ``hidden`` is empty and ``extra[0]`` holds the
    batches as the model's calls.
    """

    hidden: list[Tensor]
    extra: list[list[tuple[tuple, dict]]]
    token_masks: list[Tensor | None]
    by_keyword: bool = False                # hidden states passed as ``hidden_states=`` (not first positional)
    passes: int = 0                         # block passes over the calibration data spent propagating

    def of(self, i: int) -> list[tuple[tuple, dict]]:
        """Block i's calls ``(args, kwargs)``, one per calibration batch."""
        extra = self.extra[min(i, len(self.extra) - 1)]
        if not self.hidden:
            return extra
        if self.by_keyword:
            return [(a, {**k, "hidden_states": h}) for h, (a, k) in zip(self.hidden, extra)]
        return [((h,) + tuple(a), k) for h, (a, k) in zip(self.hidden, extra)]

    @torch.no_grad()
    def propagate(self, i: int, block: nn.Module) -> None:
        """Stage 6: run (the pruned) block i on its inputs; its outputs become block i + 1's."""
        if self.hidden:
            self.hidden = [_hidden_of(block(*a, **k)) for a, k in self.of(i)]
            self.passes += 1


@torch.no_grad()
def capture_block_inputs(model: nn.Module, blocks: Sequence[nn.Module], batches: Sequence[Any],
                         device: torch.device | None = None) -> BlockCalls:
    """Stage 1: the inputs of the first block, and what the model passes every block besides them.

    The model runs on each batch with a pre-hook on every block that records the block's
    arguments. Only the first block computes: while capturing, the later blocks are replaced by
    the identity (their arguments recorded, their weights not used), and the pass stops after
    the last one. So a decoder's causal mask and rotary position embeddings are exactly those
    the model itself builds, whatever the family (LLaMA, Mistral/Qwen2, Gemma, GPT-2, OPT, BERT).
    """
    device = device if device is not None else next(model.parameters()).device
    calls = [as_call(b) for b in batches]
    calls = [(tuple(_to(a, device) for a in args), {k: _to(v, device) for k, v in kw.items()})
             for args, kw in calls]
    token_masks = [kw.get("attention_mask") for _, kw in calls]
    if len(blocks) == 1 and blocks[0] is model:
        return BlockCalls(hidden=[], extra=[calls], token_masks=[None] * len(calls))
    n = len(blocks)
    seen: list[list[tuple[tuple, dict]]] = [[] for _ in range(n)]
    hidden: list[Tensor] = []
    state = {"keyword": False, "tuple_len": 0}

    def pre_hook(i: int):
        def record(module, args, kwargs):
            if args:
                h, rest = args[0], tuple(args[1:])
            else:
                if "hidden_states" not in kwargs:
                    raise ValueError(f"block {i} of the model was called without hidden states; "
                                     "prune a model whose blocks take them first or as hidden_states=.")
                h, kwargs = kwargs["hidden_states"], {k: v for k, v in kwargs.items() if k != "hidden_states"}
                rest, state["keyword"] = (), True
            if i == 0:
                hidden.append(h)
            seen[i].append((rest, dict(kwargs)))
            if i == n - 1:
                raise _Captured
        return record

    def identity(*args, **kwargs):
        h = args[0] if args else kwargs["hidden_states"]
        return (h,) + (None,) * (state["tuple_len"] - 1) if state["tuple_len"] else h

    def note_output(module, args, out):
        state["tuple_len"] = len(out) if isinstance(out, (tuple, list)) else 0

    handles = [b.register_forward_pre_hook(pre_hook(i), with_kwargs=True) for i, b in enumerate(blocks)]
    handles.append(blocks[0].register_forward_hook(note_output))
    for b in blocks[1:]:
        b.forward = identity                             # instance attribute, removed below
    try:
        for args, kwargs in calls:
            before = len(hidden)
            try:
                model(*args, **_without_cache(model, kwargs))
            except _Captured:
                pass
            if len(hidden) != before + 1 or any(len(s) != len(hidden) for s in seen):
                raise ValueError("the model did not call each of its blocks once per calibration batch; "
                                 "prune a model whose forward runs its blocks in order.")
    finally:
        for h in handles:
            h.remove()
        for b in blocks[1:]:
            b.__dict__.pop("forward", None)
    # blocks that get the same arguments as the first share its list (the usual case)
    extra = [seen[0]]
    for i in range(1, n):
        same = all(len(ra) == len(rb) and all(x is y for x, y in zip(ra, rb))
                   and ka.keys() == kb.keys() and all(ka[k] is kb[k] for k in ka)
                   for (ra, ka), (rb, kb) in zip(seen[i], seen[0]))
        extra.append(extra[0] if same else seen[i])
    return BlockCalls(hidden=hidden, extra=extra, token_masks=token_masks, by_keyword=state["keyword"])


def reduce_statistics(hessians: Mapping[str, LayerHessian] = (), *, sums: Sequence[Tensor] = (),
                      counts: Tensor | None = None) -> None:
    """Sum the calibration statistics over ranks, in place (identity in one process).

    Each :class:`~curvlab.curvature.layer_hessian.LayerHessian` holds averages H = 2XXᵀ/N and
    μ = X1/N over its N local rows; they are turned into sums (N·H, N·μ), summed with N over
    ranks, and divided by the global N — exact for shards of unequal size. ``sums`` are other
    token sums (a cross term, sensitivity sums), reduced as they are, and ``counts`` their
    token counts.
    """
    exchange(what="the calibration pass")   # a rank that failed in its pass meets the others here: its error everywhere
    for h in dict(hessians).values():
        n = torch.tensor([float(h.n_samples)], dtype=torch.float64)
        h.H.mul_(h.n_samples)
        h.mean.mul_(h.n_samples)
        all_reduce_sum(h.H)
        all_reduce_sum(h.mean)
        all_reduce_sum(n)
        total = int(n.item())
        if total:
            h.H.div_(total)
            h.mean.div_(total)
        h.n_samples = total
    for s in sums:
        all_reduce_sum(s)
    if counts is not None:
        all_reduce_sum(counts)


@contextlib.contextmanager
def restore_in_place(model: nn.Module):
    """Run a block that prunes ``model``; on any exception put it back as it was and re-raise.

    In place: every module and every Parameter / buffer stays the same object (a reference
    taken before, or an optimizer built on the model, still points into it); their values are
    copied back, and the pruning reparametrization (``weight_orig``, ``weight_mask``, the
    forward pre-hook) is undone.
    """
    saved = []
    for m in model.modules():
        saved.append((m, dict(m._parameters), dict(m._buffers), dict(m._forward_pre_hooks), set(vars(m)),
                      {k: p.detach().clone() for k, p in m._parameters.items() if p is not None},
                      {k: b.clone() for k, b in m._buffers.items() if b is not None}))
    try:
        yield model
    except BaseException:
        with torch.no_grad():
            for m, params, buffers, hooks, attrs, p_values, b_values in saved:
                for extra in set(vars(m)) - attrs:
                    delattr(m, extra)
                for name in [k for k in vars(m) if k in params or k in buffers]:
                    del m.__dict__[name]                  # e.g. a plain `weight` set by the pruning hook
                m._parameters.clear()
                m._parameters.update(params)
                m._buffers.clear()
                m._buffers.update(buffers)
                m._forward_pre_hooks.clear()
                m._forward_pre_hooks.update(hooks)
                for k, v in p_values.items():
                    params[k].data.copy_(v)
                for k, v in b_values.items():
                    buffers[k].copy_(v)
        raise

