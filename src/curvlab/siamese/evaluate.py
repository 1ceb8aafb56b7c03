"""Evaluation of a similarity function: verification, N-way one-shot, retrieval.

* **Verification** — pairs with labels y (1 = similar) and scores s (higher = more
  similar): ROC-AUC (the Mann–Whitney probability that a positive pair outscores a
  negative one, ties counted ½), average precision (Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct
  thresholds, scikit-learn's definition), and accuracy at a threshold fitted on
  *validation* pairs and then frozen (:func:`fit_threshold`).
* **N-way one-shot** — an episode draws N classes, one support sample of each and one
  query of one of them (a different sample); the query is assigned the class of its
  nearest support. Run on classes never seen in training, it measures transfer.
* **Recall@k** — row i of the queries should retrieve row i of the documents.

Example
-------
>>> import numpy as np
>>> roc_auc(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 0]))
1.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

from .._validation import as_float_array, check_positive_int, check_real
from .losses import validate_pair_labels
from .pairs import as_generator, check_labels

__all__ = ["VerificationReport", "average_precision", "distances_to", "fit_threshold",
           "one_shot_accuracy", "recall_at_k", "roc_auc", "verification_report"]


def _scores_labels(scores, y) -> tuple[np.ndarray, np.ndarray]:
    check_real(scores, "scores")
    scores = as_float_array(scores, "scores", ndim=1)
    y = np.asarray(y, dtype=float)
    if y.shape != scores.shape:
        raise ValueError(f"scores and y must have one length; got {scores.shape[0]} and {y.shape}.")
    validate_pair_labels(y)
    if y.min() == y.max():
        raise ValueError("y must contain both similar (1) and dissimilar (0) pairs to score a ranking.")
    return scores, y


def roc_auc(scores, y) -> float:
    """Area under the ROC curve = P(s⁺ > s⁻) + ½P(s⁺ = s⁻) (Mann–Whitney U / (n₊n₋))."""
    scores, y = _scores_labels(scores, y)
    ranks = rankdata(scores)                       # average ranks: ties count ½
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _cumulative_counts(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positives when predicting 'similar' down to each distinct score (descending)."""
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(t)[last]
    fps = (last + 1) - tps
    return s[last], tps, fps


def average_precision(scores, y) -> float:
    """AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct score thresholds, highest first."""
    scores, y = _scores_labels(scores, y)
    _, tps, fps = _cumulative_counts(scores, y)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fit_threshold(scores, y) -> float:
    """The threshold τ maximizing the accuracy of [s ≥ τ] on (validation) pairs.

    τ is the midpoint between the lowest score predicted similar and the next one, so the
    rule transfers to new pairs; ties of accuracy go to the highest τ.
    """
    scores, y = _scores_labels(scores, y)
    values, tps, fps = _cumulative_counts(scores, y)
    n_neg = len(y) - y.sum()
    acc = (tps + (n_neg - fps)) / len(y)               # predicting similar down to values[k]
    acc_none = n_neg / len(y)                          # predicting nothing similar
    k = int(np.argmax(acc))
    if acc_none > acc[k]:
        return float(values[0] + 1.0)
    below = values[k + 1] if k + 1 < len(values) else values[k] - 1.0
    return float((values[k] + below) / 2)


@dataclass(frozen=True)
class VerificationReport:
    """ROC-AUC, average precision, accuracy at the frozen threshold, and the threshold."""

    auc: float
    average_precision: float
    accuracy: float
    threshold: float
    mean_pos_score: float
    mean_neg_score: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def verification_report(scores, y, threshold: float | None = None) -> VerificationReport:
    """Verification metrics of test pairs; ``threshold`` must come from validation pairs.

    Without a threshold the accuracy is NaN-free but optimistic: it is fitted on these
    same pairs (say so when reporting it).
    """
    scores, y = _scores_labels(scores, y)
    tau = fit_threshold(scores, y) if threshold is None else float(threshold)
    acc = float(np.mean((scores >= tau) == (y == 1)))
    return VerificationReport(roc_auc(scores, y), average_precision(scores, y), acc, tau,
                              float(scores[y == 1].mean()), float(scores[y == 0].mean()))


def distances_to(queries: np.ndarray, supports: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Distance matrix (q, s) between rows: Euclidean or 1 − cosine."""
    if metric == "cosine":
        qn = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        sn = supports / np.maximum(np.linalg.norm(supports, axis=1, keepdims=True), 1e-12)
        return 1 - qn @ sn.T
    if metric != "euclidean":
        raise ValueError(f"metric must be 'euclidean' or 'cosine'; got {metric!r}.")
    sq = (queries ** 2).sum(1)[:, None] + (supports ** 2).sum(1)[None, :] - 2 * queries @ supports.T
    return np.sqrt(np.maximum(sq, 0.0))


def one_shot_accuracy(embeddings, labels, *, n_way: int, n_episodes: int = 2000,
                      seed: int | np.random.Generator = 0, metric: str = "euclidean") -> float:
    """Accuracy of nearest-support classification in N-way one-shot episodes.

    ``embeddings`` (n, k) — any features (learned codes, pixels, PCA scores); ``labels`` (n,).
    Each episode: N distinct classes (each with ≥ 2 samples), one random support per class,
    one query from one of them that is not its support. A tie goes to the support drawn
    first (episode classes are in random order).
    """
    E = as_float_array(embeddings, "embeddings", ndim=2)
    codes = check_labels(labels)
    if len(codes) != len(E):
        raise ValueError(f"embeddings and labels must have one length; got {len(E)} and {len(codes)}.")
    n_way = check_positive_int(n_way, "n_way", minimum=2)
    n_episodes = check_positive_int(n_episodes, "n_episodes")
    members = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    eligible = np.array([c for c, m in enumerate(members) if len(m) >= 2])
    if n_way > len(eligible):
        raise ValueError(f"n_way={n_way} needs {n_way} classes with ≥ 2 samples; labels has {len(eligible)}.")
    rng = as_generator(seed)
    correct = 0
    for _ in range(n_episodes):
        classes = rng.choice(eligible, size=n_way, replace=False)
        target = int(rng.integers(n_way))
        supports = np.array([rng.choice(members[c]) for c in classes])
        pool = members[classes[target]]
        query = rng.choice(pool[pool != supports[target]])
        D = distances_to(E[query][None], E[supports], metric)[0]   # (n_way,)
        correct += int(np.argmin(D) == target)
    return correct / n_episodes


def recall_at_k(queries, documents, k: int = 1) -> float:
    """Fraction of rows i whose document i is among the k most cosine-similar documents."""
    Q = as_float_array(queries, "queries", ndim=2)
    Dm = as_float_array(documents, "documents", ndim=2)
    if Q.shape != Dm.shape:
        raise ValueError(f"queries and documents must have one shape (row i matches row i); got "
                         f"{Q.shape} and {Dm.shape}.")
    k = check_positive_int(k, "k")
    S = -distances_to(Q, Dm, "cosine")                       # (n, n) similarity
    own = S[np.arange(len(S)), np.arange(len(S))]
    rank = (S > own[:, None]).sum(1)                         # documents strictly better than the right one
    return float(np.mean(rank < k))
