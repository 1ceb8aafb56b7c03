"""all-MiniLM-L6-v2 loaded offline: our pooling against sentence-transformers' own encoder."""

import pytest
import torch

pytest.importorskip("transformers")
st = pytest.importorskip("sentence_transformers")

from curvlab.models.minilm import load_minilm, minilm_path  # noqa: E402

TEXTS = ["A cat sits on the mat.", "Stock markets fell sharply on Monday.",
         "The kitten is resting on a rug, purring quietly while the rain falls outside."]


@pytest.fixture(scope="module")
def enc():
    return load_minilm()


def test_embeddings_match_sentence_transformers(enc):
    ref = st.SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    expected = torch.as_tensor(ref.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True))
    ours = enc.encode(TEXTS)
    assert ours.shape == (3, 384)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)


def test_real_weights_and_eval_mode_preserved(enc):
    assert sum(p.numel() for p in enc.model.parameters()) == 22_713_216   # all-MiniLM-L6-v2's size
    enc.model.train()
    enc.encode(TEXTS[:1])
    assert enc.model.training                     # encode() restores the caller's mode
    enc.model.eval()


def test_bad_input(enc, tmp_path):
    with pytest.raises(TypeError, match="list of strings"):
        enc.encode("one string")
    with pytest.raises(ValueError, match="config.json"):
        load_minilm(tmp_path)


def test_save_gives_a_sentence_transformers_model_with_the_same_embeddings(tmp_path):
    """save(dir) of a model pruned with torch.nn.utils.prune masks: SentenceTransformer(dir) and
    transformers both load it; the embeddings equal the masked model's in curvlab (unit rows),
    and the caller's model keeps its masks."""
    from torch.nn.utils import prune as torch_prune

    enc = load_minilm()
    layer = enc.model.encoder.layer[0].intermediate.dense
    torch_prune.l1_unstructured(layer, "weight", amount=0.5)              # a pruned, masked model
    expected = enc.encode(TEXTS)
    out = enc.save(tmp_path / "saved")
    assert hasattr(layer, "weight_mask") and torch_prune.is_pruned(enc.model)   # caller's model untouched
    ref = torch.as_tensor(st.SentenceTransformer(str(out), device="cpu", local_files_only=True)
                          .encode(TEXTS, convert_to_numpy=True))               # no normalize flag: the files say so
    torch.testing.assert_close(ref.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ref, expected, atol=1e-5, rtol=1e-4)
    import transformers

    W = transformers.AutoModel.from_pretrained(out).encoder.layer[0].intermediate.dense.weight
    torch.testing.assert_close(W, layer.weight.detach())                   # weight_orig ⊙ mask, made permanent
    assert float((W == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)
