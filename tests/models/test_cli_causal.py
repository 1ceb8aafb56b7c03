"""`curvlab prune --model DIR` on a tiny random LLaMA: prunes, reports perplexity, saves a model
that transformers loads and that generates; a corrupt safetensors file is one clear line."""

import json
import math
import shutil

import pytest
import torch

from curvlab.cli import main


def test_prune_a_causal_lm_directory(tiny_llama_dir, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from curvlab.models.causal_lm import load_causal_lm
    from curvlab.prune.llm_eval import perplexity, token_stream

    out = tmp_path / "out"
    assert main(["prune", "--model", str(tiny_llama_dir), "--out", str(out), "--pattern", "2:4",
                 "--calibration", "4", "--seq-len", "32", "--eval", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "perplexity on r-help" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["overall_sparsity"] == pytest.approx(0.5)
    back = AutoModelForCausalLM.from_pretrained(out).eval()
    assert float((back.model.layers[1].mlp.down_proj.weight == 0).double().mean()) == pytest.approx(0.5)
    lm = load_causal_lm(out)
    for domain, p in report["perplexity"].items():                    # the reported numbers, recomputed
        stream = token_stream(lm.tokenizer, domain, "test", max_tokens=64)
        assert p["pruned"] == pytest.approx(perplexity(back, stream, 32), rel=1e-6)
        assert math.isfinite(p["dense"]) and p["windows"] == 2
    with torch.no_grad():
        gen = back.generate(lm.encode("for x in")[None], max_new_tokens=4, do_sample=False)
    assert gen.shape[1] == lm.encode("for x in").numel() + 4


def test_a_corrupt_safetensors_file_is_one_line(tiny_llama_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_llama_dir, bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    assert main(["prune", "--model", str(bad), "--out", str(out), "--calibration", "2", "--seq-len", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert "could not be loaded" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists()
