"""The record of an iterative method: iterates, losses, and whether it diverged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """Iterates ω⁽⁰⁾ … ω⁽ᵀ⁾ of an optimizer and the loss at each.

    Attributes
    ----------
    method : ``"gd"``, ``"gd-closed-form"``, ``"newton"``, ...
    step_size : ε.
    iterates : (T + 1, d) array; row t is ω⁽ᵗ⁾. Stops early (fewer rows) on divergence.
    losses : (T + 1,) array of L(ω⁽ᵗ⁾).
    diverged : True when the iterates blew up (non-finite, or grew by more than
        ``divergence_factor`` over the start); the run then stops, and the last finite
        iterate is the last row — never NaN.
    """

    method: str
    step_size: float
    iterates: np.ndarray
    losses: np.ndarray
    diverged: bool = False

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(method={self.method!r}, step_size={self.step_size:g}, steps={self.steps}, "
                f"d={self.iterates.shape[1]}, loss {self.losses[0]:.6g} → {self.losses[-1]:.6g}, "
                f"diverged={self.diverged}{self._repr_extra()})")

    def _repr_extra(self) -> str:
        return ""

    @property
    def steps(self) -> int:
        """Number of steps taken (rows − 1)."""
        return self.iterates.shape[0] - 1

    @property
    def final(self) -> np.ndarray:
        return self.iterates[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])
