"""The notes' model (§6): hand-written gradients (38) and update (39) against autograd (float64)."""

import numpy as np
import pytest
import torch

from curvlab.siamese.tanh_layer import (notes_forward, notes_gd_step, notes_gradients, notes_loss,
                                        per_pair_gradients)


def _problem(m=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(k, d)) * 0.5, rng.normal(size=k) * 0.3,
            rng.normal(size=(m, d)), rng.normal(size=(m, d)))


def _torch_J(W, b, X1, X2, lam=1.0):
    """Reference: J_i = h1ᵀh1 + h2ᵀh2 − h1ᵀh2 + λ‖W‖², written directly in torch."""
    H1, H2 = torch.tanh(X1 @ W.T + b), torch.tanh(X2 @ W.T + b)
    return (H1 * H1).sum(1) + (H2 * H2).sum(1) - (H1 * H2).sum(1) + lam * (W * W).sum()


@pytest.mark.parametrize("lam", [1.0, 0.0, 0.3])
def test_eq38_mean_gradient_matches_autograd(lam):
    W, b, X1, X2 = _problem()
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    J = _torch_J(Wt, bt, torch.tensor(X1), torch.tensor(X2), lam).mean()
    gW, gb = torch.autograd.grad(J, (Wt, bt))
    g = notes_gradients(W, b, X1, X2, lam=lam)
    np.testing.assert_allclose(g.dW, gW.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(g.db, gb.numpy(), rtol=0, atol=1e-12)


def test_eq38_per_pair_and_deltas_match_autograd():
    W, b, X1, X2 = _problem(m=4)
    dW_i, db_i = per_pair_gradients(W, b, X1, X2)
    g = notes_gradients(W, b, X1, X2)
    for i in range(4):
        Wt = torch.tensor(W, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        x1, x2 = torch.tensor(X1[i:i + 1]), torch.tensor(X2[i:i + 1])
        h1, h2 = torch.tanh(x1 @ Wt.T + bt), torch.tanh(x2 @ Wt.T + bt)
        h1.retain_grad(), h2.retain_grad()
        J = ((h1 * h1).sum() + (h2 * h2).sum() - (h1 * h2).sum() + (Wt * Wt).sum())
        J.backward()
        np.testing.assert_allclose(g.Delta1[i], h1.grad.numpy()[0], atol=1e-13)
        np.testing.assert_allclose(g.Delta2[i], h2.grad.numpy()[0], atol=1e-13)
        np.testing.assert_allclose(dW_i[i], Wt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(db_i[i], bt.grad.numpy(), atol=1e-12)


def test_torch_loss_passes_gradcheck_and_equals_numpy_loss():
    W, b, X1, X2 = _problem(m=3, d=4, k=2)
    args = (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
    x1, x2 = torch.tensor(X1), torch.tensor(X2)
    assert torch.autograd.gradcheck(lambda W_, b_: _torch_J(W_, b_, x1, x2).mean(), args)
    np.testing.assert_allclose(notes_loss(W, b, X1, X2), _torch_J(*[torch.tensor(a) for a in (W, b, X1, X2)]).numpy(),
                               atol=1e-13)


def test_eq38_is_not_the_gradient_of_the_squared_distance():
    """§6.1 speaks of minimizing the code distance; (38) differentiates another loss."""
    W, b, X1, X2 = _problem()
    Wt = torch.tensor(W, requires_grad=True)
    H1 = torch.tanh(torch.tensor(X1) @ Wt.T + torch.tensor(b))
    H2 = torch.tanh(torch.tensor(X2) @ Wt.T + torch.tensor(b))
    dist = ((H1 - H2) ** 2).sum(1).mean() + (Wt * Wt).sum()
    (gW,) = torch.autograd.grad(dist, Wt)
    g = notes_gradients(W, b, X1, X2)
    assert np.abs(g.dW - gW.numpy()).max() > 1e-2


def test_eq39_is_a_gradient_step_on_the_mean_loss():
    W, b, X1, X2 = _problem()
    eps = 0.05
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    opt = torch.optim.SGD([Wt, bt], lr=eps)  # reference: torch's SGD on the mean loss
    _torch_J(Wt, bt, torch.tensor(X1), torch.tensor(X2)).mean().backward()
    opt.step()
    W1, b1 = notes_gd_step(W, b, X1, X2, eps=eps)
    np.testing.assert_allclose(W1, Wt.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(b1, bt.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(W, _problem()[0])  # inputs untouched


def test_forward_is_tanh_of_affine_map():
    W, b, X1, _ = _problem()
    np.testing.assert_allclose(notes_forward(W, b, X1), np.tanh(np.einsum("kd,md->mk", W, X1) + b))


def test_bad_input_is_rejected():
    W, b, X1, X2 = _problem()
    with pytest.raises(ValueError, match="same number of pairs"):
        notes_gradients(W, b, X1, X2[:-1])
    with pytest.raises(ValueError, match="columns"):
        notes_gradients(W, b, X1[:, :-1], X2)
    with pytest.raises(ValueError, match="b must have length"):
        notes_gradients(W, b[:-1], X1, X2)
    with pytest.raises(ValueError, match="NaN"):
        notes_gradients(W, b, np.full_like(X1, np.nan), X2)
    with pytest.raises(ValueError, match="eps"):
        notes_gd_step(W, b, X1, X2, eps=-1.0)
