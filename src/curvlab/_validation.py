"""Argument checks shared by the whole library.

Each helper checks one thing and raises a ``ValueError`` / ``TypeError`` that names the
argument, shows the offending value, and says how to fix it. Nothing here returns NaN or
lets a raw LAPACK error through.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_in_range",
    "check_positive",
    "check_positive_int",
    "check_square",
    "check_symmetric",
]


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                   dtype=np.float64, allow_empty: bool = False) -> np.ndarray:
    """Return ``x`` as a finite float array, or raise naming ``name``.

    ``ndim`` restricts the number of dimensions (an int or a tuple of allowed values).
    """
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers; got {type(x).__name__} ({exc}).") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got an array of shape {arr.shape}.")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one element.")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` contains NaN or infinity, saying where the first one is."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or infinity (first at index {where}); "
            "remove or impute non-finite values before calling."
        )


def check_positive(value, name: str, *, strict: bool = True) -> float:
    """Return ``value`` as float if it is a real number > 0 (or ≥ 0 when not strict)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    value = float(value)
    if not np.isfinite(value) or (value <= 0 if strict else value < 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}.")
    return value


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}.")
    return int(value)


def check_in_range(value, name: str, low: float, high: float, *,
                   low_inclusive: bool = True, high_inclusive: bool = False) -> float:
    """Return ``value`` as float if it lies in the interval from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    value = float(value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (np.isfinite(value) and above and below):
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name} must lie in {interval}; got {value!r}.")
    return value


def check_square(A: np.ndarray, name: str, *, size: int | None = None) -> None:
    """Raise unless ``A`` is a square 2-D matrix (of side ``size`` when given)."""
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {A.shape}.")
    if size is not None and A.shape[0] != size:
        raise ValueError(f"{name} must be {size}×{size} to match the data; got {A.shape}.")


def check_symmetric(A: np.ndarray, name: str, *, rtol: float = 1e-10) -> None:
    """Raise unless ``A`` is symmetric to relative tolerance ``rtol``."""
    scale = max(float(np.max(np.abs(A))), np.finfo(float).tiny)
    asym = float(np.max(np.abs(A - A.T))) / scale
    if asym > rtol:
        raise ValueError(
            f"{name} must be symmetric; max |{name} - {name}ᵀ| / max |{name}| = {asym:.2e}. "
            f"Pass (A + A.T) / 2 if the asymmetry is round-off."
        )


def check_real(x, name: str) -> None:
    """Raise ``TypeError`` if ``x`` holds complex numbers (a float conversion would drop the
    imaginary part silently)."""
    if isinstance(x, (str, bytes)):
        return
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            return  # not array-like: the conversion that follows reports it
    if isinstance(getattr(dtype, "is_complex", None), bool):   # a torch.dtype
        complex_ = dtype.is_complex
    else:
        complex_ = np.issubdtype(dtype, np.complexfloating)
    if complex_:
        raise TypeError(f"{name} must be real; got complex values (dtype {dtype}). Pass {name}.real "
                        "if the imaginary part is round-off, or split the problem into real and imaginary parts.")
