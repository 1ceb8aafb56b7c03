"""Siamese networks (§6 of the notes): similarity learning with shared weights.

The notes' model — one shared tanh layer with the hand-written gradients (38) and the
minibatch update (39) — is :mod:`~curvlab.siamese.tanh_layer`. Around it, a general tool:

* :class:`SiameseNetwork` wraps any encoder (:class:`TanhEncoder`, :class:`MLPEncoder`,
  :class:`ConvEncoder`, :class:`MiniLMEncoder`) and measures D(x₁, x₂);
* losses (y = 1 similar): contrastive, cosine regression, triplet margin, in-batch
  softmax, the notes' loss (:mod:`~curvlab.siamese.losses`);
* balanced, seeded, duplicate-free pair and triplet sampling, or explicit :class:`PairSet`;
* :func:`train` with early stopping and a collapse warning;
* ROC-AUC, AP, a frozen threshold, N-way one-shot accuracy, recall@k.

Example
-------
>>> from sklearn.datasets import load_digits
>>> from curvlab.siamese import SiameseNetwork, MLPEncoder, TrainConfig, train
>>> X, y = load_digits(return_X_y=True); X = X / 16
>>> net = SiameseNetwork(MLPEncoder(64, (128,), 32))
>>> hist = train(net, (X[:1000], y[:1000]), val=(X[1000:1400], y[1000:1400]),
...              config=TrainConfig(epochs=3, progress=False))
>>> scores = net.similarity(X[1400:1410], X[1410:1420])   # higher = more similar
"""

from .augment import shift_augment
from .encoders import ConvEncoder, FilterEncoder, MiniLMEncoder, MLPEncoder, TanhEncoder, l2_of_weights
from .evaluate import (VerificationReport, average_precision, fit_threshold, one_shot_accuracy,
                       recall_at_k, roc_auc, verification_report)
from .losses import (contrastive_loss, cosine_similarity_loss, in_batch_softmax_loss,
                     notes_pair_loss, triplet_margin_loss)
from .network import SiameseNetwork
from .pairs import PairSet, sample_pairs, sample_triplets
from .tanh_layer import notes_gd_step, notes_gradients, notes_loss
from .train import CollapseWarning, History, TrainConfig, train

__all__ = [
    "CollapseWarning", "ConvEncoder", "FilterEncoder", "History", "MLPEncoder", "MiniLMEncoder", "PairSet",
    "SiameseNetwork", "TanhEncoder", "TrainConfig", "VerificationReport", "average_precision",
    "contrastive_loss", "cosine_similarity_loss", "fit_threshold", "in_batch_softmax_loss",
    "l2_of_weights", "notes_gd_step", "notes_gradients", "notes_loss", "notes_pair_loss",
    "one_shot_accuracy", "recall_at_k", "roc_auc", "sample_pairs", "sample_triplets",
    "shift_augment", "train", "triplet_margin_loss", "verification_report",
]
