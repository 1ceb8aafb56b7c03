"""Training a :class:`~curvlab.siamese.network.SiameseNetwork`.

Each epoch draws fresh balanced pairs (or triplets) from class labels — or makes one
shuffled pass over explicit pairs — and descends the chosen loss plus the notes' L2 term
λ Σ‖W‖² (eq. (38)'s "+ 2W" with λ = ``l2``). After every epoch it logs

* the training loss,
* the mean distance of positive and of negative validation pairs (d₊, d₋) — and warns
  with :class:`CollapseWarning` when they collapse together (the relative gap
  (d₋ − d₊)/(d₋ + d₊) falls below ``collapse_gap``, or every code shrinks to a point),
* the validation score (ROC-AUC of the validation pairs, or ``val_metric(net)``),

and stops when the validation score has not improved for ``patience`` epochs, restoring
the best weights. A non-finite loss restores the initial weights and raises.

Data-parallel training. Under a process group of k ranks (``torchrun``) the same call trains
with :class:`~torch.nn.parallel.DistributedDataParallel`: every rank holds the same data
and draws the same global batch of k·``batch_size`` pairs (the same seeded shuffle or pair
sampler on every rank) and embeds its share, rows r, r + k, r + 2k, … — the split of
``DistributedSampler``, but without its padding, so a short last batch stays exact. The loss
is that of the global batch: per-pair losses as Σ_ranks (local sum) / N; the in-batch
softmax on the embeddings of *all* ranks (:func:`curvlab.distributed.all_gather_cat`, the
other ranks' rows as constants), so the negatives are the global batch as in CLIP-style
training. Each rank back-propagates k × its part (DDP averages the k gradients), so the
update — and the loss curve — equal one process with ``batch_size`` k times larger, up to
round-off, as long as the model has no per-batch statistics (BatchNorm) and no randomness
in the step (dropout, ``augment``). Progress and logs come from rank 0 only.

Example
-------
>>> import numpy as np
>>> from curvlab.siamese import SiameseNetwork, MLPEncoder, TrainConfig, train
>>> X = np.random.default_rng(0).normal(size=(60, 4)); labels = np.repeat([0, 1, 2], 20)
>>> net = SiameseNetwork(MLPEncoder(4, (16,), 2))
>>> hist = train(net, (X, labels), val=(X, labels), config=TrainConfig(epochs=2, progress=False))
>>> len(hist.epochs)
2
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .. import distributed as cd
from .._validation import as_float_array, check_positive, check_positive_int, check_real
from ..curvature.objective import first_line
from .encoders import l2_of_weights
from .evaluate import roc_auc
from .losses import (LOSSES, contrastive_loss, cosine_similarity_loss, in_batch_softmax_loss,
                     notes_pair_loss, triplet_margin_loss)
from .network import SiameseNetwork
from .pairs import PairSet, as_generator, check_labels, sample_pairs, sample_triplets

__all__ = ["CollapseWarning", "History", "TrainConfig", "train"]

log = logging.getLogger(__name__)

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class CollapseWarning(UserWarning):
    """Positive and negative pairs are no longer separated: the embedding has collapsed."""


@dataclass
class TrainConfig:
    """Settings of :func:`train`; each default with its reason."""

    loss: str = "contrastive"        # one of losses.LOSSES; contrastive is the classic Siamese loss
    margin: float = 1.0              # contrastive / triplet margin, in embedding distance units
    scale: float = 20.0              # in-batch softmax temperature⁻¹ (cosines need a sharp softmax)
    symmetric: bool = False          # in-batch softmax in both directions (x1 → x2 and x2 → x1)
    epochs: int = 50
    batch_size: int = 128            # pairs per step
    pairs_per_epoch: int = 4096      # pairs (or triplets) drawn from labels per epoch
    lr: float = 1e-3                 # Adam's usual default
    optimizer: str = "adam"          # "adam" or "sgd" (plain GD as in (39))
    l2: float = 0.0                  # λ of the notes' L2 term λ Σ‖W‖²
    patience: int = 8                # epochs without validation improvement before stopping
    min_delta: float = 1e-4          # smallest improvement that counts
    collapse_gap: float = 0.02       # warn when (d₋ − d₊)/(d₋ + d₊) falls below this
    n_val_pairs: int = 2000          # validation pairs drawn from validation labels
    seed: int = 0
    time_limit_s: float | None = None  # stop (after the current step) once training took this long
    progress: bool | None = None     # None: a bar only on a TTY

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {self.loss!r}.")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}.")
        check_positive(self.margin, "margin")
        check_positive(self.scale, "scale")
        check_positive(self.lr, "lr")
        check_positive(self.l2, "l2", strict=False)
        check_positive(self.collapse_gap, "collapse_gap", strict=False)
        for name in ("epochs", "batch_size", "pairs_per_epoch", "n_val_pairs"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.patience, "patience", minimum=0)
        if self.time_limit_s is not None:
            check_positive(self.time_limit_s, "time_limit_s")
        if self.n_val_pairs % 2:
            raise ValueError(f"n_val_pairs must be even; got {self.n_val_pairs}.")


@dataclass
class History:
    """Per-epoch log: dicts with epoch, loss, d_pos, d_neg, val_score."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -np.inf
    stopped_early: bool = False
    collapsed: bool = False

    def column(self, key: str) -> np.ndarray:
        return np.array([e[key] for e in self.epochs])

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else None
        tail = (f", last loss={last['loss']:.4g}, last val_score={last['val_score']:.4g}" if last else "")
        return (f"History(epochs={len(self.epochs)}, best_epoch={self.best_epoch}, best_score={self.best_score:.4g}"
                f"{tail}, stopped_early={self.stopped_early}, collapsed={self.collapsed})")


