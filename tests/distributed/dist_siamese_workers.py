"""Siamese training on every rank (tests/distributed/test_siamese_dist.py): the loss curve and
the final weights of k ranks with batch_size B/k each; :func:`reference` is one process with B."""

from __future__ import annotations

import numpy as np
import torch

from curvlab import distributed as cd
from curvlab.siamese import MLPEncoder, PairSet, SiameseNetwork, TrainConfig, train

GLOBAL_BATCH = 12


def _data():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    X = rng.normal(size=(60, 4)) + 2.0 * np.eye(4)[labels]
    a = rng.normal(size=(30, 4))
    pairs = PairSet(a, a + 0.3 * rng.normal(size=(30, 4)), np.ones(30))   # positive pairs for in_batch
    return (X, labels), pairs


def _run(world: int) -> dict:
    labeled, pairs = _data()
    cases = {
        # label-drawn pairs, 40 per epoch: global batches 12, 12, 12, 4 (the last one short)
        "contrastive": (labeled, dict(loss="contrastive", pairs_per_epoch=40, optimizer="sgd", lr=0.05)),
        "triplet": (labeled, dict(loss="triplet", pairs_per_epoch=30, optimizer="adam", lr=0.01)),
        # explicit pairs, in-batch softmax over the global batch (30 pairs: 12, 12, 6), both directions
        "in_batch": (pairs, dict(loss="in_batch", symmetric=True, scale=5.0, optimizer="adam", lr=0.01,
                                 l2=1e-3)),
    }
    out = {}
    for name, (data, kw) in cases.items():
        torch.manual_seed(1)
        net = SiameseNetwork(MLPEncoder(4, (8,), 3), metric="cosine" if name == "in_batch" else "euclidean").double()
        cfg = TrainConfig(epochs=3, batch_size=GLOBAL_BATCH // world, progress=False, n_val_pairs=40, **kw)
        hist = train(net, data, config=cfg)
        out[name] = {"loss": hist.column("loss"),
                     "weights": torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy()}
    return out


def reference() -> dict:
    return _run(1)


def ranks() -> dict:
    return _run(cd.world_size())


def failures() -> dict:
    """Bad input on the ranks: each outcome; the group must keep working after each."""
    labeled, pairs = _data()

    def outcome(fn):
        try:
            fn()
            return ("ok",)
        except Exception as exc:
            return (type(exc).__name__, str(exc))

    def net(hidden=8):
        torch.manual_seed(1)
        return SiameseNetwork(MLPEncoder(4, (hidden,), 3)).double()

    cfg = TrainConfig(epochs=1, batch_size=6, pairs_per_epoch=12, progress=False, n_val_pairs=40)
    return {
        "model_differs": outcome(lambda: train(net(8 + cd.rank()), labeled, config=cfg)),
        "config_differs": outcome(lambda: train(net(), labeled, config=TrainConfig(
            epochs=1, batch_size=6, pairs_per_epoch=12, progress=False, n_val_pairs=40, lr=1e-3 * (1 + cd.rank())))),
        "bad_config_one_rank": outcome(lambda: train(net(), labeled, config=TrainConfig(
            epochs=1 - cd.rank(), progress=False))),
    }
