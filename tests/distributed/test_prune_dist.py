"""prune_global and the calibration accumulators on 2 Gloo ranks equal one process.

Reference: the same calls in this process on the concatenated calibration data (float64
statistics). Shards are unequal (20 and 17 rows; rank 0's rows in three forward calls)."""

import numpy as np
import pytest

from dist_harness import area
from dist_prune_workers import CURVATURES


@pytest.fixture(scope="module")
def results(two_ranks):
    import dist_prune_workers as w

    return area(two_ranks, "prune"), w.reference()


@pytest.mark.parametrize("curvature", CURVATURES)
def test_prune_global_weights_equal_one_process(results, curvature):
    (r0, r1), ref = results
    for name, w in ref[curvature].items():
        np.testing.assert_array_equal(r0[curvature][name] == 0, w == 0, err_msg=f"{curvature} mask {name}")
        np.testing.assert_allclose(r0[curvature][name], w, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(r0[curvature][name], r1[curvature][name], err_msg=f"ranks differ: {name}")
    assert r0[curvature + ":loss_after"] == pytest.approx(ref[curvature + ":loss_after"], rel=1e-5)


@pytest.mark.parametrize("key", ["H0", "mean0", "n0", "H2", "mean2", "n2", "sens0", "sens2"])
def test_layer_statistics_equal_one_process(results, key):
    (r0, r1), ref = results
    np.testing.assert_allclose(r0[key], ref[key], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(r0[key], r1[key])


def test_bad_input_is_refused_on_every_rank(two_ranks):
    r0, r1 = area(two_ranks, "prune_failures")
    for out in (r0, r1):
        kind, msg = out["empty_shard"]
        assert kind == "ValueError" and "(> 0)" in msg and "X (0, 6)" in msg, msg
        kind, msg = out["sparsity_differs"]
        assert kind == "ValueError" and "prune_global's sparsity: rank 0 has 0.5, rank 1 has 0.6" in msg, msg
        kind, msg = out["model_differs"]
        assert kind == "ValueError" and "prune_global's model (entry 0)" in msg and "(9, 6)" in msg, msg
        kind, msg = out["no_calls_anywhere"]
        assert kind == "ValueError" and "calls is empty on every rank" in msg, msg
        kind, msg = out["bad_probes_one_rank"]
        assert kind == "ValueError" and "probes must be an integer >= 1; got 0" in msg, msg
    assert r0["bad_probes_one_rank"][1].startswith("rank 1 failed in output_sensitivities")
    assert r0["empty_shard"][1].startswith("rank 1 failed in prune_global")


def test_sensitivities_with_calls_on_rank_0_only_equal_one_process(two_ranks):
    import dist_prune_workers as w

    r0, r1 = area(two_ranks, "sens_rank0_only")
    ref = w.rank0_calls_reference()
    for name in ref:
        np.testing.assert_allclose(r0[name], ref[name], rtol=1e-12)
        np.testing.assert_array_equal(r0[name], r1[name])
