"""One spawn for the whole distributed suite: every area's scenarios on every rank, in order.

A scenario that raises is recorded as ("error", …) and the next one still runs, so one
broken area shows as its own failing tests, not as a dead spawn.
"""

from __future__ import annotations

import importlib
import traceback

SCENARIOS = [
    ("curvature", "dist_curvature_workers:ranks"),
    ("curvature_failures", "dist_curvature_workers:failures"),
    ("prune", "dist_prune_workers:ranks"),
    ("prune_failures", "dist_prune_workers:failures"),
    ("sens_rank0_only", "dist_prune_workers:rank0_calls_only"),
    ("siamese", "dist_siamese_workers:ranks"),
    ("siamese_failures", "dist_siamese_workers:failures"),
    ("rank_leaves", "dist_curvature_workers:rank_leaves"),     # last: rank 1 leaves the group
]


def run_all() -> dict:
    out = {}
    for key, target in SCENARIOS:
        module, name = target.split(":")
        try:
            out[key] = ("ok", getattr(importlib.import_module(module), name)())
        except Exception as exc:
            out[key] = ("error", type(exc).__name__, str(exc), traceback.format_exc())
    return out
