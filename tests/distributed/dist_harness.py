"""Run a scenario function on k Gloo ranks (spawned processes) and collect each rank's result.

``run_ranks("module:function", k, ...)`` starts k fresh interpreters with
``torch.multiprocessing`` (spawn), joins them in a Gloo group on a free port of 127.0.0.1,
calls ``function(**kwargs)`` on every rank and returns, per rank, ``("ok", result)`` or
``("error", type name, message)``. A rank that does not answer within ``timeout_s`` fails
the test (the processes are then terminated): a hang is a failure, never a blocked suite.
The module must live in this directory (it is put on the children's ``sys.path``).
"""

from __future__ import annotations

import importlib
import os
import queue
import socket
import sys
import time
import traceback
from pathlib import Path

import torch.multiprocessing as mp

HERE = str(Path(__file__).resolve().parent)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child(rank: int, world: int, port: int, target: str, kwargs: dict, results, group_timeout_s: float,
           torchrun_env: bool = False) -> None:
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    try:
        if torchrun_env:  # what torchrun sets; the scenario initializes the group itself
            os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                              MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                              CURVLAB_DIST_TIMEOUT=str(group_timeout_s))
        else:
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                    timeout=datetime.timedelta(seconds=group_timeout_s))
        module, name = target.split(":")
        fn = getattr(importlib.import_module(module), name)
        results.put((rank, ("ok", fn(**kwargs))))
    except BaseException as exc:  # reported to the parent, which asserts on it
        results.put((rank, ("error", type(exc).__name__, str(exc), traceback.format_exc())))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_ranks(target: str, world: int = 2, *, timeout_s: float = 90.0, group_timeout_s: float = 30.0,
              torchrun_env: bool = False, **kwargs) -> list[tuple]:
    """Each rank's ``("ok", result)`` or ``("error", kind, message, traceback)``, in rank order.

    ``torchrun_env``: instead of joining a group, set torchrun's variables (RANK, WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT, LOCAL_RANK) and let the scenario start the group.
    """
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        procs = [ctx.Process(target=_child, args=(r, world, port, target, kwargs, results, group_timeout_s, torchrun_env))
                 for r in range(world)]
        for p in procs:
            p.start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out: dict[int, tuple] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < world:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"ranks {sorted(set(range(world)) - set(out))} did not finish within "
                                     f"{timeout_s} s (a hang)")
            try:
                r, res = results.get(timeout=min(left, 1.0))
                out[r] = res
            except queue.Empty:
                dead = [i for i, p in enumerate(procs) if i not in out and p.exitcode not in (None, 0)]
                if dead:
                    raise AssertionError(f"ranks {dead} died without a result (exit codes "
                                         f"{[procs[i].exitcode for i in dead]})") from None
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return [out[r] for r in range(world)]


def ok(results: list[tuple]) -> list:
    """The results, after asserting that every rank succeeded (else its traceback)."""
    for r, res in enumerate(results):
        assert res[0] == "ok", f"rank {r} failed: {res[1]}: {res[2]}\n{res[3]}"
    return [res[1] for res in results]


def area(two_ranks: dict, key: str) -> list:
    """The two ranks' results of one area of dist_all, after asserting that it ran on both."""
    results = two_ranks[key]
    for r, res in enumerate(results):
        assert res[0] == "ok", f"{key} failed on rank {r}: {res[1]}: {res[2]}\n{res[3]}"
    return [res[1] for res in results]
