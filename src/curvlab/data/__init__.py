"""Embedded real data sets and seeded synthetic generators.

* :func:`load_longley` — the Longley (1967) regression data with NIST's certified results.
* :func:`load_rdoc_pairs`, :func:`split_pairs` — (title, description) pairs of R help pages.
* :func:`fine_food_reviews`, :func:`read_corpus`, :func:`default_corpus_path` — real text
  for calibrating and evaluating pruned sentence encoders.
"""

from .longley import Longley, load_longley
from .rdocs import load_rdoc_pairs, split_pairs
from .texts import default_corpus_path, fine_food_reviews, read_corpus

__all__ = ["Longley", "default_corpus_path", "fine_food_reviews", "load_longley", "load_rdoc_pairs",
           "read_corpus", "split_pairs"]
