"""The tiny random BERT and its padded calibration batches, shared by the driver tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def tiny():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=16)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(3):
        ids = torch.randint(1, 50, (4, 10), generator=g)
        mask = torch.ones(4, 10, dtype=torch.long)
        mask[0, 6:] = 0                                                   # padding
        mask[2, 3:] = 0
        batches.append({"input_ids": ids * mask, "attention_mask": mask})
    return model, batches


def _inputs_of(model, module, batches):
    """Independent reference: the real (unpadded) inputs of ``module`` on each batch, float64,
    gathered by a hook on full forward passes of ``model``."""
    rows = []
    h = module.register_forward_hook(lambda m, a, out: rows.append(a[0]))
    with torch.no_grad():
        for b in batches:
            model(**b)
    h.remove()
    return [x[b["attention_mask"].bool()].double() for x, b in zip(rows, batches)]


@pytest.fixture
def inputs_of():
    return _inputs_of
