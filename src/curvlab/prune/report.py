"""What a pruning call returns: per-layer and total sparsity, the predicted and the actual
loss increase of every round, each step's OBS cost, and the settings that produced them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

__all__ = ["LayerRecord", "PruningReport", "RoundRecord"]


@dataclass(frozen=True)
class LayerRecord:
    """One pruned parameter tensor: ``name`` (e.g. ``"0.weight"``), its size and how many
    of its entries are zero in the mask."""

    name: str
    numel: int
    pruned: int

    @property
    def sparsity(self) -> float:
        return self.pruned / self.numel if self.numel else 0.0


@dataclass(frozen=True)
class RoundRecord:
    """One pruning round (curvature computed once, then weights removed by OBS).

    predicted_increase : Σ of the OBS costs ½ w_q²/[H⁻¹]_qq of the round (eq. (8)) — the
        quadratic model's forecast of the loss increase.
    actual_increase : the measured loss change on the calibration data over the round.
    """

    target_sparsity: float
    removed: int
    loss_before: float
    loss_after: float
    predicted_increase: float
    seconds: float

    @property
    def actual_increase(self) -> float:
        return self.loss_after - self.loss_before

    @property
    def underprediction(self) -> float:
        """actual / predicted increase (> 1: the quadratic model is optimistic)."""
        return self.actual_increase / self.predicted_increase if self.predicted_increase > 0 else float("nan")


@dataclass(frozen=True)
class PruningReport:
    """The outcome of :func:`curvlab.prune.prune_global` (or any pruning routine of §1)."""

    method: str
    settings: dict[str, Any]
    layers: tuple[LayerRecord, ...]
    rounds: tuple[RoundRecord, ...] = ()
    step_cost: torch.Tensor = field(default_factory=lambda: torch.zeros(0), repr=False)
    seconds: float = 0.0

    @property
    def total_sparsity(self) -> float:
        n = sum(layer.numel for layer in self.layers)
        return sum(layer.pruned for layer in self.layers) / n if n else 0.0

    @property
    def sparsity_per_layer(self) -> dict[str, float]:
        return {layer.name: layer.sparsity for layer in self.layers}

    @property
    def predicted_increase(self) -> float:
        return sum(r.predicted_increase for r in self.rounds)

    @property
    def actual_increase(self) -> float:
        return sum(r.actual_increase for r in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (step costs summarized by their count and sum)."""
        return {
            "method": self.method,
            "settings": dict(self.settings),
            "total_sparsity": self.total_sparsity,
            "layers": [dict(asdict(layer), sparsity=layer.sparsity) for layer in self.layers],
            "rounds": [dict(asdict(r), actual_increase=r.actual_increase) for r in self.rounds],
            "steps": int(self.step_cost.numel()),
            "predicted_increase": self.predicted_increase,
            "actual_increase": self.actual_increase,
            "seconds": self.seconds,
        }

    def __str__(self) -> str:
        lines = [f"{self.method}: total sparsity {self.total_sparsity:.1%} in {self.seconds:.1f} s"]
        lines += [f"  {layer.name:<30} {layer.pruned:>8}/{layer.numel:<8} {layer.sparsity:6.1%}"
                  for layer in self.layers]
        for i, r in enumerate(self.rounds):
            lines.append(f"  round {i + 1}: → {r.target_sparsity:.1%}, loss {r.loss_before:.4g} → "
                         f"{r.loss_after:.4g} (predicted +{r.predicted_increase:.3g}, actual "
                         f"+{r.actual_increase:.3g})")
        return "\n".join(lines)
