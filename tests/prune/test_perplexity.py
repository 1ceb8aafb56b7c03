"""Perplexity against a naive per-token loop, and the held-out texts and calibration windows."""

import math

import pytest
import torch

from curvlab.prune import llm_eval as ppl


@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


def test_perplexity_equals_a_naive_per_token_loop(tiny_lm):
    tokens = torch.randint(0, 40, (47,), generator=torch.Generator().manual_seed(1))
    seq_len = 10                                                     # 4 windows; the last 7 tokens dropped
    nll, count = 0.0, 0
    with torch.no_grad():
        for w in range(4):
            window = tokens[w * seq_len:(w + 1) * seq_len]
            for t in range(1, seq_len):                              # predict token t from tokens < t alone
                logits = tiny_lm(window[None, :t]).logits[0, -1].double()
                nll -= float(torch.log_softmax(logits, 0)[window[t]])
                count += 1
    ref = math.exp(nll / count)
    assert ppl.perplexity(tiny_lm, tokens, seq_len, batch_size=3) == pytest.approx(ref, rel=1e-9)
    assert ppl.perplexity(tiny_lm, tokens, seq_len, max_windows=4) == pytest.approx(ref, rel=1e-9)


def test_perplexity_rejects_bad_input(tiny_lm):
    with pytest.raises(TypeError, match="tokens must be"):
        ppl.perplexity(tiny_lm, torch.zeros(20))
    with pytest.raises(ValueError, match="fewer than one window"):
        ppl.perplexity(tiny_lm, torch.arange(5), seq_len=10)
    with pytest.raises(ValueError, match="seq_len"):
        ppl.perplexity(tiny_lm, torch.arange(5), seq_len=1)
    broken = type(tiny_lm)(tiny_lm.config).eval()
    with torch.no_grad():
        broken.lm_head.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="not finite"):
        ppl.perplexity(broken, torch.arange(20) % 40, seq_len=10)


def test_domain_splits_are_disjoint_documents():
    for domain in ("python-docs", "r-help"):
        parts = {s: set(ppl.domain_text(domain, s).split("\n\n")) for s in ppl.SPLITS}
        assert all(parts[s] for s in ppl.SPLITS)
        assert not parts["calibration"] & parts["test"] and not parts["validation"] & parts["test"]
    with pytest.raises(ValueError, match="domain must be"):
        ppl.domain_text("news", "test")
    with pytest.raises(ValueError, match="split must be"):
        ppl.domain_text("reviews", "train")


def test_calibration_windows_come_from_the_calibration_text_of_each_domain():
    class Chars:                                                      # a character-level tokenizer
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(c) % 1000 for c in text]}

    batches = ppl.calibration_batches(Chars(), 6, 40, batch_size=4, seed=3)
    assert [b["input_ids"].shape for b in batches] == [(4, 40), (2, 40)]
    ids = torch.cat([b["input_ids"] for b in batches])
    for i, domain in enumerate(["python-docs", "reviews"] * 3):
        text = "".join(chr(c) for c in ids[i].tolist())
        assert text in ppl.domain_text(domain, "calibration")[: 40 * 40 * 3 * 12]
    with pytest.raises(ValueError, match="domains"):
        ppl.calibration_batches(Chars(), 4, 8, domains=("news",))
    with pytest.raises(ValueError, match="n_sequences"):
        ppl.calibration_batches(Chars(), 0, 8)
