"""§5 of the notes: gradient descent against Newton's method.

:class:`Quadratic` gives the exact iterates of both methods on L(ω) = ½ (ω − ω*)ᵀH(ω − ω*);
:func:`gradient_descent` and :func:`newton` run them on a torch model and loss.
"""

from .network import NetworkTrajectory, gradient_descent, newton
from .quadratic import Quadratic
from .trajectory import Trajectory

__all__ = ["NetworkTrajectory", "Quadratic", "Trajectory", "gradient_descent", "newton"]
