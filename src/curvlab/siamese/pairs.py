"""Pairs and triplets: sampled from class labels, or given explicitly as (x1, x2, y).

Sampling from labels (:func:`sample_pairs`, :func:`sample_triplets`) is

* **balanced** — half the pairs are positive (y = 1, same class), half negative; the class
  of a positive pair, and the two classes of a negative pair, are drawn uniformly, so a
  frequent class does not dominate;
* **seeded** — ``seed`` is an int or a ``numpy.random.Generator``; the same seed gives the
  same pairs;
* **duplicate-free** — no unordered pair {i, j} appears twice in one call, and i ≠ j.

Explicit pairs — the form users most often have — go in a :class:`PairSet`, which checks
that the three arrays have one length and that y holds only 0/1 (1 = similar).

Example
-------
>>> import numpy as np
>>> labels = np.repeat(np.arange(3), 10)
>>> i, j, y = sample_pairs(labels, 20, seed=0)
>>> int(y.sum())
10
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_positive_int
from .losses import validate_pair_labels

__all__ = ["PairSet", "as_generator", "check_labels", "pair_batches", "sample_pairs",
           "sample_triplets"]


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed (or the generator itself)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator; got {seed!r}.")
    return np.random.default_rng(int(seed))


def check_labels(labels, name: str = "labels", *, min_classes: int = 2) -> np.ndarray:
    """Class labels as a 1-D integer array with at least ``min_classes`` classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class label per sample); got shape {labels.shape}.")
    if labels.size == 0:
        raise ValueError(f"{name} is empty; pass one class label per sample.")
    _, codes = np.unique(labels, return_inverse=True)
    n_classes = int(codes.max()) + 1
    if n_classes < min_classes:
        raise ValueError(
            f"{name} has {n_classes} class(es); pairs need at least {min_classes} classes "
            "(a single class has no negative pairs). Add samples of other classes."
        )
    return codes.astype(np.int64)


def _members(codes: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]


