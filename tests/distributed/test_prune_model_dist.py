"""prune_model on 2 Gloo ranks (each its own calibration batches) equals one process on all of
them: the same masks and weights on every rank (reference: prune_model in this process), and a
bad input on one rank ends every rank with its message, each model restored."""

import re

import numpy as np
import pytest
from dist_harness import ok, run_ranks


@pytest.fixture(scope="module")
def two_ranks():
    return ok(run_ranks("dist_prune_model_workers:ranks", 2, timeout_s=180))


@pytest.mark.parametrize("setting", ["unstructured", "2:4"])
def test_prune_model_two_ranks_equal_one_process(two_ranks, setting):
    import dist_prune_model_workers as w

    r0, r1 = (r[setting] for r in two_ranks)
    ref = w._run(w._batches(), **w.SETTINGS[setting])
    assert set(r0) == set(ref) and ref
    for name, W in ref.items():
        np.testing.assert_array_equal(r0[name], r1[name], err_msg=f"ranks differ: {name}")
        np.testing.assert_array_equal(r0[name] == 0, W == 0, err_msg=f"mask {name}")
        np.testing.assert_allclose(r0[name], W, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("scenario, kinds, pattern", [
    ("bad_batch", ("ValueError", "ValueError"), r"rank 1 failed in prune_model.*cannot run on the calibration"),
    ("disagree", ("ValueError", "ValueError"), r"ranks disagree on prune_model's sparsity: rank 0 has 0.5, rank 1 has 0.6"),
    ("empty", ("ValueError", "ValueError"), r"calibration is empty"),
    ("mid_pass", ("ValueError", "ValueError"), r"activations contain NaN or infinity"),
    ("sensitivity_pass", ("ValueError", "ValueError"), r"failed on rank 0's sensitivity pass"),
])
def test_bad_input_on_one_rank_ends_every_rank(two_ranks, scenario, kinds, pattern):
    results = [r[scenario] for r in two_ranks]
    assert tuple(kind for kind, _, _ in results) == kinds, results
    for rank, (_, message, intact) in enumerate(results):
        assert intact, f"rank {rank}'s model was not restored"
        if scenario != "bad_batch" or rank == 0:     # rank 1 raises its own error, rank 0 names rank 1
            assert re.search(pattern, message), (rank, message)
        else:
            assert "cannot run on the calibration" in message, message
