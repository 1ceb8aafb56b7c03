"""The command line's torchrun session on every rank (test_cli_dist.py)."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist


def session(fail_on: int | None) -> dict:
    """Enter curvlab.cli's process-group context as ``python -m curvlab`` does under torchrun,
    print, maybe fail on rank ``fail_on``, and sum a tensor over the ranks."""
    from curvlab import cli
    from curvlab import distributed as cd

    out = {}
    try:
        with cli._process_group():
            out["world"], out["backend"] = cd.world_size(), dist.get_backend()
            out["prints_to_terminal"] = sys.stdout is sys.__stdout__
            print("only rank 0 shows this")
            out["written_by"] = cd.on_main_process(lambda: f"rank {cd.rank()}", what="writing the output")

            def disk_full():
                raise OSError("disk full on rank 0")

            try:
                cd.on_main_process(disk_full, what="writing the output")
            except Exception as exc:
                out["write_error"] = (type(exc).__name__, str(exc))
            if cd.rank() == fail_on:
                raise ValueError(f"bad --corpus on rank {fail_on}")
            out["sum"] = cd.sum_or_raise(lambda: torch.ones(2) * (cd.rank() + 1), like=torch.zeros(2),
                                         what="the command").tolist()
    except Exception as exc:
        out["error"] = (type(exc).__name__, str(exc))
    out["group_left"] = not dist.is_initialized()
    return out


def prune(argv: list[str]) -> dict:
    """``python -m curvlab prune ARGV`` on this rank, as torchrun runs it: the exit code and what
    reached this rank's stdout (ranks other than 0 print nothing) and stderr."""
    import contextlib
    import io

    from curvlab import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["prune", *argv])
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "group_left": not dist.is_initialized()}