def _as_labeled(data: Any, name: str) -> tuple[Any, np.ndarray] | PairSet:
    if isinstance(data, PairSet):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        X, labels = data
        codes = check_labels(labels, f"{name} labels")
        if len(X) != len(codes):
            raise ValueError(f"{name}: X and labels must have one length; got {len(X)} and {len(codes)}.")
        if isinstance(X, (np.ndarray, torch.Tensor)):
            _check_inputs(X, f"{name} X")
        return X, codes
    raise TypeError(f"{name} must be (X, labels) or a PairSet; got {type(data).__name__}.")


def _check_inputs(X: np.ndarray | torch.Tensor, name: str) -> None:
    """Numeric, real, non-empty and finite; integer inputs (pixel counts) are fine."""
    check_real(X, name)
    if isinstance(X, torch.Tensor):
        if X.dtype == torch.bool or not (X.is_floating_point() or X.dtype in _INT_DTYPES):
            raise TypeError(f"{name} must hold numbers; got dtype {X.dtype}.")
        if X.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(X.shape)}); pass at least one sample.")
        if X.is_floating_point() and not bool(torch.isfinite(X).all()):
            where = tuple(int(k) for k in (~torch.isfinite(X)).nonzero()[0])
            raise ValueError(f"{name} contains NaN or infinity (first at index {where}); "
                             "remove or impute non-finite values before calling.")
    else:
        as_float_array(X, name, allow_empty=False)


_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _check_encoder_fits(net: SiameseNetwork, X: Any, name: str) -> None:
    """One forward pass of one sample (eval mode, no grad): a width or dtype the encoder cannot
    take is reported here, naming the data, instead of as a torch error in the first step."""
    if not isinstance(X, (np.ndarray, torch.Tensor)) or len(X) == 0:
        return
    sample = _to_tensor(X[:1], net)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net.encoder(net._as_input(sample))
    except (RuntimeError, IndexError) as exc:
        features = int(np.prod(tuple(X.shape[1:]), dtype=np.int64))
        raise ValueError(
            f"{name} has {features} features per sample (shape {tuple(X.shape)}), which the encoder cannot "
            f"take: {first_line(exc)}. Pass inputs of the width the encoder was built for (e.g. MLPEncoder(in_features=...))."
        ) from exc
    finally:
        net.train(was_training)


