"""Data-parallel curvlab on torch.distributed: measured on this machine, and a cost model at scale.

    .venv/bin/python benchmarks/bench_distributed.py hvp   [--repeats 40] [--ranks 1,2]
    .venv/bin/python benchmarks/bench_distributed.py calib [--texts 64] [--ranks 1,2]
    .venv/bin/python benchmarks/bench_distributed.py model

* ``hvp``: Hessian-vector products of the digits CNN (``bench_curvature.py``'s SmallCNN, P = 3 818,
  cross-entropy, all 1 797 digits, float32) with k = 1 and 2 Gloo processes (each the cached
  ``HessianOperator`` of its shard, then one all_reduce of P + 1 numbers per product). Per rank:
  CPU seconds per product (``time.process_time``, one BLAS thread), the CPU seconds of the
  all_reduce alone, wall seconds; and the bytes each product moves.
* ``calib``: calibration Hessians of all 36 Linear layers of all-MiniLM-L6-v2 (packaged weights)
  from ``--texts`` reviews, split between the ranks: CPU seconds of the accumulation (forward
  passes + hooks) per rank and of ``HessianCollector.reduce_``, the bytes reduced, and the
  largest relative difference of the reduced H from one process's H.
* ``model``: the paper model of one product at scale (printed; assumptions in BENCHMARKS.md).

The machine is shared (2 cores, several other jobs): wall times are not speed, CPU seconds are.
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, part: str, args: dict, out) -> None:
    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=600))
    try:
        out.put((rank, {"hvp": _hvp, "calib": _calib}[part](rank, world, **args)))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(part: str, world: int, **args) -> list[dict]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    port = _port()
    procs = [ctx.Process(target=_worker, args=(r, world, port, part, args, out)) for r in range(world)]
    for p in procs:
        p.start()
    res = {}
    while len(res) < world:
        try:
            r, value = out.get(timeout=5)
            res[r] = value
        except Exception:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.terminate()
                raise SystemExit("a rank failed (traceback above)") from None
    for p in procs:
        p.join()
    return [res[r] for r in range(world)]


# ---------------------------------------------------------------------------------- hvp

def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1 797 scikit-learn digits, pixels / 16 (as bench_curvature.py)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target)


class SmallCNN(torch.nn.Module):
    """bench_curvature.py's digits CNN (that script imports PyHessian, a bench extra)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(1, 8, 3)    # 8×8 → 6×6
        self.conv2 = torch.nn.Conv2d(8, 16, 3)   # 6×6 → 4×4
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, 8, 8)               # (N, 64) → (N, 1, 8, 8)
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.fc(x.flatten(1))             # (N, 256) → (N, 10)


