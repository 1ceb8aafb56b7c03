"""Failures on 2 Gloo ranks: one rank's error ends every rank with its message, bad input is
refused on every rank before any work, and the group keeps working afterwards (reference:
the message the failing rank raised; λ_max of the same operator computed without failures)."""

import numpy as np

from dist_harness import area


def _both(two_ranks):
    return area(two_ranks, "curvature_failures")


def test_a_failing_product_ends_every_rank_with_its_message(two_ranks):
    r0, r1 = _both(two_ranks)
    assert r1["product_fails"] == ("RuntimeError", "boom on rank 1")
    kind, msg = r0["product_fails"]
    assert kind == "DistributedError" and "rank 1 failed in HessianOperator.matvec" in msg and "boom on rank 1" in msg


def test_ranks_with_different_models_are_refused(two_ranks):
    for kind, msg in (r["model_differs"] for r in _both(two_ranks)):
        assert kind == "ValueError" and "the objective's parameters (entry 0)" in msg and "(7, 5)" in msg, msg


def test_ranks_with_different_options_are_refused(two_ranks):
    for r in _both(two_ranks):
        kind, msg = r["tol_differs"]
        assert kind == "ValueError" and "lanczos's tol" in msg and "rank 0 has 1e-06, rank 1 has 0.001" in msg, msg
        kind, msg = r["seed_differs"]
        assert kind == "ValueError" and "hutchinson's seed" in msg, msg


def test_an_empty_shard_is_refused_on_every_rank(two_ranks):
    for kind, msg in (r["empty_shard"] for r in _both(two_ranks)):
        assert kind == "ValueError" and "empty on rank(s) [1]" in msg, msg


def test_bad_input_on_one_rank_is_raised_on_every_rank(two_ranks):
    r0, r1 = _both(two_ranks)
    assert r1["bad_loss_one_rank"][0] == "ValueError" and "scalar" in r1["bad_loss_one_rank"][1]
    assert r0["bad_loss_one_rank"][0] == "ValueError" and "rank 1 failed" in r0["bad_loss_one_rank"][1]
    assert r1["bad_k_one_rank"][0] == "ValueError" and "k" in r1["bad_k_one_rank"][1]
    assert r0["bad_k_one_rank"][0] == "ValueError" and "rank 1 failed in lanczos" in r0["bad_k_one_rank"][1]


def test_the_group_still_works_after_the_failures(two_ranks):
    import dist_curvature_workers as w
    from curvlab.curvature import HessianOperator, lanczos

    r0, r1 = _both(two_ranks)
    net = w.model()
    ref = lanczos(HessianOperator(net, w.nn.CrossEntropyLoss(), w.shard(None)), k=1, tol=1e-10, max_matvecs=60).lam_max
    np.testing.assert_allclose([r0["after"], r1["after"]], ref, rtol=1e-10)


def test_a_rank_that_leaves_ends_the_others_with_its_message(two_ranks):
    r0, r1 = area(two_ranks, "rank_leaves")
    assert r1 == ("RuntimeError", "left on rank 1")
    kind, msg = r0
    assert kind == "DistributedError" and "rank 1 failed: RuntimeError: left on rank 1" in msg, msg
