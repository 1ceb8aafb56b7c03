"""The block-wise driver on tiny random decoders of every family it supports.

Reference: the model's own forward pass. The hidden states each block receives in a full
forward (gathered by hooks) must equal what the driver feeds it after capturing the first
block's inputs and propagating through the blocks before — which checks the causal masks,
rotary position embeddings, position ids and caches the driver passes on.
"""

import copy

import pytest
import torch

from curvlab.curvature.layer_hessian import weight_matrix
from curvlab.prune.driver import find_blocks, prune_model
from curvlab.prune.stages import capture_block_inputs


def _configs():
    from transformers import (GemmaConfig, GPT2Config, LlamaConfig, MistralConfig, OPTConfig,
                              Qwen2Config)

    common = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                  num_attention_heads=4, max_position_embeddings=64)
    return {
        "llama": LlamaConfig(num_key_value_heads=2, **common),
        "mistral": MistralConfig(num_key_value_heads=2, sliding_window=4, **common),
        # one sliding-window layer among full ones: the blocks get different causal masks
        "qwen2": Qwen2Config(num_key_value_heads=2, use_sliding_window=True, sliding_window=3, max_window_layers=1,
                             layer_types=["full_attention", "sliding_attention", "full_attention"], **common),
        "gemma": GemmaConfig(num_key_value_heads=1, head_dim=8, **common),
        "gpt2": GPT2Config(vocab_size=64, n_embd=32, n_layer=3, n_head=4, n_positions=64),
        "opt": OPTConfig(vocab_size=64, hidden_size=32, ffn_dim=64, num_hidden_layers=3, num_attention_heads=4,
                         max_position_embeddings=64, word_embed_proj_dim=32),
    }


def _model(name):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    cfg = _configs()[name]
    cfg._attn_implementation = "eager"
    return AutoModelForCausalLM.from_config(cfg).eval()


def _batches():
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(2):
        ids = torch.randint(3, 64, (3, 9), generator=g)
        mask = torch.ones(3, 9, dtype=torch.long)
        mask[1, 6:] = 0                                                 # right padding
        batches.append({"input_ids": ids, "attention_mask": mask})
    return batches


def _block_inputs(model, blocks, batches):
    """Reference: the hidden states every block receives in the model's own forward pass."""
    seen = [[] for _ in blocks]
    hooks = [b.register_forward_pre_hook(
        (lambda i: lambda m, a, kw: seen[i].append((a[0] if a else kw["hidden_states"]).clone()))(i),
        with_kwargs=True) for i, b in enumerate(blocks)]
    with torch.no_grad():
        for b in batches:
            model(**b, use_cache=False)
    for h in hooks:
        h.remove()
    return seen


FAMILIES = ["llama", "mistral", "qwen2", "gemma", "gpt2", "opt"]


@pytest.mark.parametrize("name", FAMILIES)
def test_captured_calls_reproduce_the_models_own_forward(name):
    model, batches = _model(name), _batches()
    blocks = find_blocks(model)
    assert len(blocks) == 3
    ref = _block_inputs(model, blocks, batches)
    calls = capture_block_inputs(model, blocks, batches)
    for i, block in enumerate(blocks):
        for h, r in zip(calls.hidden, ref[i]):
            torch.testing.assert_close(h, r, rtol=1e-5, atol=1e-6)
        calls.propagate(i, block)
    if name == "qwen2":                                        # the sliding layer got its own mask
        assert calls.extra[1] is not calls.extra[0] and calls.extra[2] is calls.extra[0]


@pytest.mark.parametrize("name", FAMILIES)
def test_decoders_prune_to_the_target_and_still_run(name):
    model0, batches = _model(name), _batches()
    model = copy.deepcopy(model0)
    report = prune_model(model, batches, 0.5, None, "obs", progress=False)
    assert report.overall_sparsity == pytest.approx(0.5, abs=1e-3)
    assert report.n_calibration_tokens == sum(int(b["attention_mask"].sum()) for b in batches)
    first = find_blocks(model)[0]
    lin = next(m for m in first.modules() if hasattr(m, "weight_mask"))
    assert float((weight_matrix(lin) == 0).double().mean()) > 0.3
    with torch.no_grad():
        logits = model(**batches[0], use_cache=False).logits
        dense = model0(**batches[0], use_cache=False).logits
    assert torch.isfinite(logits).all() and not torch.allclose(logits, dense)
