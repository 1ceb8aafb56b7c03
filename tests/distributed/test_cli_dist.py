"""``python -m curvlab`` under torchrun (its environment, 2 ranks): the process group the command
line starts (Gloo on CPU), output on rank 0 only, and an error on one rank that ends the
other with that rank's message (reference: the message rank 1 raised)."""

from dist_harness import ok, run_ranks


def test_torchrun_session_one_output_and_one_error_for_every_rank():
    r0, r1 = ok(run_ranks("dist_cli_workers:session", 2, torchrun_env=True, fail_on=1, timeout_s=60))
    assert r0["world"] == r1["world"] == 2 and r0["backend"] == "gloo"
    assert r0["prints_to_terminal"] and not r1["prints_to_terminal"]
    assert r0["written_by"] == r1["written_by"] == "rank 0"          # on_main_process: rank 0 runs, all get it
    assert r0["write_error"] == ("OSError", "disk full on rank 0")
    assert r1["write_error"] == ("DistributedError", "rank 0 failed in writing the output: OSError: disk full on rank 0")
    assert r1["error"] == ("ValueError", "bad --corpus on rank 1")
    kind, msg = r0["error"]
    assert kind == "DistributedError" and "rank 1 failed: ValueError: bad --corpus on rank 1" in msg, msg
    assert r0["group_left"] and r1["group_left"]
