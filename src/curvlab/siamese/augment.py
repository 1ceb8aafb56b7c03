"""Augmentation of small square images (8×8 digits) for Siamese training.

:func:`shift_augment` moves each image by an integer offset in [−s, s]² (zero fill) and
optionally adds Gaussian pixel noise: the cheapest label-preserving change of a digit,
which makes an encoder invariant to where the digit sits in the frame.

Example
-------
>>> import torch
>>> x = torch.rand(4, 64)
>>> shift_augment(x, torch.Generator().manual_seed(0)).shape
torch.Size([4, 64])
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from .._validation import check_positive, check_positive_int

__all__ = ["random_shift", "shift_augment"]


def random_shift(x: torch.Tensor, generator: torch.Generator, *, side: int = 8, max_shift: int = 1,
                 noise: float = 0.0, scale: float = 0.0) -> torch.Tensor:
    """Shift each (flattened, ``side²``) image by a random integer offset; add noise / scaling.

    ``scale`` > 0 also applies a random zoom in [1 − scale, 1 + scale] (bilinear).
    """
    B = x.shape[0]
    img = x.reshape(B, 1, side, side)                                  # (B, side²) → (B, 1, side, side)
    if scale > 0:
        s = 1 + (torch.rand(B, generator=generator) * 2 - 1) * scale   # (B,)
        theta = torch.zeros(B, 2, 3, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
        grid = F.affine_grid(theta, list(img.shape), align_corners=False)
        img = F.grid_sample(img, grid, align_corners=False, padding_mode="zeros")
    pad = max_shift
    padded = F.pad(img, (pad, pad, pad, pad))                          # (B, 1, side + 2p, side + 2p)
    dy = torch.randint(0, 2 * pad + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (B,), generator=generator)
    rows = (dy[:, None] + torch.arange(side)[None]).clamp(max=side + 2 * pad - 1)  # (B, side)
    cols = (dx[:, None] + torch.arange(side)[None])
    out = padded[torch.arange(B)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]  # (B, side, side)
    out = out.reshape(B, side * side)
    if noise > 0:
        out = out + noise * torch.randn(out.shape, generator=generator, dtype=out.dtype)
    return out


def shift_augment(x: torch.Tensor, generator: torch.Generator, *, side: int = 8, max_shift: int = 1,
                  noise: float = 0.0, scale: float = 0.0) -> torch.Tensor:
    """:func:`random_shift` with checked arguments (use ``functools.partial`` to fix them)."""
    check_positive_int(side, "side", minimum=2)
    check_positive_int(max_shift, "max_shift", minimum=0)
    check_positive(noise, "noise", strict=False)
    check_positive(scale, "scale", strict=False)
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x[0].numel() != side * side:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a batch of side × side = {side * side} pixel images (B, {side * side}); "
                         f"got {shape}. Pass side= to match the images.")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}.")
    return random_shift(x, generator, side=side, max_shift=max_shift, noise=noise, scale=scale)


def make_augment(**kwargs) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """``shift_augment`` with fixed keyword arguments, for ``train(augment=...)``."""
    return partial(shift_augment, **kwargs)
