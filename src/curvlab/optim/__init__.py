"""§5 of the notes: gradient descent against Newton's method.

:class:`Quadratic` gives the exact iterates of both methods on L(ω) = ½ (ω − ω*)ᵀH(ω − ω*).
"""

from .quadratic import Quadratic
from .trajectory import Trajectory

__all__ = ["Quadratic", "Trajectory"]
