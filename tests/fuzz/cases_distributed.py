"""Bad-input cases for :mod:`curvlab.distributed`, without a process group (the checks run the
same in one process as under torchrun; the 2-rank behaviour is in tests/distributed). Run by
``test_fuzz.py``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from curvlab import distributed as cd

from ._case import Case

VE, TE = ValueError, TypeError
T = "curvlab.distributed."


def _stage(*args, **kwargs):
    with cd.stage(*args, **kwargs):
        pass


def _raising_on_every_rank():
    @cd.raises_on_every_rank("check")
    def check(x):
        if x < 0:
            raise ValueError(f"x must be >= 0; got {x}.")
        return x
    return check(-1)


def _init_env_timeout(value: str):
    import os

    old = os.environ.get("CURVLAB_DIST_TIMEOUT")
    os.environ["CURVLAB_DIST_TIMEOUT"] = value
    try:
        return cd.init_from_env()
    finally:
        if old is None:
            os.environ.pop("CURVLAB_DIST_TIMEOUT")
        else:
            os.environ["CURVLAB_DIST_TIMEOUT"] = old


def _on_main_intact():
    """A failing ``fn`` on the main process: its own exception, the caller's tensor untouched."""
    t = torch.arange(3.0)

    def write():
        t.add_(0)                                    # reads and leaves t as it was
        raise ValueError("path must be writable; got /nonexistent")
    try:
        cd.on_main_process(write, what="writing")
    finally:
        assert torch.equal(t, torch.arange(3.0))


