"""The distributed tests share one spawn of 2 Gloo ranks (see dist_all.py): a session fixture."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dist_harness import ok, run_ranks  # noqa: E402


@pytest.fixture(scope="session")
def two_ranks():
    """{area: [rank 0's result, rank 1's result]} for every scenario of dist_all.SCENARIOS."""
    per_rank = ok(run_ranks("dist_all:run_all", 2, timeout_s=240))
    return {key: [r[key] for r in per_rank] for key in per_rank[0]}

