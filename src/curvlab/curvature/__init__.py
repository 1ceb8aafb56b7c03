"""The H of everything: Hessian-vector products, exact Hessians, Fisher, spectrum.

* :class:`HessianOperator` — v ↦ Hv (or the Gauss–Newton Gv) over a whole data set.
* :func:`dense_hessian` — the exact P×P Hessian for small models.
* :func:`per_sample_grads`, :func:`empirical_fisher` — per-sample gradients via ``vmap``.
* :func:`flatten`, :func:`unflatten`, :func:`resolve_params` — the flat parameter vector θ.
* :func:`lanczos` — top-k eigenpairs; :func:`hutchinson`, :func:`hutchpp` — trace;
  :func:`slq_density` — spectral density; each reports its Hessian-vector products.
* :func:`max_stable_lr` — 2/λ_max with its accuracy; :class:`SharpnessTracker` — a
  training callback recording λ_max.

Other modules of this package (``inverse``, ``layer_hessian``, ``gauss_newton``,
``output_sensitivity``) are imported by full path, e.g. ``from curvlab.curvature.inverse import ...``.
"""

from .data import Batches, as_batches
from .dense import dense_hessian
from .density import SpectralDensity, slq_density
from .fisher import empirical_fisher, per_sample_grads
from .hvp import HessianOperator
from .lanczos import LanczosResult, lanczos
from .objective import Objective
from .operator import as_operator
from .params import flatten, num_params, resolve_params, unflatten
from .stability import SharpnessTracker, StableLR, max_stable_lr, sharpness
from .trace import TraceEstimate, hutchinson, hutchpp

__all__ = [
    "Batches",
    "HessianOperator",
    "LanczosResult",
    "Objective",
    "SharpnessTracker",
    "SpectralDensity",
    "StableLR",
    "TraceEstimate",
    "as_batches",
    "as_operator",
    "dense_hessian",
    "empirical_fisher",
    "flatten",
    "hutchinson",
    "hutchpp",
    "lanczos",
    "max_stable_lr",
    "num_params",
    "per_sample_grads",
    "resolve_params",
    "sharpness",
    "slq_density",
    "unflatten",
]