CASES: list[Case] = [
    # the sums and broadcasts: tensors only, src a rank of the group
    Case(T + "all_reduce_sum", "dtype", lambda: cd.all_reduce_sum([1.0, 2.0]), raises=TE, match=r"all_reduce_sum: t must be a torch\.Tensor; got list"),
    Case(T + "all_reduce_sum", "dtype", lambda: cd.all_reduce_sum(np.ones(3)), raises=TE, match=r"t must be a torch\.Tensor; got ndarray"),
    Case(T + "all_reduce_sum", "one_row", lambda: cd.all_reduce_sum(torch.tensor(2.5)),   # identity alone
         raises=None, check=lambda t: float(t) == 2.5),
    Case(T + "broadcast", "dtype", lambda: cd.broadcast(3.0), raises=TE, match=r"broadcast: t must be a torch\.Tensor"),
    Case(T + "broadcast", "range", lambda: cd.broadcast(torch.ones(2), src=1), raises=VE, match=r"src must be a rank in \[0, 1\)"),
    Case(T + "broadcast", "range", lambda: cd.broadcast(torch.ones(2), src=-1), raises=VE, match=r"src must be a rank"),
    Case(T + "broadcast", "dtype", lambda: cd.broadcast(torch.ones(2), src="0"), raises=TE, match=r"src must be an integer rank"),
    Case(T + "broadcast", "dtype", lambda: cd.broadcast(torch.ones(2), src=0.0), raises=TE, match=r"src must be an integer rank"),
    Case(T + "rank0_decides", "dtype", lambda: cd.rank0_decides("no"), raises=TE, match=r"flag must be a bool; got str"),
    Case(T + "rank0_decides", "dtype", lambda: cd.rank0_decides(torch.tensor([True, False])), raises=TE, match=r"flag must be a bool"),
    Case(T + "rank0_decides", "dtype", lambda: cd.rank0_decides(True, device=3.5), raises=TE, match=r"device must be a torch\.device or a string"),
    Case(T + "rank0_decides", "range", lambda: cd.rank0_decides(True, device="gpu0"), raises=VE, match=r"device 'gpu0' is not a device"),
    Case(T + "rank0_decides", "dtype", lambda: cd.rank0_decides(np.bool_(True)),            # numpy's bool is a bool
         raises=None, check=lambda r: r is True),
    # counts and gathers
    Case(T + "global_count", "range", lambda: cd.global_count(-1), raises=VE, match=r"global_count: n must be >= 0"),
    Case(T + "global_count", "dtype", lambda: cd.global_count(2.5), raises=TE, match=r"n must be an integer count"),
    Case(T + "global_count", "dtype", lambda: cd.global_count("3"), raises=TE, match=r"n must be an integer count"),
    Case(T + "global_count", "dtype", lambda: cd.global_count(True), raises=TE, match=r"n must be an integer count"),
    Case(T + "global_count", "nan", lambda: cd.global_count(math.nan), raises=TE, match=r"n must be an integer count"),
    Case(T + "global_count", "dtype", lambda: cd.global_count(np.int64(7)), raises=None, check=lambda n: n == 7 and type(n) is int),
    Case(T + "all_gather_cat", "dtype", lambda: cd.all_gather_cat(np.ones((2, 3))), raises=TE, match=r"all_gather_cat: x must be a torch\.Tensor"),
    Case(T + "all_gather_cat", "shape", lambda: cd.all_gather_cat(torch.tensor(1.0)), raises=VE, match=r"x must have a first \(sample\) dimension"),
    Case(T + "all_gather_cat", "empty", lambda: cd.all_gather_cat(torch.zeros(0, 3)),      # an empty shard is data
         raises=None, check=lambda x: tuple(x.shape) == (0, 3)),
    # failures and their exchange
    Case(T + "exchange", "dtype", lambda: cd.exchange(1, error="it failed"), raises=TE, match=r"exchange: error must be an exception"),
    Case(T + "exchange", "dtype", lambda: cd.exchange(1, what=3), raises=TE, match=r"exchange: what must be a string"),
    Case(T + "exchange", "fault", lambda: cd.exchange(error=ValueError("x must be finite")), raises=VE, match=r"^x must be finite$"),
    Case(T + "stage", "dtype", lambda: _stage(None), raises=TE, match=r"stage: what must be a string"),
    Case(T + "stage", "dtype", lambda: _stage("fit", active="yes"), raises=TE, match=r"active must be True, False or None"),
    Case(T + "raises_on_every_rank", "dtype", lambda: cd.raises_on_every_rank(print), raises=TE, match=r"raises_on_every_rank: what must be a string"),
    Case(T + "raises_on_every_rank", "dtype", lambda: cd.raises_on_every_rank("fit", when=True), raises=TE, match=r"when must be callable"),
    Case(T + "raises_on_every_rank", "dtype", lambda: cd.raises_on_every_rank("fit")(42), raises=TE, match=r"must be callable; got int"),
    Case(T + "raises_on_every_rank", "fault", _raising_on_every_rank, raises=VE, match=r"^x must be >= 0; got -1\.$"),
    Case(T + "post_failure", "dtype", lambda: cd.post_failure("rank 0 failed"), raises=TE, match=r"post_failure: exc must be the exception"),
    Case(T + "sum_or_raise", "dtype", lambda: cd.sum_or_raise(torch.ones(3), like=torch.ones(3)), raises=TE, match=r"sum_or_raise: compute must be callable"),
    Case(T + "sum_or_raise", "dtype", lambda: cd.sum_or_raise(lambda: torch.ones(3), like=3), raises=TE, match=r"sum_or_raise: like must be a torch\.Tensor"),
    Case(T + "sum_or_raise", "shape", lambda: cd.sum_or_raise(lambda: torch.ones(4), like=torch.ones(3)), raises=VE,
         match=r"compute\(\) must return a tensor of like's shape \(3,\); got shape \(4,\)"),
    Case(T + "sum_or_raise", "dtype", lambda: cd.sum_or_raise(lambda: 3.0, like=torch.ones(())), raises=VE,
         match=r"compute\(\) must return a tensor of like's shape \(\); got float"),
    Case(T + "sum_or_raise", "fault", lambda: cd.sum_or_raise(lambda: 1 / 0, like=torch.ones(())), raises=ZeroDivisionError, match=r"division by zero"),
    # agreement and shards
    Case(T + "agree", "dtype", lambda: cd.agree(None, tol=1e-6), raises=TE, match=r"agree: what must be a string"),
    Case(T + "agree", "nan", lambda: cd.agree("lanczos", tol=math.nan),                     # one rank agrees with itself
         raises=None, check=lambda r: r is None),
    Case(T + "signature", "dtype", lambda: cd.signature(3), raises=TE, match=r"model_or_params must be an nn\.Module or an iterable of tensors"),
    Case(T + "signature", "dtype", lambda: cd.signature(torch.ones(3)), raises=TE, match=r"model_or_params must be an nn\.Module or an iterable"),
    Case(T + "signature", "dtype", lambda: cd.signature([torch.ones(2), 1.0]), raises=TE, match=r"must hold tensors only; entry 1 is float"),
    Case(T + "signature", "empty", lambda: cd.signature(nn.ReLU()), raises=None, check=lambda s: s == []),
    Case(T + "check_shards", "empty", lambda: cd.check_shards("fit", 0), raises=VE, match=r"fit: data is empty on rank\(s\) \[0\]"),
    Case(T + "check_shards", "range", lambda: cd.check_shards("fit", -3), raises=VE, match=r"n_local must be >= 0"),
    Case(T + "check_shards", "dtype", lambda: cd.check_shards("fit", 2.5), raises=TE, match=r"n_local must be an integer count"),
    Case(T + "check_shards", "dtype", lambda: cd.check_shards(7, 2), raises=TE, match=r"check_shards: what must be a string"),
    Case(T + "refuse_empty_shards", "empty", lambda: cd.refuse_empty_shards([3, 0], "fit", "pairs"), raises=VE,
         match=r"fit: pairs is empty on rank\(s\) \[1\] \(samples per rank \[3, 0\]\)"),
    Case(T + "refuse_empty_shards", "dtype", lambda: cd.refuse_empty_shards(5, "fit"), raises=TE, match=r"counts must be a list"),
    Case(T + "refuse_empty_shards", "range", lambda: cd.refuse_empty_shards([2, -1], "fit"), raises=VE, match=r"counts \(each entry\) must be >= 0"),
    # launch and output
    Case(T + "backend_for", "dtype", lambda: cd.backend_for(1.5), raises=TE, match=r"backend_for: device must be a torch\.device or a string"),
    Case(T + "backend_for", "range", lambda: cd.backend_for("npu:x"), raises=VE, match=r"device 'npu:x' is not a device"),
    Case(T + "init_from_env", "range", lambda: cd.init_from_env(timeout_s=0), raises=VE, match=r"timeout_s must be a finite number of seconds > 0"),
    Case(T + "init_from_env", "inf", lambda: cd.init_from_env(timeout_s=math.inf), raises=VE, match=r"timeout_s must be a finite number"),
    Case(T + "init_from_env", "dtype", lambda: cd.init_from_env(timeout_s="600"), raises=TE, match=r"timeout_s must be a number of seconds"),
    Case(T + "init_from_env", "dtype", lambda: cd.init_from_env(device=0.5), raises=TE, match=r"init_from_env: device must be"),
    Case(T + "init_from_env", "range", lambda: _init_env_timeout("ten"), raises=VE, match=r"CURVLAB_DIST_TIMEOUT must be a number of seconds; got 'ten'"),
    Case(T + "on_main_process", "dtype", lambda: cd.on_main_process("write"), raises=TE, match=r"on_main_process: fn must be callable"),
    Case(T + "on_main_process", "fault", _on_main_intact, raises=VE, match=r"path must be writable"),
    Case(T + "print0", "dtype", lambda: cd.print0("x", sep=3), raises=TE, match=r"sep must be None or a string"),
    Case(T + "progress_disabled", "dtype", lambda: cd.progress_disabled("yes"), raises=TE, match=r"progress must be True, False or None"),
    Case(T + "progress_disabled", "dtype", lambda: cd.progress_disabled(1), raises=TE, match=r"progress must be True, False or None"),
]
