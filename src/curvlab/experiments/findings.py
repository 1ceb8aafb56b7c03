"""What an experiment returns: findings, each a claim of the notes with its measurement.

A :class:`Finding` names the claim (section and equation number of the notes), states
it in the library's own words, and carries the measured value, what theory predicts,
the tolerance or confidence interval that decided it, a :class:`Verdict`, and figures.

Verdicts
--------
``holds``      the claim, as the notes state it, agrees with the measurement.
``fails``      it does not (or the experiment could not be run).
``corrected``  the notes' form fails and the corrected form (DESIGN.md) holds — both
               were measured, and the finding carries both.
"""

from __future__ import annotations

import enum
import io
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Figure", "Finding", "Verdict", "check", "judge_correction", "new_figure"]


class Verdict(str, enum.Enum):
    HOLDS = "holds"
    FAILS = "fails"
    CORRECTED = "corrected"

    @property
    def ok(self) -> bool:
        """True for the verdicts that let ``curvlab reproduce`` exit with status 0."""
        return self is not Verdict.FAILS


def check(ok: bool) -> Verdict:
    """``holds`` if ``ok`` else ``fails``."""
    return Verdict.HOLDS if bool(ok) else Verdict.FAILS


def judge_correction(notes_form_holds: bool, corrected_form_holds: bool) -> Verdict:
    """Verdict for a claim where the notes' equation is wrong and a corrected form exists.

    ``corrected`` needs both measurements: the notes' form fails *and* the corrected form
    holds. If both hold the measurement cannot tell them apart and the verdict is
    ``holds``; if the corrected form fails, the claim ``fails``.
    """
    if not corrected_form_holds:
        return Verdict.FAILS
    return Verdict.HOLDS if notes_form_holds else Verdict.CORRECTED


@dataclass(frozen=True)
class Figure:
    """A PNG image with a file-safe ``name`` and a one-sentence ``caption``."""

    name: str
    caption: str
    png: bytes = field(repr=False)

    @classmethod
    def from_matplotlib(cls, fig, name: str, caption: str, *, dpi: int = 110) -> "Figure":
        """Render a :class:`matplotlib.figure.Figure` (see :func:`new_figure`) to PNG."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        return cls(name=name, caption=caption, png=buf.getvalue())


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (6.0, 4.0)):
    """A matplotlib figure and its axes, without pyplot (no global state, no GUI backend).

    Returns ``(fig, axes)``; ``axes`` is a single Axes when ``nrows == ncols == 1``.
    """
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols)
    return fig, axes


Value = float | int | str


@dataclass(frozen=True)
class Finding:
    """One checked claim of the notes.

    Attributes
    ----------
    section : the section of the notes, "1" … "6".
    ref : where the claim is, e.g. ``"§2.2, eq. (13)"``.
    claim : the claim in the library's own words.
    measured, predicted : what was measured and what theory predicts (a number, or a
        short string when the quantity is not one number).
    tolerance : the rule that decided the verdict (a tolerance or a confidence interval).
    verdict : see :class:`Verdict`.
    equation : the claim as an equation (the corrected form when ``notes_form`` is set).
    notes_form : the notes' own form of the equation when it is wrong.
    correction : for a claim the notes get wrong, one sentence a reader sees first: what was
        wrong, what holds instead, and the measurement that tells them apart.
    details : further numbers, JSON-serializable (tables, intervals, settings).
    figures : plots backing the finding.
    """

    section: str
    ref: str
    claim: str
    measured: Value
    predicted: Value
    tolerance: str
    verdict: Verdict
    equation: str = ""
    notes_form: str = ""
    correction: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    figures: tuple[Figure, ...] = ()

    def __post_init__(self):
        if not isinstance(self.verdict, Verdict):
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        for label in ("measured", "predicted"):
            value = getattr(self, label)
            if isinstance(value, float) and not math.isfinite(value):
                # A non-finite measurement is a result to report, not a crash: keep it as text.
                object.__setattr__(self, label, repr(value))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; figures are listed by name (the PNGs are written beside it)."""
        return {
            "section": self.section,
            "ref": self.ref,
            "claim": self.claim,
            "equation": self.equation,
            "notes_form": self.notes_form,
            "correction": self.correction,
            "measured": _jsonable(self.measured),
            "predicted": _jsonable(self.predicted),
            "tolerance": self.tolerance,
            "verdict": self.verdict.value,
            "details": _jsonable(self.details),
            "figures": [{"name": f.name, "caption": f.caption} for f in self.figures],
        }


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain JSON types; non-finite floats to strings."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    return value
