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


# ------------------------------------------------------------------------------------------
# Data checks for the estimators (linear, dropout): run *before* scikit-learn's
# ``validate_data`` so that each failure names the argument's role and the fix, while the
# phrases scikit-learn's own estimator checks look for ("Complex data not supported",
# "Reshape your data", "0 feature(s)") stay in the message.
_ROLES = {"X": "the design matrix, one row per sample", "y": "the targets, one per row of X"}


def check_not_complex(x, name: str) -> None:
    """Raise if ``x`` holds complex numbers: converting to float would drop the imaginary part."""
    if isinstance(x, (complex, np.complexfloating)):
        arr = np.asarray(x)
    elif hasattr(x, "dtype") and not isinstance(x, np.ndarray):  # DataFrame, tensors, …
        arr = np.asarray(x) if getattr(x.dtype, "kind", "O") in "cO" else None
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError):
            return  # not array-like: the numeric conversion that follows raises
    if arr is not None and (arr.dtype.kind == "c" or (
            arr.dtype == object and arr.size
            and any(isinstance(v, (complex, np.complexfloating)) for v in arr.ravel()[:1000]))):
        raise ValueError(
            f"Complex data not supported: {name} has complex values, and converting them to "
            f"float would silently drop the imaginary part. Pass real data: {name}.real if the "
            f"imaginary part is round-off, or the real and imaginary parts as separate columns."
        )


def as_real_array(x, name: str, **kwargs) -> np.ndarray:
    """:func:`as_float_array` that refuses complex input instead of discarding its imaginary part."""
    check_not_complex(x, name)
    return as_float_array(x, name, **kwargs)


def check_data(x, name: str, *, ndim: int | tuple[int, ...] = 2, min_rows: int = 1,
               n_rows: int | None = None, finite: bool = False):
    """Check an estimator's data argument; return it as an array (not copied, not converted).

    Raises ValueError / TypeError naming ``name`` for: complex values, non-numeric values
    (strings), the wrong number of dimensions, fewer than ``min_rows`` rows, zero columns, a
    row count different from ``n_rows`` (the rows of X), and, with ``finite``, NaN or inf.
    Sparse matrices pass through (scikit-learn's validation handles them).
    """
    import scipy.sparse

    if scipy.sparse.issparse(x):
        return x
    role = _ROLES.get(name, name)
    if x is None:
        raise ValueError(f"{name} ({role}) is None: this estimator requires {name} to be passed, "
                         f"but the target {name} is None." if name == "y" else
                         f"{name} ({role}) is None; pass an array.")
    check_not_complex(x, name)
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} ({role}) must be a rectangular array of numbers; got {exc}.") from None
    if arr.dtype.kind in "USOVMm" and arr.size:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{name} ({role}) must be numeric; converting it to float failed ({exc}). Encode "
                f"text or categorical columns as numbers first (e.g. sklearn.preprocessing."
                f"OneHotEncoder) and pass a float array."
            ) from None
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        hint = ""
        if arr.ndim == 1 and 2 in allowed:
            hint = (" Reshape your data either using array.reshape(-1, 1) if it has a single "
                    "feature or array.reshape(1, -1) if it contains a single sample.")
        elif arr.ndim > max(allowed):
            hint = f" Flatten the trailing axes (e.g. {name}.reshape(len({name}), -1))."
        raise ValueError(f"{name} ({role}) must be {want}; got {arr.ndim}-D with shape "
                         f"{arr.shape}.{hint}")
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValueError(f"{name} ({role}) has {arr.shape[0]} sample(s) (shape {arr.shape}); at "
                         f"least {min_rows} needed: pass more rows.")
    if arr.ndim == 2 and arr.shape[1] == 0 and 2 in allowed and name == "X":
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
                         f"is required. {name} has no columns: pass at least one feature.")
    if n_rows is not None and arr.ndim >= 1 and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_rows}: pass one entry of "
                         f"{name} per row of X (found inconsistent numbers of samples).")
    if finite and arr.dtype.kind in "fiub":
        check_finite_role(arr, name)
    return arr


def check_finite_role(arr: np.ndarray, name: str) -> None:
    """NaN / inf in ``arr`` → ValueError naming the role, the first position and the remedy."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    bad = tuple(int(i) for i in np.argwhere(~finite)[0])
    what = "NaN" if np.isnan(arr[bad]) else "infinity"
    raise ValueError(
        f"{name} ({_ROLES.get(name, name)}) contains {what} (first at index {bad}). Remove or "
        f"impute the missing or non-finite values (e.g. sklearn.impute.SimpleImputer) before "
        f"fitting; estimators here do not accept NaN or inf."
    )


def check_sample_weight_input(sample_weight, n_rows: int) -> np.ndarray | None:
    """Return sample_weight as a (n,) float64 array of finite, non-negative weights with a positive sum."""
    if sample_weight is None:
        return None
    check_not_complex(sample_weight, "sample_weight")
    if np.isscalar(sample_weight) and not isinstance(sample_weight, (str, bytes)):
        sample_weight = np.full(n_rows, sample_weight, dtype=float)
    try:
        sw = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"sample_weight must be an array of non-negative numbers; got "
                        f"{type(sample_weight).__name__} ({exc}).") from None
    if sw.ndim != 1 or sw.shape[0] != n_rows:
        raise ValueError(f"sample_weight must have one weight per row of X, shape ({n_rows},); got "
                         f"shape {sw.shape}.")
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinity; pass finite weights (0 drops a row).")
    if (sw < 0).any():
        raise ValueError(f"sample_weight must be non-negative; got {sw[sw < 0][0]!r} at index "
                         f"{int(np.argmax(sw < 0))}. Use 0 to drop a row.")
    if n_rows and not sw.sum() > 0:  # (every weight zero)
        raise ValueError("sample_weight sums to zero; give at least one sample a positive weight.")
    return sw


def check_finite_scalar(value, name: str) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return float(value)


def check_bool(value, name: str) -> bool:
    """Return ``value`` if it is a bool (Python or numpy), else raise naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(value)
