"""curvlab: the second-order view of regularization and optimization in deep learning.

Every part of the library rests on the quadratic model of a loss around a point,

    L(w + dw) - L(w) ≈ gᵀdw + ½ dwᵀ H dw                                   (notes, eq. 1)

and on what follows from choosing H and solving with it: Optimal Brain Surgeon pruning
(§1), least squares and its relatives (§2–§3), dropout as a data-dependent ridge penalty
(§4), gradient descent against Newton's method (§5) and Siamese networks (§6).

``curvlab reproduce`` checks every claim of the derivation notes on real data.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