def _take(X: Any, idx: np.ndarray) -> Any:
    if isinstance(X, (list, tuple)):
        return [X[int(k)] for k in idx]
    return X[idx]


def _to_tensor(x: Any, net: SiameseNetwork) -> Any:
    if isinstance(x, (np.ndarray, torch.Tensor)):
        p = next(net.parameters())
        return torch.as_tensor(x, dtype=p.dtype, device=p.device)
    return x


class _Validator:
    """Fixed validation pairs; scores AUC and the mean positive / negative distances."""

    def __init__(self, val: Any, cfg: TrainConfig):
        if isinstance(val, PairSet):
            self.x1, self.x2, self.y = val.x1, val.x2, (val.y >= 0.5).astype(float)
        else:
            X, codes = val
            i, j, self.y = sample_pairs(codes, min(cfg.n_val_pairs, _max_even_pairs(codes)),
                                        cfg.seed + 7919)
            self.x1, self.x2 = _take(X, i), _take(X, j)

    def __call__(self, net: SiameseNetwork) -> tuple[float, float, float]:
        D = -torch.as_tensor(net.similarity(_to_tensor(self.x1, net), _to_tensor(self.x2, net)))
        if net.metric == "cosine":
            D = D + 1
        D = D.numpy()
        auc = roc_auc(-D, self.y) if 0 < self.y.sum() < len(self.y) else float("nan")
        d_pos = float(D[self.y == 1].mean()) if np.any(self.y == 1) else float("nan")
        d_neg = float(D[self.y == 0].mean()) if np.any(self.y == 0) else float("nan")
        return d_pos, d_neg, auc


