"""Data-parallel curvature on 2 Gloo ranks equals one process on the concatenated data.

Reference: the same functions in this (single) process on all the data, float64. The shards
are unequal (24 and 17 samples, as two batches and one), so the global weights n_b/N matter.
"""

import numpy as np
import pytest

from dist_harness import area

KEYS = ("lam_top2", "stable_lr", "hutchinson", "hutchpp", "slq_nodes", "slq_weights", "gn_lam",
        "dense_hessian", "fisher", "loss", "grad", "sharpness")


@pytest.fixture(scope="module")
def results(two_ranks):
    import dist_curvature_workers as w

    return area(two_ranks, "curvature"), w.reference()


@pytest.mark.parametrize("key", KEYS)
def test_two_ranks_equal_one_process(results, key):
    (r0, _), ref = results
    np.testing.assert_allclose(r0[key], ref[key], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("key", KEYS)
def test_every_rank_gets_the_same_numbers(results, key):
    (r0, r1), _ = results
    np.testing.assert_array_equal(r0[key], r1[key])
