"""Layer Hessians from hooks vs explicit H = 2XXᵀ/N built by hand (float64)."""

import pytest
import torch
from torch import nn

from curvlab.curvature.layer_hessian import HessianCollector, LayerHessian, damp, layer_inputs, weight_matrix


def test_linear_hessian_matches_explicit_over_batches():
    # reference: the explicit 2XᵀX/N over all rows of all batches
    torch.manual_seed(0)
    lin = nn.Linear(5, 3).double()
    batches = [torch.randn(7, 5, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)]
    with HessianCollector({"lin": lin}) as hc:
        for x in batches:
            lin(x)
    X = torch.cat([b.reshape(-1, 5) for b in batches])                    # (15, 5)
    torch.testing.assert_close(hc["lin"].H, 2 * X.T @ X / X.shape[0])
    assert hc["lin"].n_samples == 15
    lin(batches[0])                                                       # hooks are gone after exit
    assert hc["lin"].n_samples == 15


def test_token_mask_drops_padding():
    torch.manual_seed(1)
    lin = nn.Linear(4, 2).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    with HessianCollector({"lin": lin}) as hc:
        hc.token_mask = mask
        lin(x)
    X = torch.stack([x[0, 0], x[0, 1], x[1, 0]])                          # the 3 real tokens
    torch.testing.assert_close(hc["lin"].H, 2 * X.T @ X / 3)


def test_conv2d_rows_reproduce_the_convolution():
    # reference: torch's own conv2d — W.flatten(1) @ unfolded rows must give its output
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, kernel_size=3, padding=1, stride=2).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    rows = layer_inputs(conv, x)                                          # (B·L, 18)
    out = conv(x)                                                         # (2, 3, 3, 3)
    ref = out.permute(0, 2, 3, 1).reshape(-1, 3) - conv.bias
    torch.testing.assert_close(rows @ weight_matrix(conv).T, ref)
    h = LayerHessian(conv)
    h.add_batch(x)
    torch.testing.assert_close(h.H, 2 * rows.T @ rows / rows.shape[0])


def test_hf_conv1d_is_a_transposed_linear():
    from transformers.pytorch_utils import Conv1D

    torch.manual_seed(3)
    layer = Conv1D(4, 6).double()                                         # nf=4 outputs, nx=6 inputs
    x = torch.randn(3, 6, dtype=torch.float64)
    torch.testing.assert_close(layer_inputs(layer, x) @ weight_matrix(layer).T, layer(x) - layer.bias)


def test_damp_dead_inputs_and_scale():
    H = torch.diag(torch.tensor([2.0, 0.0, 4.0], dtype=torch.float64))
    H_d, dead = damp(H, 0.1)
    assert dead.tolist() == [False, True, False]
    torch.testing.assert_close(torch.diagonal(H_d), torch.tensor([2.3, 1.0, 4.3], dtype=torch.float64))


def test_bad_inputs():
    with pytest.raises(TypeError, match="nn.Linear"):
        LayerHessian(nn.LayerNorm(3))
    with pytest.raises(TypeError, match="groups"):
        LayerHessian(nn.Conv2d(4, 4, 3, groups=2))
    h = LayerHessian(nn.Linear(2, 1))
    with pytest.raises(ValueError, match="NaN"):
        h.add_batch(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="empty"):
        HessianCollector({})
    with pytest.raises(ValueError, match="damping"):
        damp(torch.eye(2), -1.0)
