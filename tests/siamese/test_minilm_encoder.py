"""The all-MiniLM-L6-v2 text encoder inside a Siamese network: same embeddings as the
loader (itself checked against sentence-transformers in tests/models), shared weights,
gradients that reach the transformer."""

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from curvlab.models.minilm import load_minilm  # noqa: E402
from curvlab.siamese import MiniLMEncoder, SiameseNetwork  # noqa: E402
from curvlab.siamese.losses import in_batch_softmax_loss  # noqa: E402

TITLES = ["Monthly airline passengers", "Motor trend car road tests", "Edgar Anderson's iris data",
          "Old Faithful geyser eruptions"]
DESCS = ["The classic Box & Jenkins airline data: monthly totals of international passengers, 1949 to 1960.",
         "Fuel consumption and ten aspects of design and performance for 32 automobiles (1973–74 models).",
         "Measurements in centimetres of sepal and petal length and width for 50 flowers of 3 species.",
         "Waiting time between eruptions and the duration of the eruption for the geyser in Yellowstone."]


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    return load_minilm()


def test_encoder_gives_the_loaders_embeddings_and_the_network_their_cosine(minilm):
    net = SiameseNetwork(MiniLMEncoder(minilm, max_length=128), metric="cosine")
    e1, e2 = minilm.encode(TITLES), minilm.encode(DESCS)
    torch.testing.assert_close(net.encode(TITLES), e1, atol=1e-6, rtol=1e-5)
    expected = torch.nn.functional.cosine_similarity(e1, e2).numpy()           # one shared encoder
    np.testing.assert_allclose(net.similarity(TITLES, DESCS), expected, atol=1e-6)


def test_one_step_on_pairs_trains_the_shared_transformer(minilm):
    state = {k: v.clone() for k, v in minilm.model.state_dict().items()}
    try:
        enc = MiniLMEncoder(minilm, max_length=32)
        net = SiameseNetwork(enc, metric="cosine").eval()  # no dropout: the gradient of the loss we compare
        params = [p for p in net.parameters() if p.requires_grad]
        assert sum(p.numel() for p in params) == 22_713_216                    # the whole transformer
        opt = torch.optim.SGD(params, lr=1e-2)
        torch.manual_seed(0)

        def loss() -> torch.Tensor:
            return in_batch_softmax_loss(*net(TITLES, DESCS))

        before = loss()
        opt.zero_grad()
        before.backward()
        reached = [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in params]
        assert np.mean(reached) > 0.95                      # gradients reach (almost) every tensor
        opt.step()
        with torch.no_grad():
            after = loss()
        assert float(after) < before.detach().item()               # a small step along −∇ lowers the pair loss
    finally:
        minilm.model.load_state_dict(state)
        minilm.model.eval()
