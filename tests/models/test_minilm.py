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