def _max_even_pairs(codes: np.ndarray) -> int:
    """The largest even number of distinct balanced pairs the labels allow."""
    sizes = np.bincount(codes).astype(np.int64)
    pos = int((sizes * (sizes - 1) // 2).sum())
    neg = int((sizes.sum() ** 2 - (sizes ** 2).sum()) // 2)
    return 2 * max(1, min(pos, neg) // 2)   # at most half of the distinct pairs: rejection stays cheap


def _embed(net: SiameseNetwork, cfg: TrainConfig, batch: tuple) -> tuple:
    """The embeddings of a batch: (e_a, e_p, e_n) for triplets, (e₁, e₂, y) for pairs."""
    if cfg.loss == "triplet":
        a, p, n = batch
        return net.embed(a), net.embed(p), net.embed(n)
    x1, x2, y = batch
    e1, e2 = net(x1, x2)
    return e1, e2, y


class _Embedder(nn.Module):
    """One forward call per step for DistributedDataParallel: the batch's embeddings."""

    def __init__(self, net: SiameseNetwork, cfg: TrainConfig):
        super().__init__()
        self.net, self.cfg = net, cfg

    def forward(self, *batch):
        return _embed(self.net, self.cfg, batch)


def _step_loss(net: SiameseNetwork, cfg: TrainConfig, batch: tuple) -> torch.Tensor:
    return _loss_of(net, cfg, _embed(net, cfg, batch))


def _loss_of(net: SiameseNetwork, cfg: TrainConfig, emb: tuple) -> torch.Tensor:
    """The batch-mean loss of the embeddings ``emb`` (from :func:`_embed`)."""
    if cfg.loss == "triplet":
        return triplet_margin_loss(*emb, margin=cfg.margin)
    e1, e2, y = emb
    if cfg.loss == "contrastive":
        if net.metric != "euclidean":
            return contrastive_loss(torch.nn.functional.normalize(e1, dim=-1),
                                    torch.nn.functional.normalize(e2, dim=-1), y, margin=cfg.margin)
        return contrastive_loss(e1, e2, y, margin=cfg.margin)
    if cfg.loss == "cosine":
        return cosine_similarity_loss(e1, e2, y)
    if cfg.loss == "in_batch":
        return in_batch_softmax_loss(e1, e2, scale=cfg.scale, symmetric=cfg.symmetric)
    return notes_pair_loss(e1, e2)


def _distributed_step(ddp: nn.Module, net: SiameseNetwork, cfg: TrainConfig, batch: tuple,
                      n_global: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss to back-propagate on this rank, the global batch's loss) — module docstring.

    k = world size; DDP averages the ranks' gradients, so each rank back-propagates k × its
    share: for per-pair losses k·(local sum)/N, for the in-batch softmax k·L(all embeddings)
    with the gradient flowing through this rank's rows only.
    """
    k = cd.world_size()
    emb = ddp(*batch)
    if cfg.loss == "in_batch":
        e1, e2 = cd.all_gather_cat(emb[0]), cd.all_gather_cat(emb[1])     # (N, k_emb) each, rank order
        loss = _loss_of(net, cfg, (e1, e2, None))                           # the same on every rank
        return k * loss, loss.detach()
    n_local = emb[0].shape[0]
    if n_local:
        local_sum = _loss_of(net, cfg, emb) * n_local
    else:  # no rows here this step: a zero that still reaches every parameter (DDP waits for them)
        local_sum = sum(e.sum() for e in emb[:2 if cfg.loss != "triplet" else 3]) * 0.0
    total = cd.sum_or_raise(lambda: local_sum.detach().reshape(()), like=local_sum.detach().reshape(()),
                            what="siamese.train's loss")
    return local_sum * (k / n_global), total / n_global


def _epoch_batches(data: Any, cfg: TrainConfig, rng: np.random.Generator, net: SiameseNetwork,
                   augment: Augment | None, tgen: torch.Generator, *, rank: int = 0, world: int = 1):
    """(batch, N) for the batches of one epoch, as tensors on the network's device (augmented
    if asked): N is the global batch's size; with ``world`` > 1 the batch is rank ``rank``'s
    share (rows rank, rank + world, …) of a global batch of world·batch_size drawn alike on
    every rank.
    """

    def prep(x: Any) -> Any:
        x = _to_tensor(x, net)
        return augment(x, tgen) if augment is not None and isinstance(x, torch.Tensor) else x

    bs = cfg.batch_size * world
    mine = slice(rank, None, world)
    if isinstance(data, PairSet):
        if cfg.loss == "triplet":
            raise ValueError("loss='triplet' needs (X, labels) to draw triplets; explicit pairs have none.")
        keep = np.flatnonzero(data.y >= 0.5) if cfg.loss == "in_batch" else np.arange(len(data))
        if keep.size == 0:
            raise ValueError("loss='in_batch' needs positive pairs (y = 1) in the training pairs.")
        order = keep[rng.permutation(keep.size)]
        for s in range(0, order.size, bs):
            x1, x2, y = data.take(order[s:s + bs][mine])
            yield (prep(x1), prep(x2), torch.as_tensor(y, dtype=next(net.parameters()).dtype)), \
                len(order[s:s + bs])
        return
    X, codes = data
    n = cfg.pairs_per_epoch
    if cfg.loss == "triplet":
        a, p, q = sample_triplets(codes, n, rng)
        for s in range(0, n, bs):
            sl = np.arange(s, min(s + bs, n))[mine]
            yield (prep(_take(X, a[sl])), prep(_take(X, p[sl])), prep(_take(X, q[sl]))), len(range(s, min(s + bs, n)))
        return
    if cfg.loss == "in_batch":
        raise ValueError("loss='in_batch' treats every other row as a negative; train it on explicit "
                         "positive pairs (a PairSet), not on class labels.")
    for s in range(0, n, bs):
        m = min(bs, n - s)
        m += m % 2
        i, j, y = sample_pairs(codes, m, rng)     # balanced and duplicate-free within the batch
        i, j, y = i[mine], j[mine], y[mine]
        yield (prep(_take(X, i)), prep(_take(X, j)), torch.as_tensor(y, dtype=next(net.parameters()).dtype)), m


@cd.raises_on_every_rank("siamese.train")
def train(net: SiameseNetwork, data: Any, *, val: Any = None, config: TrainConfig | None = None,
          augment: Augment | None = None,
          val_metric: Callable[[SiameseNetwork], float] | None = None) -> History:
    """Train ``net`` in place on ``data`` and return its :class:`History`.

    The network's parameters are updated in place. If anything raises during training (a
    non-finite loss, or an error in ``augment`` / ``val_metric``), the same Parameter objects
    get their initial values back and the network its train/eval mode before the error
    propagates.

    Parameters
    ----------
    data : ``(X, labels)`` — pairs/triplets are drawn from the labels each epoch — or a
        :class:`~curvlab.siamese.pairs.PairSet` of explicit (x1, x2, y) pairs.
    val : the same forms, for early stopping and the per-epoch distance log. Without it no
        early stopping happens (all ``epochs`` run) and d₊, d₋ are those of the training pairs.
    config : :class:`TrainConfig`.
    augment : ``f(x, generator) -> x`` applied to training inputs (tensors) only.
    val_metric : a score of the network to maximize instead of the validation AUC (e.g.
        one-shot accuracy on held-out classes).

    Under a process group (module docstring) every rank passes the same network, data and
    config — checked before the first step; ``batch_size`` is then per rank (the global
    batch is world size × ``batch_size``) and ``pairs_per_epoch`` is global.
    """
    if not isinstance(net, SiameseNetwork):
        raise TypeError(f"net must be a SiameseNetwork; got {type(net).__name__}.")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig (e.g. TrainConfig(epochs=10)); got {type(config).__name__}.")
    labeled = _as_labeled(data, "data")
    for name, d in (("data", labeled), ("val", _as_labeled(val, "val") if val is not None else None)):
        if isinstance(d, PairSet):
            _check_encoder_fits(net, d.x1, f"{name} x1")
            _check_encoder_fits(net, d.x2, f"{name} x2")
        elif d is not None:
            _check_encoder_fits(net, d[0], f"{name} X")
    initial, was_training = copy.deepcopy(net.state_dict()), net.training
    try:
        return _train(net, data, val=val, config=config, augment=augment, val_metric=val_metric)
    except BaseException:
        net.load_state_dict(initial)  # copies into the existing Parameter objects
        net.train(was_training)
        raise


def _train(net: SiameseNetwork, data: Any, *, val: Any, config: TrainConfig | None,
           augment: Augment | None, val_metric: Callable[[SiameseNetwork], float] | None) -> History:
    if not isinstance(net, SiameseNetwork):
        raise TypeError(f"net must be a SiameseNetwork; got {type(net).__name__}.")
    cfg = config or TrainConfig()
    cfg.validate()
    data = _as_labeled(data, "data")
    validator = _Validator(_as_labeled(val, "val") if val is not None else data, cfg)

    world, ddp = cd.world_size(), None
    if world > 1:
        ddp = _data_parallel(net, data, cfg, val=val, augment=augment, val_metric=val_metric)
    rng = as_generator(cfg.seed)
    torch.manual_seed(cfg.seed)
    tgen = torch.Generator().manual_seed(cfg.seed)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = (torch.optim.Adam(params, lr=cfg.lr) if cfg.optimizer == "adam"
           else torch.optim.SGD(params, lr=cfg.lr))
    initial_state = copy.deepcopy(net.state_dict())
    best_state = copy.deepcopy(initial_state)
    hist = History()
    warned = False
    start = time.perf_counter()
    out_of_time = False
    bar = tqdm(range(cfg.epochs), desc=f"siamese[{cfg.loss}]", leave=False,
               disable=cd.progress_disabled(cfg.progress))
    for epoch in bar:
        net.train()
        losses: list[float] = []
        for batch, n_global in _epoch_batches(data, cfg, rng, net, augment, tgen, rank=cd.rank(), world=world):
            if ddp is None:
                loss = value = _step_loss(net, cfg, batch)
            else:
                loss, value = _distributed_step(ddp, net, cfg, batch, n_global)
            if cfg.l2 > 0:
                penalty = cfg.l2 * l2_of_weights(net.encoder)
                loss, value = loss + penalty, value + penalty.detach()
            if not torch.isfinite(value):
                net.load_state_dict(initial_state)
                raise ValueError(f"the loss became non-finite at epoch {epoch}; the initial weights "
                                 "were restored. Lower lr or scale the inputs.")
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(value.detach()))
            if cfg.time_limit_s is not None:
                out_of_time = time.perf_counter() - start > cfg.time_limit_s
                if ddp is not None:
                    out_of_time = cd.rank0_decides(out_of_time)
                if out_of_time:
                    break
        d_pos, d_neg, auc = validator(net)
        score = float(val_metric(net)) if val_metric is not None else auc
        row = {"epoch": epoch, "seconds": time.perf_counter() - start, "loss": float(np.mean(losses)), "d_pos": d_pos, "d_neg": d_neg,
               "val_score": score}
        hist.epochs.append(row)
        log.info("epoch %d loss %.4f d+ %.4f d- %.4f val %.4f", epoch, row["loss"], d_pos, d_neg, score)
        bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{score:.3f}")
        gap = (d_neg - d_pos) / max(d_neg + d_pos, 1e-12)
        if np.isfinite(gap) and (gap < cfg.collapse_gap or d_neg < 1e-6):
            hist.collapsed = True
            if not warned:
                warnings.warn(
                    f"epoch {epoch}: positive and negative pairs collapsed together (mean distance "
                    f"{d_pos:.3g} vs {d_neg:.3g}, relative gap {gap:.3f} < {cfg.collapse_gap}). "
                    "The loss may lack a push on dissimilar pairs (e.g. the notes' loss), or the "
                    "margin / learning rate is off.", CollapseWarning, stacklevel=3)
                warned = True
        if np.isfinite(score) and score > hist.best_score + cfg.min_delta:
            hist.best_score, hist.best_epoch = score, epoch
            best_state = copy.deepcopy(net.state_dict())
        elif val is not None and epoch - hist.best_epoch >= cfg.patience:
            hist.stopped_early = True
            break
        if out_of_time:
            log.info("time limit of %.0f s reached after epoch %d", cfg.time_limit_s, epoch)
            hist.stopped_early = True
            break
    bar.close()
    del ddp  # its gradient hooks go with it
    if val is not None and hist.best_epoch >= 0:
        net.load_state_dict(best_state)
    net.eval()
    return hist


def _data_parallel(net: SiameseNetwork, data: Any, cfg: TrainConfig, **options: Any) -> nn.Module:
    """Check that every rank trains alike, then wrap the embedding step in DDP (rank 0's weights)."""
    from dataclasses import asdict

    from torch.nn.parallel import DistributedDataParallel

    settings = {k: v for k, v in asdict(cfg).items() if k != "progress"}
    if isinstance(data, PairSet):
        size, labels = len(data), torch.as_tensor(np.asarray(data.y, dtype=float))
    else:
        size, labels = len(data[1]), torch.as_tensor(data[1])
    cd.agree("siamese.train", network=cd.signature(net), metric=net.metric, config=settings, data_size=size,
             data_labels=labels, **{k: v is None for k, v in options.items()})
    per_step = min(size, cfg.batch_size * cd.world_size()) if isinstance(data, PairSet) else cfg.pairs_per_epoch
    if per_step < cd.world_size():
        raise ValueError(f"siamese.train: {per_step} pairs per step cannot give each of the {cd.world_size()} "
                         "ranks at least one; use more pairs or fewer ranks.")
    device = next(net.parameters()).device
    return DistributedDataParallel(_Embedder(net, cfg), device_ids=[device] if device.type == "cuda" else None)
