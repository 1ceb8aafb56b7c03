"""What a pruning call returns: per-layer and total sparsity, the predicted and the actual
loss increase of every round, each step's OBS cost, and the settings that produced them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

__all__ = ["LayerRecord", "PruningReport", "RoundRecord", "format_layer_table", "format_prune_markdown"]


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


# ---------------------------------------------------------------- prune_model's report as text

#: the per-layer columns of ``PruneReport.to_dict()["layers"]``: (key, heading, format)
LAYER_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "layer", "s"),
    ("shape", "shape", "shape"),
    ("sparsity", "sparsity", ".3f"),
    ("predicted_error", "predicted error", ".4g"),
    ("calibration_error", "calibration error", ".4g"),
    ("heldout_error", "held-out error", ".4g"),
    ("time_s", "time (s)", ".2f"),
)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "shape":
        return "×".join(str(int(v)) for v in value)
    if fmt == "s":
        return str(value)
    return format(float(value), fmt)


def format_layer_table(layers: list[dict[str, Any]], *, markdown: bool = False) -> str:
    """The per-layer rows of a ``PruneReport.to_dict()`` as an aligned text table, or as a
    Markdown table (``markdown=True``). Columns that no layer has are left out; every value is
    printed in full (no truncation)."""
    if not isinstance(layers, (list, tuple)) or not all(isinstance(layer, dict) for layer in layers):
        raise TypeError("layers must be a list of dicts, e.g. PruneReport.to_dict()['layers']; "
                        f"got {type(layers).__name__}.")
    cols = [c for c in LAYER_COLUMNS if any(layer.get(c[0]) is not None for layer in layers)]
    rows = [[_cell(layer.get(key), fmt) for key, _, fmt in cols] for layer in layers]
    heads = [head for _, head, _ in cols]
    if markdown:
        align = ["---" if fmt in ("s", "shape") else "---:" for _, _, fmt in cols]
        return "\n".join("| " + " | ".join(r) + " |" for r in [heads, align, *rows])
    widths = [max(len(x) for x in column) for column in zip(heads, *rows)]
    left = [fmt in ("s", "shape") for _, _, fmt in cols]

    def line(r):
        return "  ".join(x.ljust(w) if lft else x.rjust(w) for x, w, lft in zip(r, widths, left)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, rows)])


def format_prune_markdown(summary: dict[str, Any]) -> str:
    """``report.md`` of ``curvlab prune``: the settings, the totals, the held-out evaluation and
    the per-layer table, from ``PruneReport.to_dict()`` (plus the CLI's ``eval`` entry)."""
    if not isinstance(summary, dict):
        raise TypeError(f"summary must be a dict such as PruneReport.to_dict(); got {type(summary).__name__}.")
    def num(key, fmt):
        value = summary.get(key)
        return "—" if value is None or value != value else format(float(value), fmt)   # NaN → —

    lines = [
        f"# Pruning report: {summary.get('method', '?')}, {summary.get('pattern', '?')}",
        "",
        "| quantity | value |",
        "| --- | ---: |",
        f"| target sparsity | {num('sparsity', '.3f')} |",
        f"| overall sparsity reached | {num('overall_sparsity', '.4f')} |",
        f"| layers | {len(summary.get('layers', []))} |",
        f"| calibration tokens | {summary.get('n_calibration_tokens', '—')} |",
        f"| mean calibration error ‖WX − ŴX‖²/‖WX‖² | {num('mean_calibration_error', '.4g')} |",
        f"| mean held-out error | {num('mean_heldout_error', '.4g')} |",
        f"| pruning arithmetic (s) | {num('compute_s', '.1f')} |",
        f"| total time (s) | {num('total_s', '.1f')} |",
    ]
    ev = summary.get("eval")
    if ev:
        lines += [f"| held-out texts | {ev['texts']} |",
                  f"| mean cosine, pruned vs dense embeddings | {ev['mean_cosine']:.4f} |",
                  f"| Spearman of pairwise similarities, pruned vs dense | {ev['similarity_spearman']:.4f} |"]
    for domain, ppl in (summary.get("perplexity") or {}).items():
        lines.append(f"| perplexity on {domain} ({ppl['windows']} windows), dense → pruned | "
                     f"{ppl['dense']:.2f} → {ppl['pruned']:.2f} |")
    options = summary.get("options") or {}
    if options:
        lines += ["", "Options: " + ", ".join(f"`{k}={v}`" for k, v in options.items())]
    lines += ["", "## Per layer", "",
              "Errors are relative: ‖WX − ŴX‖² / ‖WX‖² on the calibration (or held-out) inputs of the layer; "
              "*predicted* is the OBS estimate, Σ ½ w_q²/[H⁻¹]_qq, eq. (8) of the notes.", "",
              format_layer_table(summary.get("layers", []), markdown=True), ""]
    return "\n".join(lines)
