"""Siamese training under DDP on 2 Gloo ranks (batch B/2 each) equals one process with batch B.

Reference: :func:`curvlab.siamese.train` in this process with the global batch, float64: the
per-epoch loss curve and the final weights, for a per-pair loss (contrastive, SGD), triplets
(Adam) and the in-batch softmax over the gathered global batch (Adam, L2 term)."""

import numpy as np
import pytest

from dist_harness import area


@pytest.fixture(scope="module")
def results(two_ranks):
    import dist_siamese_workers as w

    return area(two_ranks, "siamese"), w.reference()


@pytest.mark.parametrize("loss", ["contrastive", "triplet", "in_batch"])
def test_loss_curve_and_weights_equal_one_process(results, loss):
    (r0, r1), ref = results
    np.testing.assert_allclose(r0[loss]["loss"], ref[loss]["loss"], rtol=1e-10)
    np.testing.assert_allclose(r0[loss]["weights"], ref[loss]["weights"], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(r0[loss]["weights"], r1[loss]["weights"])
    assert np.ptp(ref[loss]["loss"]) > 1e-4      # the weights moved: the comparison is not trivial


def test_ranks_that_disagree_are_refused_on_every_rank(two_ranks):
    r0, r1 = area(two_ranks, "siamese_failures")
    for out in (r0, r1):
        kind, msg = out["model_differs"]
        assert kind == "ValueError" and "siamese.train's network (entry 0)" in msg and "(9, 4)" in msg, msg
        kind, msg = out["config_differs"]
        assert kind == "ValueError" and "config['lr']: rank 0 has 0.001, rank 1 has 0.002" in msg, msg
        kind, msg = out["bad_config_one_rank"]
        assert kind == "ValueError" and "epochs" in msg, msg
    assert r0["bad_config_one_rank"][1].startswith("rank 1 failed in siamese.train")