def _hvp(rank: int, world: int, repeats: int) -> dict:
    from curvlab import distributed as cd
    from curvlab.curvature import HessianOperator

    X, y = digits()
    X, y = X[rank::world], y[rank::world]                       # this rank's shard
    H = HessianOperator(SmallCNN(), torch.nn.CrossEntropyLoss(), (X, y))
    v = torch.randn(H.dim, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        H.matvec(v)                                             # warm-up
    if world > 1:
        dist.barrier()
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        H.matvec(v)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    buf = torch.zeros(H.dim + 1)
    c0 = time.process_time()
    for _ in range(repeats):
        cd.all_reduce_sum(buf)
    comm = time.process_time() - c0
    return {"P": H.dim, "n": int(X.shape[0]), "cpu_per_product": cpu / repeats, "wall_per_product": wall / repeats,
            "comm_cpu_per_product": comm / repeats}


def bench_hvp(ranks: list[int], repeats: int) -> None:
    print(f"digits CNN, cached HessianOperator, float32, {repeats} products after 3 warm-up")
    base = None
    for k in ranks:
        res = launch("hvp", k, repeats=repeats)
        P = res[0]["P"]
        cpu = max(r["cpu_per_product"] for r in res)
        wall = max(r["wall_per_product"] for r in res)
        comm = max(r["comm_cpu_per_product"] for r in res)
        nbytes = (P + 1) * 4
        ring = 2 * (k - 1) / k * nbytes
        base = base or cpu
        print(f"k={k}: shards {[r['n'] for r in res]}, CPU s/product per rank {cpu * 1e3:.2f} ms "
              f"(all_reduce {comm * 1e3:.3f} ms), products/s by CPU {1 / cpu:.1f} "
              f"(wall {1 / wall:.1f}), CPU speed-up {base / cpu:.2f}x = efficiency {base / cpu / k:.0%}; "
              f"buffer {nbytes} B, ring all_reduce sends {ring:.0f} B per rank per product")


# ---------------------------------------------------------------------------------- calibration

def _calib(rank: int, world: int, texts: int) -> dict:
    from curvlab.curvature.layer_hessian import HessianCollector, is_prunable
    from curvlab.data.texts import fine_food_reviews
    from curvlab.models.minilm import load_minilm

    enc = load_minilm()
    reviews, _ = fine_food_reviews("train", n=texts, seed=0)
    mine = reviews[rank::world]
    mods = {n: m for n, m in enc.model.named_modules() if is_prunable(m) and n.startswith("encoder.layer.")}
    c0 = time.process_time()
    with HessianCollector(mods) as hc, torch.no_grad():
        for i in range(0, len(mine), 16):
            b = enc.tokenize(mine[i:i + 16])
            hc.token_mask = b["attention_mask"]
            enc.model(**b)
    accumulate = time.process_time() - c0
    c0 = time.process_time()
    hc.reduce_()
    reduce = time.process_time() - c0
    nbytes = sum((h.d * h.d + h.d + 1) * 8 for h in hc.hessians.values())
    H = {n: hc[n].H.numpy().copy() for n in ("encoder.layer.0.attention.self.query", "encoder.layer.5.output.dense")}
    return {"texts": len(mine), "tokens": hc["encoder.layer.0.attention.self.query"].n_samples,
            "accumulate_cpu": accumulate, "reduce_cpu": reduce, "bytes": nbytes, "H": H}


def bench_calib(ranks: list[int], texts: int) -> None:
    print(f"all-MiniLM-L6-v2, 36 Linear layers, {texts} reviews in batches of 16")
    ref = None
    for k in ranks:
        res = launch("calib", k, texts=texts)
        acc = [r["accumulate_cpu"] for r in res]
        diff = 0.0
        if ref is None:
            ref = res[0]["H"]
        else:
            diff = max(float(abs(res[0]["H"][n] - ref[n]).max() / abs(ref[n]).max()) for n in ref)
        print(f"k={k}: texts per rank {[r['texts'] for r in res]}, tokens {res[0]['tokens']}, accumulation CPU s "
              f"per rank {[round(a, 2) for a in acc]} (max {max(acc):.2f}), reduce_ CPU s "
              f"{max(r['reduce_cpu'] for r in res):.3f}, statistics of {res[0]['bytes'] / 1e6:.1f} MB; "
              f"max |H_k − H_1| / max|H_1| = {diff:.1e}")


# ---------------------------------------------------------------------------------- cost model

def cost_model() -> None:
    """One Hessian-vector product over n samples per worker, k workers, ResNet-50-sized P."""
    P = 25.6e6                       # ResNet-50 parameters
    flop_fwd = 4.1e9                 # forward FLOPs per 224×224 image
    flop_hvp = 8 * flop_fwd          # gradient ≈ 3 forward passes; an HVP (reverse-over-reverse) ≈ 2.7 gradients
    F = 100e12                       # sustained FLOP/s per GPU: an H100 (989 TFLOP/s dense bf16 peak) at ~10 %
    links = {"NVLink 4 (450 GB/s per GPU, in a node)": 450e9, "InfiniBand NDR 400 Gb/s (50 GB/s) per GPU": 50e9,
             "100 Gb Ethernet (12.5 GB/s)": 12.5e9}
    alpha = 10e-6                    # per-message latency of one ring step
    bytes_P = 4 * P                  # fp32 all_reduce of P numbers
    print(f"P = {P:.3g}, HVP {flop_hvp / 1e9:.0f} GFLOP/sample, {F / 1e12:.0f} TFLOP/s sustained per worker, "
          f"all_reduce of {bytes_P / 1e6:.0f} MB (fp32) per product")
    print("compute per sample per worker: %.3f ms" % (flop_hvp / F * 1e3))
    for name, B in links.items():
        for k in (2, 8, 64, 512):
            comm = 2 * (k - 1) / k * bytes_P / B + 2 * (k - 1) * alpha     # ring all_reduce
            n_star = comm / (flop_hvp / F)                                 # samples per worker at the crossover
            print(f"  {name:45s} k={k:4d}: all_reduce {comm * 1e3:7.2f} ms = compute of {n_star:6.1f} samples/worker")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=("hvp", "calib", "model"))
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--texts", type=int, default=64)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; no GPU lent "
          "to this run" if not torch.cuda.is_available() else f"torch {torch.__version__}, CUDA")
    ranks = [int(k) for k in args.ranks.split(",")]
    if args.part == "hvp":
        bench_hvp(ranks, args.repeats)
    elif args.part == "calib":
        bench_calib(ranks, args.texts)
    else:
        cost_model()


if __name__ == "__main__":
    main()