def _n_possible(members: list[np.ndarray]) -> tuple[int, int]:
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    pos = int((sizes * (sizes - 1) // 2).sum())
    neg = int((sizes.sum() ** 2 - (sizes ** 2).sum()) // 2)
    return pos, neg


def _two_distinct(members: list[np.ndarray], ci: np.ndarray, cj: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One member of class ci[t] and one of cj[t] per t, distinct positions when ci == cj."""
    sizes = np.array([len(m) for m in members])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    flat = np.concatenate(members)
    a = (rng.random(len(ci)) * sizes[ci]).astype(np.int64)
    same = ci == cj
    b = (rng.random(len(cj)) * (sizes[cj] - same)).astype(np.int64)
    b += same & (b >= a)                                  # skip a's position inside its class
    return flat[offsets[ci] + a], flat[offsets[cj] + b]


def _draw(members: list[np.ndarray], n: int, positive: bool, rng: np.random.Generator,
          seen: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """n new unordered pairs (not in ``seen``), positive (same class) or negative."""
    eligible = [c for c, m in enumerate(members) if len(m) >= 2] if positive else list(range(len(members)))
    out: list[tuple[int, int]] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200:
            raise ValueError("could not draw enough distinct pairs; ask for fewer pairs.")
        k = 2 * (n - len(out)) + 8
        if positive:
            cls = rng.choice(eligible, size=k)
            i, j = _two_distinct(members, cls, cls, rng)
        else:
            first = rng.choice(eligible, size=k)
            second = rng.integers(len(eligible) - 1, size=k)
            second += second >= first                     # uniform over the other classes
            i, j = _two_distinct(members, first, second, rng)
        for p, q in zip(i.tolist(), j.tolist()):
            key = (min(p, q), max(p, q))
            if key not in seen:
                seen.add(key)
                out.append((p, q))
                if len(out) == n:
                    break
    return out


def sample_pairs(labels, n_pairs: int, seed: int | np.random.Generator = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced, duplicate-free pairs from class labels.

    Returns index arrays ``i``, ``j`` (n_pairs,) into the samples and labels ``y``
    (1 = same class). ``n_pairs`` must be even (half positive, half negative); the order is
    shuffled.
    """
    codes = check_labels(labels)
    n_pairs = check_positive_int(n_pairs, "n_pairs", minimum=2)
    if n_pairs % 2:
        raise ValueError(f"n_pairs must be even (half positive, half negative); got {n_pairs}.")
    rng = as_generator(seed)
    members = _members(codes)
    n_pos, n_neg = _n_possible(members)
    half = n_pairs // 2
    if half > n_pos or half > n_neg:
        raise ValueError(f"n_pairs={n_pairs} asks for {half} distinct positive and negative pairs; "
                         f"the labels allow only {n_pos} positive and {n_neg} negative ones.")
    seen: set[tuple[int, int]] = set()
    pos = _draw(members, half, True, rng, seen)
    neg = _draw(members, half, False, rng, seen)
    ij = np.array(pos + neg, dtype=np.int64)              # (n_pairs, 2)
    y = np.r_[np.ones(half), np.zeros(half)]
    order = rng.permutation(n_pairs)
    return ij[order, 0], ij[order, 1], y[order]


def sample_triplets(labels, n_triplets: int, seed: int | np.random.Generator = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor, positive, negative indices (n_triplets,) each; anchor classes drawn uniformly.

    The anchor and positive differ and share a class; the negative is of another class. No
    (anchor, positive, negative) triplet repeats within a call.
    """
    codes = check_labels(labels)
    n_triplets = check_positive_int(n_triplets, "n_triplets")
    rng = as_generator(seed)
    members = _members(codes)
    eligible = [c for c, m in enumerate(members) if len(m) >= 2]
    if not eligible:
        raise ValueError("labels has no class with two samples; triplets need an anchor and a positive.")
    n_classes = len(members)
    seen: set[tuple[int, int, int]] = set()
    out: list[tuple[int, int, int]] = []
    for _ in range(50 * n_triplets + 100):
        c = int(rng.choice(eligible))
        a, p = rng.choice(members[c], size=2, replace=False)
        other = int(rng.integers(n_classes - 1))
        other += other >= c                               # uniform over the other classes
        n = int(rng.choice(members[other]))
        key = (int(a), int(p), n)
        if key not in seen:
            seen.add(key)
            out.append(key)
            if len(out) == n_triplets:
                break
    if len(out) < n_triplets:
        raise ValueError(f"could not draw {n_triplets} distinct triplets; ask for fewer.")
    t = np.array(out, dtype=np.int64)  # (n_triplets, 3)
    return t[:, 0], t[:, 1], t[:, 2]


def pair_batches(labels, batch_size: int, n_batches: int, seed: int | np.random.Generator = 0
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n_batches`` batches of :func:`sample_pairs` (each balanced and duplicate-free)."""
    rng = as_generator(seed)
    for _ in range(check_positive_int(n_batches, "n_batches")):
        yield sample_pairs(labels, batch_size, rng)


@dataclass
class PairSet:
    """Explicit pairs ``(x1[i], x2[i], y[i])``, y = 1 similar / 0 dissimilar.

    ``x1`` and ``x2`` are arrays/tensors (first axis = pair) or lists (e.g. of strings);
    ``y`` is 0/1 (``graded=True`` allows scores in [0, 1] for the cosine regression loss).
    """

    x1: Any
    x2: Any
    y: Any
    graded: bool = False

    def __post_init__(self):
        n1, n2 = len(self.x1), len(self.x2)
        y = np.asarray(self.y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per pair); got shape {y.shape}.")
        if not (n1 == n2 == len(y)):
            raise ValueError(f"x1, x2 and y must have one length (one entry per pair); got "
                             f"{n1}, {n2} and {len(y)}.")
        if n1 == 0:
            raise ValueError("the pair set is empty; pass at least one pair.")
        validate_pair_labels(y, "y", graded=self.graded)
        self.y = y

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        kind = type(self.x1).__name__
        shape = tuple(self.x1.shape[1:]) if hasattr(self.x1, "shape") else ()
        return (f"PairSet(pairs={len(self)}, similar={int(np.sum(self.y >= 0.5))}, x1/x2: {kind}"
                f"{f' of rows {shape}' if shape else ''}, graded={self.graded})")

    def take(self, idx: np.ndarray) -> tuple[Any, Any, np.ndarray]:
        """The pairs at positions ``idx``."""
        return _take(self.x1, idx), _take(self.x2, idx), self.y[idx]

    def batches(self, batch_size: int, seed: int | np.random.Generator = 0
                ) -> Iterator[tuple[Any, Any, np.ndarray]]:
        """One shuffled pass over the pairs in batches of ``batch_size``."""
        rng = as_generator(seed)
        order = rng.permutation(len(self))
        bs = check_positive_int(batch_size, "batch_size")
        for s in range(0, len(self), bs):
            yield self.take(order[s:s + bs])


def _take(x: Any, idx: np.ndarray) -> Any:
    if isinstance(x, (list, tuple)):
        return [x[int(k)] for k in idx]
    return x[idx]
