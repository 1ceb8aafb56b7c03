"""Bad-input cases for the torch side: curvature, optim, siamese, prune (core, masks, global
OBS, layer-wise OBS), and the data loaders. Run by ``test_fuzz.py``.

Each ``call`` builds its own small float64 problem, so cases are independent. Fault cases
(a ``loss_fn`` or ``augment`` that raises half-way) check inside ``call`` that the caller's
model still holds the *same* Parameter objects with their original values, then re-raise.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from curvlab import curvature as cv
from curvlab.curvature import gauss_newton as cgn
from curvlab.curvature import inverse as cinv
from curvlab.curvature import layer_hessian as clh
from curvlab.curvature import output_sensitivity as cos_
from curvlab import data as cd
from curvlab import optim as co
from curvlab import prune as cp
from curvlab import siamese as cs

from ._case import Case

F64 = torch.float64
VE, TE = ValueError, TypeError


# ----------------------------------------------------------------------------- fixtures
def _lin(d_in: int = 3, d_out: int = 1, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(d_in, d_out).double()


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


def _xy(n: int = 20, d: int = 3, k: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randn(n, k, generator=g, dtype=F64)


def _cls(n: int = 24, d: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.arange(n) % 2


def _with_nan(t: torch.Tensor, where=(0, 0)) -> torch.Tensor:
    t = t.clone()
    t[where] = float("nan")
    return t


def _nan_weight(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("nan")
    return model


def _H(matrix=None) -> cv.HessianOperator:
    X, y = _xy()
    return cv.HessianOperator(_lin(), nn.MSELoss(), (X, y))


def _H_then_nan_weight() -> cv.HessianOperator:
    H = _H()
    _nan_weight(H.objective.model)
    return H


class _FaultyLoss:
    """A loss that raises on its ``at``-th call (a fault half-way through a run)."""

    def __init__(self, base, at: int = 3):
        self.base, self.at, self.calls = base, at, 0

    def __call__(self, out, y):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("injected fault in loss_fn")
        return self.base(out, y)


def _intact_after(model: nn.Module, run):
    """Run ``run()``, which must raise; then check the model kept its Parameter objects and values."""
    before = [(name, p, p.detach().clone()) for name, p in model.named_parameters()]
    try:
        run()
    finally:
        after = dict(model.named_parameters())
        for name, p, value in before:
            if after.get(name) is not p:
                raise AssertionError(f"parameter {name} was replaced by another object")
            if not torch.equal(p.detach(), value):
                raise AssertionError(f"parameter {name} changed after the failure")
    raise AssertionError("the call did not raise")


def _lanczos_int_ok(res) -> bool:
    # [[2, 1], [1, 2]] has eigenvalues 1 and 3
    return abs(res.lam_max - 3.0) < 1e-10 and res.eigenvalues.dtype == F64


def _sqrt_loss(out, y):
    return torch.sqrt(1 + out ** 2).mean()   # convex; Newton overshoots from |w| > 1


def _newton_overshoot():
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(2.0)
    return co.newton(model, _sqrt_loss, (torch.ones(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)),
                     eps=1.0, steps=1, progress=False)


def _gd_too_large():
    X, y = _xy()
    return co.gradient_descent(_lin(), nn.MSELoss(), (X, y), eps=50.0, steps=200, progress=False)


def _siamese_data(n: int = 40, d: int = 4):
    X = np.random.default_rng(0).normal(size=(n, d))
    return X, np.arange(n) % 4


def _cfg(**kw):
    return cs.TrainConfig(**{"epochs": 2, "pairs_per_epoch": 32, "batch_size": 16, "progress": False,
                             "n_val_pairs": 16, **kw})


def _net(d: int = 4):
    torch.manual_seed(0)
    return cs.SiameseNetwork(cs.MLPEncoder(d, (8,), 3))


def _train_fault():
    net = _net()
    calls = {"n": 0}

    def augment(x, gen):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected fault in augment")
        return x

    return _intact_after(net, lambda: cs.train(net, _siamese_data(), config=_cfg(), augment=augment))


def _prune_fault():
    X, y = _cls()
    model = _mlp()
    return _intact_after(model, lambda: cp.prune_global(model, 0.5, (X, y), loss_fn=_FaultyLoss(nn.CrossEntropyLoss()),
                                                       curvature="gauss_newton", rounds=2, progress=False))


def _gd_fault():
    X, y = _xy()
    model = _lin()
    return _intact_after(model, lambda: co.gradient_descent(model, _FaultyLoss(nn.MSELoss(), at=4), (X, y),
                                                           eps=0.1, steps=10, progress=False))


def _newton_fault():
    X, y = _xy()
    model = _lin()
    return _intact_after(model, lambda: co.newton(model, _FaultyLoss(nn.MSELoss(), at=4), (X, y),
                                                 eps=0.5, steps=5, progress=False))


def _pd(P: int = 4) -> torch.Tensor:
    A = torch.randn(P, P, generator=torch.Generator().manual_seed(1), dtype=F64)
    return A @ A.T + P * torch.eye(P, dtype=F64)


def _w(P: int = 4) -> torch.Tensor:
    return torch.linspace(-1, 1, P, dtype=F64) + 0.1


def _not_pd(P: int = 4) -> torch.Tensor:
    H_inv = _pd(P)
    H_inv[1, 1] = -1.0
    return H_inv


def _empty_corpus(tmp="/tmp") -> list:
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n  \n")
    return cd.read_corpus(fh.name)


def _nonsym() -> torch.Tensor:
    return torch.tensor([[2.0, 1.0], [0.0, 3.0]], dtype=F64)


class _Foreign:
    """An operator that is not symmetric, behind the matvec interface."""

    dim, num_matvecs = 2, 0
    dtype, device = F64, torch.device("cpu")

    def matvec(self, v):
        self.num_matvecs += 1
        return _nonsym() @ v


def _tracker_call(data):
    tr = cv.SharpnessTracker(nn.MSELoss(), data)
    return tr(_lin(), 0)


def _q_max_lr_zero():
    return co.Quadratic(np.zeros((2, 2))).max_stable_lr


def _with_warnings_as_errors(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


X20, Y20 = _xy()
CASES: list[Case] = [
    # ------------------------------------------------------------------ curvature: data
    Case("curvlab.curvature.Batches", "empty", lambda: cv.Batches((X20[:0], Y20[:0])), match=r"data is empty"),
    Case("curvlab.curvature.Batches", "shape", lambda: cv.Batches((X20, Y20[:19])), match=r"first \(sample\) dimension"),
    Case("curvlab.curvature.Batches", "nan", lambda: cv.Batches((_with_nan(X20), Y20)), match=r"data.*X.*NaN"),
    Case("curvlab.curvature.Batches", "inf", lambda: cv.Batches((X20, _with_nan(Y20) * 0 + math.inf)), match=r"data.*y.*NaN or inf"),
    Case("curvlab.curvature.Batches", "shape", lambda: cv.Batches([(X20[:10], Y20[:10]), (X20[10:, :2], Y20[10:])]),
         match=r"batch 1.*X.*shape"),
    Case("curvlab.curvature.as_batches", "dtype", lambda: cv.as_batches("abc"), raises=TE, match=r"data must be"),
    Case("curvlab.curvature.Objective", "dtype", lambda: cv.Objective(_lin(), "mse", (X20, Y20)), raises=TE, match=r"loss_fn"),
    Case("curvlab.curvature.Objective", "shape", lambda: cv.Objective(_lin(), nn.MSELoss(reduction="none"), (X20, Y20)),
         match=r"loss_fn must return a scalar"),
    Case("curvlab.curvature.Objective", "shape", lambda: cv.Objective(_lin(4), nn.MSELoss(), (X20, Y20)),
         match=r"data.*X.*shape \(20, 3\).*model"),
    # ------------------------------------------------------------------ curvature: HessianOperator
    Case("curvlab.curvature.HessianOperator", "shape", lambda: cv.HessianOperator(_lin(4), nn.MSELoss(), (X20, Y20)),
         match=r"data.*X.*shape \(20, 3\).*model"),
    Case("curvlab.curvature.HessianOperator", "shape", lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (X20, Y20[:, 0])),
         match=r"y.*shape \(20,\).*output.*\(20, 1\)"),
    Case("curvlab.curvature.HessianOperator", "dtype", lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (X20.float(), Y20.float())),
         match=r"dtype.*float32.*float64"),
    Case("curvlab.curvature.HessianOperator", "dtype", lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (X20, Y20), gauss_newton=True,
                                                                                  params=[torch.zeros(3)]),
         match=r"params\[0\]"),
    Case("curvlab.curvature.HessianOperator", "nan", lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (_with_nan(X20), Y20)),
         match=r"data.*NaN"),
    Case("curvlab.curvature.HessianOperator", "nan", lambda: cv.HessianOperator(_nan_weight(_lin()), nn.MSELoss(), (X20, Y20)),
         match=r"weight.*NaN"),
    Case("curvlab.curvature.HessianOperator", "range", lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (X20, Y20), method="fwd"),
         match=r"method must be one of"),
    Case("curvlab.curvature.HessianOperator.matvec", "nan", lambda: _H().matvec(_with_nan(torch.ones(4, dtype=F64), 0)),
         match=r"v contains NaN"),
    Case("curvlab.curvature.HessianOperator.matvec", "shape", lambda: _H().matvec(torch.ones(5, dtype=F64)),
         match=r"v must have shape \(4,\)"),
    Case("curvlab.curvature.HessianOperator.matvec", "complex", lambda: _H().matvec(torch.ones(4, dtype=torch.complex128)),
         raises=TE, match=r"v must be real"),
    Case("curvlab.curvature.HessianOperator.matvec", "nan", lambda: _H_then_nan_weight().matvec(torch.ones(4, dtype=F64)),
         match=r"weight.*NaN"),
    Case("curvlab.curvature.dense_hessian", "shape", lambda: cv.dense_hessian(_lin(4), nn.MSELoss(), (X20, Y20)),
         match=r"data.*X.*shape \(20, 3\)"),
    Case("curvlab.curvature.dense_hessian", "range", lambda: cv.dense_hessian(_lin(), nn.MSELoss(), (X20, Y20), chunk_size=0),
         match=r"chunk_size must be >= 1"),
    Case("curvlab.curvature.per_sample_grads", "nan", lambda: cv.per_sample_grads(_lin(), nn.MSELoss(), (_with_nan(X20), Y20)),
         match=r"data.*NaN"),
    Case("curvlab.curvature.per_sample_grads", "range", lambda: cv.per_sample_grads(_lin(), nn.MSELoss(), (X20, Y20), chunk_size=-1),
         match=r"chunk_size must be >= 1"),
    Case("curvlab.curvature.empirical_fisher", "shape", lambda: cv.empirical_fisher(_lin(2), nn.MSELoss(), (X20, Y20)),
         match=r"data.*X.*shape \(20, 3\)"),
    Case("curvlab.curvature.empirical_fisher", "one_row", lambda: cv.empirical_fisher(_lin(), nn.MSELoss(), (X20[:1], Y20[:1])),
         raises=None, check=lambda F: F.shape == (4, 4) and bool(torch.isfinite(F).all())),
    # ------------------------------------------------------------------ curvature: parameters
    Case("curvlab.curvature.flatten", "empty", lambda: cv.flatten([]), match=r"tensors is empty"),
    Case("curvlab.curvature.flatten", "dtype", lambda: cv.flatten([1.0, 2.0]), raises=TE, match=r"tensors\[0\] must be a torch.Tensor"),
    Case("curvlab.curvature.unflatten", "shape", lambda: cv.unflatten(torch.ones(3), [torch.ones(2, 2)]),
         match=r"vec must be a vector of length 4"),
    Case("curvlab.curvature.num_params", "dtype", lambda: cv.num_params([torch.ones(2), 3]), raises=TE, match=r"tensors\[1\]"),
    Case("curvlab.curvature.resolve_params", "dtype", lambda: cv.resolve_params("model"), raises=TE, match=r"model must be a torch.nn.Module"),
    Case("curvlab.curvature.resolve_params", "empty", lambda: cv.resolve_params(_lin().requires_grad_(False)),
         match=r"no trainable parameters"),
    # ------------------------------------------------------------------ curvature: spectral routines
    Case("curvlab.curvature.as_operator", "dtype", lambda: cv.as_operator("A"), raises=TE, match=r"square matrix"),
    Case("curvlab.curvature.as_operator", "complex", lambda: cv.as_operator(torch.eye(3, dtype=torch.complex128)),
         raises=TE, match=r"A must be a real"),
    Case("curvlab.curvature.as_operator", "shape", lambda: cv.as_operator(torch.ones(2, 3)), match=r"A must be a square matrix"),
    Case("curvlab.curvature.lanczos", "shape", lambda: cv.lanczos(torch.eye(4, dtype=F64), v0=torch.ones(3, dtype=F64)),
         match=r"v0 must have shape \(4,\)"),
    Case("curvlab.curvature.lanczos", "nan", lambda: cv.lanczos(torch.eye(4, dtype=F64), v0=_with_nan(torch.ones(4, dtype=F64), 0)),
         match=r"v0 .*NaN"),
    Case("curvlab.curvature.lanczos", "dtype", lambda: cv.lanczos(torch.tensor([[2, 1], [1, 2]])),
         raises=None, check=_lanczos_int_ok),
    Case("curvlab.curvature.lanczos", "dtype", lambda: cv.lanczos(np.array([[2, 1], [1, 2]])), raises=None, check=_lanczos_int_ok),
    Case("curvlab.curvature.lanczos", "not_spd", lambda: cv.lanczos(_nonsym()), match=r"A must be symmetric"),
    Case("curvlab.curvature.lanczos", "not_spd", lambda: cv.lanczos(_Foreign()), match=r"A is not symmetric"),
    Case("curvlab.curvature.lanczos", "nan", lambda: cv.lanczos(_with_nan(torch.eye(3, dtype=F64), (1, 1))), match=r"A contains NaN"),
    Case("curvlab.curvature.lanczos", "nan", lambda: cv.lanczos(_H_then_nan_weight()), match=r"weight.*NaN"),
    Case("curvlab.curvature.lanczos", "range", lambda: cv.lanczos(torch.eye(3, dtype=F64), k=0), match=r"k must be >= 1"),
    Case("curvlab.curvature.lanczos", "range", lambda: cv.lanczos(torch.eye(3, dtype=F64), tol=float("nan")), match=r"tol must be"),
    Case("curvlab.curvature.lanczos", "empty", lambda: cv.lanczos(torch.zeros(0, 0, dtype=F64)), match=r"A is empty"),
    Case("curvlab.curvature.lanczos", "one_row", lambda: cv.lanczos(torch.tensor([[5.0]], dtype=F64)),
         raises=None, check=lambda r: r.lam_max == 5.0 and r.converged),
    Case("curvlab.curvature.hutchinson", "range", lambda: cv.hutchinson(torch.eye(3), num_matvecs=0), match=r"num_matvecs must be >= 1"),
    Case("curvlab.curvature.hutchinson", "nan", lambda: cv.hutchinson(_H_then_nan_weight(), num_matvecs=3), match=r"weight.*NaN"),
    Case("curvlab.curvature.hutchpp", "nan", lambda: cv.hutchpp(_H_then_nan_weight(), num_matvecs=6), match=r"weight.*NaN"),
    Case("curvlab.curvature.hutchpp", "range", lambda: cv.hutchpp(torch.eye(3), num_matvecs=2), match=r"num_matvecs must be >= 3"),
    Case("curvlab.curvature.hutchpp", "complex", lambda: cv.hutchpp(torch.eye(3, dtype=torch.complex64)), raises=TE, match=r"A must be a real"),
    Case("curvlab.curvature.slq_density", "range", lambda: cv.slq_density(torch.eye(3), num_steps=0), match=r"num_steps must be >= 1"),
    Case("curvlab.curvature.slq_density", "not_spd", lambda: cv.slq_density(_nonsym()), match=r"A must be symmetric"),
    Case("curvlab.curvature.SpectralDensity.density", "nan",
         lambda: cv.slq_density(torch.diag(torch.arange(1.0, 4.0, dtype=F64)), num_steps=3, num_vectors=2).density([0.0, float("nan")]),
         match=r"grid contains NaN"),
    Case("curvlab.curvature.SpectralDensity.density", "range",
         lambda: cv.slq_density(torch.eye(3, dtype=F64), num_steps=3, num_vectors=2).density([0.0, 1.0], sigma=-1.0),
         match=r"sigma must be finite and > 0"),
    Case("curvlab.curvature.max_stable_lr", "shape", lambda: cv.max_stable_lr(_lin(5), nn.MSELoss(), (X20, Y20)),
         match=r"data.*X.*shape \(20, 3\)"),
    Case("curvlab.curvature.max_stable_lr", "range", lambda: cv.max_stable_lr(_lin(), nn.MSELoss(), (X20, Y20), tol=0.0),
         match=r"tol must be finite and > 0"),
    Case("curvlab.curvature.max_stable_lr", "nan", lambda: cv.max_stable_lr(_nan_weight(_lin()), nn.MSELoss(), (X20, Y20)),
         match=r"weight.*NaN"),
    Case("curvlab.curvature.sharpness", "nan", lambda: cv.sharpness(_lin(), nn.MSELoss(), (X20, _with_nan(Y20))), match=r"data.*y.*NaN"),
    Case("curvlab.curvature.SharpnessTracker", "range", lambda: cv.SharpnessTracker(nn.MSELoss(), (X20, Y20), every=0),
         match=r"every must be >= 1"),
    Case("curvlab.curvature.SharpnessTracker", "shape", lambda: _tracker_call((X20[:, :2], Y20)), match=r"data.*X.*shape \(20, 2\)"),
    # ------------------------------------------------------------------ optim: Quadratic
    Case("curvlab.optim.Quadratic", "complex", lambda: co.Quadratic(np.eye(2) * (1 + 1j)), raises=TE, match=r"H must be real"),
    Case("curvlab.optim.Quadratic", "nan", lambda: co.Quadratic([[1.0, 0.0], [0.0, np.nan]]), match=r"H contains NaN"),
    Case("curvlab.optim.Quadratic", "shape", lambda: co.Quadratic(np.ones((2, 3))), match=r"H must be a square matrix"),
    Case("curvlab.optim.Quadratic", "not_spd", lambda: co.Quadratic(np.diag([1.0, -1.0])), match=r"H must be positive semi-definite"),
    Case("curvlab.optim.Quadratic", "not_spd", lambda: co.Quadratic([[1.0, 2.0], [0.0, 1.0]]), match=r"H must be symmetric"),
    Case("curvlab.optim.Quadratic", "empty", lambda: co.Quadratic(np.zeros((0, 0))), match=r"H is empty"),
    Case("curvlab.optim.Quadratic", "complex", lambda: co.Quadratic(np.eye(2), w_star=np.array([1j, 0])), raises=TE,
         match=r"w_star must be real"),
    Case("curvlab.optim.Quadratic.max_stable_lr", "range", _q_max_lr_zero, raises=None, check=lambda lr: lr == math.inf),
    Case("curvlab.optim.Quadratic.optimal_lr", "range", lambda: co.Quadratic(np.zeros((2, 2))).optimal_lr,
         raises=None, check=lambda lr: lr == math.inf),
    Case("curvlab.optim.Quadratic.gradient_descent", "range", lambda: co.Quadratic(np.eye(2)).gradient_descent(np.ones(2), -1.0, 3),
         match=r"eps must be finite and > 0"),
    Case("curvlab.optim.Quadratic.gradient_descent", "shape", lambda: co.Quadratic(np.eye(2)).gradient_descent(np.ones(3), 0.1, 3),
         match=r"w0 must have length 2"),
    Case("curvlab.optim.Quadratic.gd_exact", "nan", lambda: co.Quadratic(np.eye(2)).gd_exact([np.nan, 0], 0.1, 3), match=r"w0 contains NaN"),
    Case("curvlab.optim.Quadratic.gd_closed_form", "range", lambda: co.Quadratic(np.eye(2)).gd_closed_form(np.ones(2), 0.1, -1),
         match=r"t must be >= 0"),
    Case("curvlab.optim.Quadratic.gd_closed_form", "range", lambda: co.Quadratic(np.eye(2)).gd_closed_form(np.ones(2), float("nan"), 1),
         match=r"eps must be finite"),
    Case("curvlab.optim.Quadratic.gd_notes_form", "complex", lambda: co.Quadratic(np.eye(2)).gd_notes_form(np.array([1j, 1]), 0.1),
         raises=TE, match=r"w0 must be real"),
    Case("curvlab.optim.Quadratic.newton", "not_spd", lambda: co.Quadratic(np.diag([1.0, 0.0])).newton(np.ones(2)),
         match=r"H positive definite.*damping"),
    Case("curvlab.optim.Quadratic.loss", "nan", lambda: co.Quadratic(np.eye(2)).loss([np.nan, 1.0]), match=r"w contains NaN"),
    Case("curvlab.optim.Quadratic.grad", "shape", lambda: co.Quadratic(np.eye(2)).grad([1.0]), match=r"w must have length 2"),
    Case("curvlab.optim.Quadratic.rate", "range", lambda: co.Quadratic(np.eye(2)).rate(float("inf")), match=r"eps must be finite"),
    Case("curvlab.optim.Quadratic.converges", "range", lambda: co.Quadratic(np.eye(2)).converges(-0.5), match=r"eps must be finite and > 0"),
    # ------------------------------------------------------------------ optim: networks
    Case("curvlab.optim.gradient_descent", "shape", lambda: co.gradient_descent(_lin(2), nn.MSELoss(), (X20, Y20), 0.1, 3, progress=False),
         match=r"data.*X.*shape \(20, 3\)"),
    Case("curvlab.optim.gradient_descent", "dtype", lambda: co.gradient_descent(_lin(), nn.MSELoss(), (X20.float(), Y20), 0.1, 3, progress=False),
         match=r"dtype.*float32.*float64"),
    Case("curvlab.optim.gradient_descent", "nan", lambda: co.gradient_descent(_lin(), nn.MSELoss(), (_with_nan(X20), Y20), 0.1, 3, progress=False),
         match=r"data.*NaN"),
    Case("curvlab.optim.gradient_descent", "range", lambda: co.gradient_descent(_lin(), nn.MSELoss(), (X20, Y20), 0.0, 3, progress=False),
         match=r"eps must be finite and > 0"),
    Case("curvlab.optim.gradient_descent", "range", lambda: co.gradient_descent(_lin(), nn.MSELoss(), (X20, Y20), 0.1, 2.5, progress=False),
         raises=TE, match=r"steps must be an integer"),
    Case("curvlab.optim.gradient_descent", "fault", _gd_fault, raises=RuntimeError, match=r"injected fault"),
    Case("curvlab.optim.gradient_descent", "range", _gd_too_large, raises=None, warns=RuntimeWarning, match=r"diverged.*eps",
         check=lambda t: t.diverged and bool(np.isfinite(t.iterates).all())),
    Case("curvlab.optim.newton", "range", _newton_overshoot, raises=None, warns=RuntimeWarning, match=r"loss rose",
         check=lambda t: t.diverged and t.losses[-1] > t.losses[0]),
    Case("curvlab.optim.newton", "range", lambda: co.newton(_lin(), nn.MSELoss(), (X20, Y20), damping=-1.0, progress=False),
         match=r"damping must be finite and >= 0"),
    Case("curvlab.optim.newton", "shape", lambda: co.newton(_lin(4), nn.MSELoss(), (X20, Y20), progress=False),
         match=r"data.*X.*shape \(20, 3\)"),
    Case("curvlab.optim.newton", "not_spd", lambda: co.newton(_mlp(), nn.CrossEntropyLoss(), _cls(), solver="dense", progress=False),
         match=r"positive definite.*damping"),
    Case("curvlab.optim.newton", "fault", _newton_fault, raises=RuntimeError, match=r"injected fault"),
    # ------------------------------------------------------------------ siamese
    Case("curvlab.siamese.train", "shape", lambda: cs.train(_net(5), _siamese_data(), config=_cfg()),
         match=r"data.*X.*4 features.*encoder"),
    Case("curvlab.siamese.train", "dtype", lambda: cs.train(_net(), (np.array([["a"] * 4] * 40), np.arange(40) % 4), config=_cfg()),
         raises=TE, match=r"data X must be array-like of numbers"),
    Case("curvlab.siamese.train", "dtype", lambda: cs.train(_net(), (torch.ones(40, 4, dtype=torch.bool), np.arange(40) % 4), config=_cfg()),
         raises=TE, match=r"data X must hold numbers"),
    Case("curvlab.siamese.train", "complex", lambda: cs.train(_net(), (_siamese_data()[0] * 1j, _siamese_data()[1]), config=_cfg()),
         raises=TE, match=r"data X must be real"),
    Case("curvlab.siamese.train", "nan", lambda: cs.train(_net(), (torch.full((40, 4), float("nan")), np.arange(40) % 4), config=_cfg()),
         match=r"data X contains NaN"),
    Case("curvlab.siamese.train", "shape", lambda: cs.train(_net(), _siamese_data(), val=(np.ones((10, 3)), np.arange(10) % 2), config=_cfg()),
         match=r"val.*X.*3 features.*encoder"),
    Case("curvlab.siamese.train", "one_row", lambda: cs.train(_net(), (np.ones((4, 4)), np.arange(4)), config=_cfg()),
         match=r"labels|pairs"),
    Case("curvlab.siamese.train", "range", lambda: cs.train(_net(), _siamese_data(), config=_cfg(lr=-1.0)), match=r"lr must be finite and > 0"),
    Case("curvlab.siamese.train", "dtype", lambda: cs.train(_net(), [1, 2, 3], config=_cfg()), raises=TE, match=r"data must be \(X, labels\)"),
    Case("curvlab.siamese.train", "fault", _train_fault, raises=RuntimeError, match=r"injected fault"),
    Case("curvlab.siamese.TrainConfig", "range", lambda: cs.train(_net(), _siamese_data(), config=_cfg(epochs=0)), match=r"epochs must be >= 1"),
    Case("curvlab.siamese.MLPEncoder", "range", lambda: cs.MLPEncoder(4, (8,), 2, dropout=-0.5), match=r"dropout must lie in \[0"),
    Case("curvlab.siamese.MLPEncoder", "range", lambda: cs.MLPEncoder(4, (0,), 2), match=r"hidden must be >= 1"),
    Case("curvlab.siamese.TanhEncoder", "range", lambda: cs.TanhEncoder(0, 2), match=r"in_features must be >= 1"),
    Case("curvlab.siamese.ConvEncoder", "range", lambda: cs.ConvEncoder(side=1), match=r"side must be >= 2"),
    Case("curvlab.siamese.FilterEncoder", "range", lambda: cs.FilterEncoder(kernel_size=4), match=r"kernel_size must be odd"),
    Case("curvlab.siamese.MiniLMEncoder", "range", lambda: cs.MiniLMEncoder(max_length=0), match=r"max_length must be >= 1"),
    Case("curvlab.siamese.SiameseNetwork", "dtype", lambda: cs.SiameseNetwork("mlp"), raises=TE, match=r"encoder must be a torch.nn.Module"),
    Case("curvlab.siamese.SiameseNetwork", "range", lambda: cs.SiameseNetwork(cs.MLPEncoder(4, (8,), 2), metric="l1"), match=r"metric must be one of"),
    Case("curvlab.siamese.SiameseNetwork.distance", "shape", lambda: _net().distance(np.ones((3, 4)), np.ones((2, 4))),
         match=r"x1 and x2 must hold the same number"),
    Case("curvlab.siamese.SiameseNetwork.similarity", "shape", lambda: _net().similarity(np.ones((3, 5)), np.ones((3, 5))),
         match=r"encoder cannot take x of shape \(3, 5\)"),
    Case("curvlab.siamese.SiameseNetwork.similarity", "nan", lambda: _net().similarity(np.full((3, 4), np.nan), np.ones((3, 4))),
         match=r"x contains NaN"),
    Case("curvlab.siamese.SiameseNetwork.embed", "complex", lambda: _net().embed(torch.ones(3, 4, dtype=torch.complex64)),
         raises=TE, match=r"x must be real"),
    Case("curvlab.siamese.train", "shape", lambda: cs.train(_net(), cs.PairSet(np.ones((8, 4)), np.ones((8, 6)), np.arange(8) % 2),
                                                            config=_cfg()),
         match=r"data x2 has 6 features.*encoder"),
    Case("curvlab.siamese.SiameseNetwork.predict", "range", lambda: _net().predict(np.ones((3, 4)), np.ones((3, 4))),
         match=r"predict needs a threshold"),
    Case("curvlab.siamese.l2_of_weights", "dtype", lambda: cs.l2_of_weights("net"), raises=TE, match=r"module must be a torch.nn.Module"),
    Case("curvlab.siamese.contrastive_loss", "shape", lambda: cs.contrastive_loss(torch.ones(4, 2), torch.ones(3, 2), torch.ones(4)),
         match=r"e1 and e2 must have one shape"),
    Case("curvlab.siamese.contrastive_loss", "nan", lambda: cs.contrastive_loss(torch.ones(2, 2), torch.ones(2, 2), torch.tensor([1.0, float("nan")])),
         match=r"y contains NaN"),
    Case("curvlab.siamese.cosine_similarity_loss", "shape", lambda: cs.cosine_similarity_loss(torch.ones(4, 2), torch.ones(4, 2), torch.ones(3)),
         match=r"y must have one entry per pair"),
    Case("curvlab.siamese.triplet_margin_loss", "range", lambda: cs.triplet_margin_loss(*(torch.ones(2, 2),) * 3, margin=-1.0),
         match=r"margin must be finite and > 0"),
    Case("curvlab.siamese.in_batch_softmax_loss", "range", lambda: cs.in_batch_softmax_loss(torch.ones(2, 2), torch.ones(2, 2), scale=0.0),
         match=r"scale must be finite and > 0"),
    Case("curvlab.siamese.notes_pair_loss", "shape", lambda: cs.notes_pair_loss(torch.ones(2, 3), torch.ones(2, 2)),
         match=r"h1 and h2 must have one shape"),
    Case("curvlab.siamese.PairSet", "shape", lambda: cs.PairSet(np.ones((3, 2)), np.ones((2, 2)), np.ones(3)), match=r"one length"),
    Case("curvlab.siamese.PairSet", "empty", lambda: cs.PairSet(np.ones((0, 2)), np.ones((0, 2)), np.ones(0)), match=r"empty"),
    Case("curvlab.siamese.sample_pairs", "range", lambda: cs.sample_pairs(np.arange(10) % 2, 3), match=r"n_pairs must be even"),
    Case("curvlab.siamese.sample_triplets", "one_row", lambda: cs.sample_triplets(np.arange(4), 2), match=r"no class with two samples"),
    Case("curvlab.siamese.shift_augment", "range", lambda: cs.shift_augment(torch.ones(2, 64), torch.Generator(), max_shift=-1),
         match=r"max_shift must be >= 0"),
    Case("curvlab.siamese.roc_auc", "one_row", lambda: cs.roc_auc([0.5], [1]), match=r"y must contain both"),
    Case("curvlab.siamese.average_precision", "nan", lambda: cs.average_precision([0.1, np.nan], [0, 1]), match=r"scores contains NaN"),
    Case("curvlab.siamese.fit_threshold", "shape", lambda: cs.fit_threshold([0.1, 0.2, 0.3], [0, 1]), match=r"scores and y must have one length"),
    Case("curvlab.siamese.verification_report", "inf", lambda: cs.verification_report([0.1, np.inf], [0, 1]), match=r"scores contains NaN"),
    Case("curvlab.siamese.one_shot_accuracy", "range", lambda: cs.one_shot_accuracy(np.ones((6, 2)), np.arange(6) % 3, n_way=1),
         match=r"n_way must be >= 2"),
    Case("curvlab.siamese.recall_at_k", "shape", lambda: cs.recall_at_k(np.ones((3, 2)), np.ones((4, 2))), match=r"queries and documents"),
    Case("curvlab.siamese.notes_loss", "nan", lambda: cs.notes_loss(np.ones((2, 3)), np.zeros(2), np.full((4, 3), np.nan), np.ones((4, 3))),
         match=r"X1 contains NaN"),
    Case("curvlab.siamese.notes_gradients", "shape", lambda: cs.notes_gradients(np.ones((2, 3)), np.zeros(2), np.ones((4, 2)), np.ones((4, 3))),
         match=r"X1 must have 3 columns"),
    Case("curvlab.siamese.notes_gd_step", "range", lambda: cs.notes_gd_step(np.ones((2, 3)), np.zeros(2), np.ones((4, 3)), np.ones((4, 3)), eps=0.0),
         match=r"eps must be finite and > 0"),
    # ------------------------------------------------------------------ prune: core
    Case("curvlab.prune.obs_saliency", "nan", lambda: cp.obs_saliency(_w(), _with_nan(_pd(), (2, 3))), match=r"H_inv contains NaN"),
    Case("curvlab.prune.obs_saliency", "not_spd", lambda: cp.obs_saliency(_w(), _not_pd()), match=r"H_inv.*positive definite.*\[1, 1\]"),
    Case("curvlab.prune.obs_saliency", "shape", lambda: cp.obs_saliency(_w(), _pd(3)), match=r"H_inv must be \(4, 4\)"),
    Case("curvlab.prune.obs_saliency", "complex", lambda: cp.obs_saliency(_w().to(torch.complex128), _pd()), raises=TE, match=r"w must be real"),
    Case("curvlab.prune.obs_update", "range", lambda: cp.obs_update(_w(), _pd(), 1.5), raises=TE, match=r"q must be an integer"),
    Case("curvlab.prune.obs_update", "range", lambda: cp.obs_update(_w(), _pd(), 4), match=r"q must index w"),
    Case("curvlab.prune.obs_update", "nan", lambda: cp.obs_update(_w(), _with_nan(_pd(), (0, 1)), 1), match=r"H_inv contains NaN"),
    Case("curvlab.prune.obs_update", "not_spd", lambda: cp.obs_update(_w(), _not_pd(), 0), match=r"H_inv.*positive definite"),
    Case("curvlab.prune.obs_update", "inf", lambda: cp.obs_update(_with_nan(_w(), 0) * 0 + math.inf, _pd(), 0), match=r"w contains NaN"),
    Case("curvlab.prune.obs_multi_update", "range", lambda: cp.obs_multi_update(_w(), _pd(), [1, 1]), match=r"Q must hold distinct"),
    Case("curvlab.prune.obs_multi_update", "empty", lambda: cp.obs_multi_update(_w(), _pd(), []), match=r"Q is empty"),
    Case("curvlab.prune.obs_multi_update", "range", lambda: cp.obs_multi_update(_w(), _pd(), [0.5]), raises=TE, match=r"Q must hold integer"),
    Case("curvlab.prune.inverse_curvature", "not_spd", lambda: cp.inverse_curvature("diagonal", torch.tensor([1.0, -1.0])),
         match=r"diagonal curvature must be > 0"),
    Case("curvlab.prune.inverse_curvature", "nan", lambda: cp.inverse_curvature("full", _with_nan(_pd())), match=r"H contains NaN"),
    Case("curvlab.prune.inverse_curvature", "range", lambda: cp.inverse_curvature("cubic", _pd()), match=r"kind must be"),
    # ------------------------------------------------------------------ prune: masks
    Case("curvlab.prune.apply_mask", "dtype", lambda: cp.apply_mask(nn.ReLU(), torch.ones(2)), match=r"module.*ReLU.*no parameter 'weight'"),
    Case("curvlab.prune.apply_mask", "shape", lambda: cp.apply_mask(nn.Linear(3, 2), torch.ones(3, 2)), match=r"mask must have the shape"),
    Case("curvlab.prune.apply_mask", "nan", lambda: cp.apply_mask(nn.Linear(3, 2), torch.ones(2, 3), torch.full((2, 3), float("nan"))),
         match=r"new_weight contains NaN"),
    Case("curvlab.prune.apply_mask", "dtype", lambda: cp.apply_mask(nn.Linear(3, 2), np.ones((2, 3))), raises=TE, match=r"mask must be a torch.Tensor"),
    Case("curvlab.prune.apply_mask", "range", lambda: cp.apply_mask(nn.Linear(3, 2), torch.full((2, 3), 0.5)), match=r"mask must hold only 0 and 1"),
    Case("curvlab.prune.copy_module", "dtype", lambda: cp.copy_module([nn.Linear(2, 2)]), raises=TE, match=r"module must be a torch.nn.Module"),
    Case("curvlab.prune.current_weight", "dtype", lambda: cp.current_weight(nn.Tanh()), match=r"module.*Tanh.*no parameter 'weight'"),
    # ------------------------------------------------------------------ prune: global OBS and curvatures
    Case("curvlab.prune.global_obs", "nan", lambda: cp.global_obs(_with_nan(_w(), 0), _pd(), 1), match=r"w and H_inv must be finite"),
    Case("curvlab.prune.global_obs", "range", lambda: cp.global_obs(_w(), _pd(), 9), match=r"n_prune = 9 exceeds"),
    Case("curvlab.prune.QuotaGroups", "shape", lambda: cp.global_obs(_w(), _pd(), 1, quotas=[cp.QuotaGroups(torch.zeros(3, dtype=torch.long),
                                                                                                       torch.ones(1, dtype=torch.long))]),
         match=r"quotas\[0\].group must be a \(4,\) tensor"),
    Case("curvlab.prune.prune_global", "shape", lambda: cp.prune_global(_mlp(), 0.5, (torch.randn(24, 4, dtype=F64), torch.arange(24) % 2)),
         match=r"data.*X.*shape \(24, 4\).*model"),
    Case("curvlab.prune.prune_global", "dtype", lambda: cp.prune_global(_mlp(), 0.5, (_cls()[0], _cls()[1].double())),
         match=r"y.*dtype|loss_fn"),
    Case("curvlab.prune.prune_global", "range", lambda: cp.prune_global(_mlp(), 0.5, (_cls()[0], torch.arange(24) % 5)),
         match=r"y.*class"),
    Case("curvlab.prune.prune_global", "range", lambda: cp.prune_global(_mlp(), 1.0, _cls()), match=r"sparsity must lie in \[0.0, 1.0\)"),
    Case("curvlab.prune.prune_global", "nan", lambda: cp.prune_global(_mlp(), 0.5, (_with_nan(_cls()[0]), _cls()[1])), match=r"X contains NaN"),
    Case("curvlab.prune.prune_global", "nan", lambda: cp.prune_global(_nan_weight(_mlp()), 0.5, _cls()), match=r"weights of module '0'.*NaN"),
    Case("curvlab.prune.prune_global", "empty", lambda: cp.prune_global(_mlp(), 0.5, (_cls()[0][:0], _cls()[1][:0])), match=r"data must hold"),
    Case("curvlab.prune.prune_global", "empty", lambda: cp.prune_global(nn.Sequential(nn.Tanh()), 0.5, _cls()), match=r"nothing to prune"),
    Case("curvlab.prune.prune_global", "fault", _prune_fault, raises=RuntimeError, match=r"injected fault"),
    Case("curvlab.prune.prune_global", "one_row", lambda: cp.prune_global(_mlp(), 0.5, (_cls()[0][:1], _cls()[1][:1]), curvature="fisher",
                                                                          progress=False),
         raises=None, check=lambda r: abs(r.total_sparsity - 0.5) < 0.05),
    Case("curvlab.prune.curvature_matrix", "range", lambda: cp.curvature_matrix("cubic", _mlp(), nn.CrossEntropyLoss(), *_cls(),
                                                                                list(_mlp().parameters())),
         match=r"curvature must be one of"),
    Case("curvlab.prune.gauss_newton_matrix", "shape", lambda: (lambda m: cp.gauss_newton_matrix(m, nn.MSELoss(), X20[:, :2], Y20,
                                                                                                  list(m.parameters())))(_lin()),
         match=r"X.*shape \(20, 2\).*model"),
    Case("curvlab.prune.inverse_for", "range", lambda: cp.inverse_for("hessian", _pd(), 4, damping=-1.0), match=r"damping must be finite and >= 0"),
    Case("curvlab.prune.prune_layerwise_obs", "nan", lambda: cp.prune_layerwise_obs(nn.Sequential(nn.Linear(3, 2)), 0.5, _with_nan(X20)),
         match=r"X contains NaN"),
    Case("curvlab.prune.prune_layerwise_obs", "shape", lambda: cp.prune_layerwise_obs(nn.Sequential(nn.Linear(4, 2)), 0.5, X20),
         match=r"X.*3 columns.*4"),
    Case("curvlab.prune.prune_layerwise_obs", "range", lambda: cp.prune_layerwise_obs(nn.Sequential(nn.Linear(3, 2)), -0.1, X20),
         match=r"sparsity must lie in"),
    # ------------------------------------------------------------------ found by a second, independent probe
    Case("curvlab.curvature.lanczos", "dtype", lambda: cv.lanczos(torch.eye(3, dtype=F64), seed="a"), raises=TE,
         match=r"seed must be an int"),
    Case("curvlab.curvature.hutchinson", "dtype", lambda: cv.hutchinson(torch.eye(3), seed=1.5), raises=TE, match=r"seed must be an int"),
    Case("curvlab.optim.Quadratic", "shape", lambda: co.Quadratic([[1.0, 2.0], [3.0]]), raises=TE, match=r"H must be array-like"),
    Case("curvlab.siamese.train", "dtype", lambda: cs.train(_net(), _siamese_data(), config={"epochs": 1}), raises=TE,
         match=r"config must be a TrainConfig"),
    Case("curvlab.siamese.MLPEncoder", "dtype", lambda: cs.MLPEncoder(4, 8, 2), raises=TE, match=r"hidden must be a sequence"),
    Case("curvlab.siamese.MLPEncoder", "dtype", lambda: cs.MLPEncoder(4, (8,), 2, activation="relu"), raises=TE,
         match=r"activation must be a torch.nn.Module class"),
    Case("curvlab.siamese.cosine_similarity_loss", "dtype", lambda: cs.cosine_similarity_loss(torch.eye(2), torch.eye(2), [1.0, 0.0]),
         raises=None, check=lambda loss: abs(float(loss) - 0.5) < 1e-6),   # cos = 1 on both rows: ((1 − 1)² + (1 − 0)²)/2
    Case("curvlab.siamese.in_batch_softmax_loss", "shape", lambda: cs.in_batch_softmax_loss(torch.ones(2), torch.ones(2)),
         match=r"e1 and e2 must have one shape \(B, k\)"),
    Case("curvlab.siamese.roc_auc", "complex", lambda: cs.roc_auc(np.array([1j, 2.0]), [0, 1]), raises=TE, match=r"scores must be real"),
    Case("curvlab.siamese.notes_loss", "complex", lambda: cs.notes_loss(np.ones((2, 3)) * 1j, np.zeros(2), np.ones((4, 3)), np.ones((4, 3))),
         raises=TE, match=r"W must be real"),
    Case("curvlab.siamese.shift_augment", "shape", lambda: cs.shift_augment(torch.ones(2, 10), torch.Generator()),
         match=r"x must be a batch of side × side = 64"),
    Case("curvlab.prune.inverse_curvature", "complex", lambda: cp.inverse_curvature("full", torch.eye(2, dtype=torch.complex128)),
         raises=TE, match=r"H must be real"),
    Case("curvlab.prune.obs_update", "dtype", lambda: cp.obs_update(_w(), _pd(), True), raises=TE, match=r"q must be an integer"),
    # ------------------------------------------------------------------ curvature submodules (imported by full path)
    Case("curvlab.curvature.inverse.damped_inverse", "not_spd", lambda: cinv.damped_inverse(torch.diag(torch.tensor([1.0, -2.0]))),
         match=r"not positive definite.*damping > 2"),
    Case("curvlab.curvature.inverse.damped_inverse", "complex", lambda: cinv.damped_inverse(torch.eye(2, dtype=torch.complex128)),
         raises=TE, match=r"H must be real"),
    Case("curvlab.curvature.inverse.damped_inverse", "not_spd", lambda: cinv.damped_inverse(_nonsym()), match=r"H must be symmetric"),
    Case("curvlab.curvature.inverse.woodbury_fisher_inverse", "range", lambda: cinv.woodbury_fisher_inverse(torch.ones(3, 2), 0.0),
         match=r"damping must be finite and > 0"),
    Case("curvlab.curvature.inverse.woodbury_fisher_inverse", "nan", lambda: cinv.woodbury_fisher_inverse(_with_nan(torch.ones(3, 2)), 1.0),
         match=r"G contains NaN"),
    Case("curvlab.curvature.inverse.obs_downdate", "range", lambda: cinv.obs_downdate(_pd(), 1.5), raises=TE,
         match=r"q must hold integer"),
    Case("curvlab.curvature.inverse.obs_downdate", "range", lambda: cinv.obs_downdate(_pd(), 7), match=r"q must index rows"),
    Case("curvlab.curvature.inverse.block_diagonal_inverse", "empty", lambda: cinv.block_diagonal_inverse([]), match=r"blocks is empty"),
    Case("curvlab.curvature.inverse.block_diagonal_inverse", "not_spd",
         lambda: cinv.block_diagonal_inverse([torch.eye(2), -torch.eye(2)]), match=r"block 1: H \+ damping"),
    Case("curvlab.curvature.layer_hessian.LayerHessian", "dtype", lambda: clh.LayerHessian(nn.ReLU()), raises=TE,
         match=r"support nn.Linear"),
    Case("curvlab.curvature.layer_hessian.LayerHessian.add_batch", "shape", lambda: clh.LayerHessian(nn.Linear(3, 2)).add_batch(torch.ones(4, 5)),
         match=r"x has 5 features.*takes 3"),
    Case("curvlab.curvature.layer_hessian.LayerHessian.add_batch", "nan",
         lambda: clh.LayerHessian(nn.Linear(3, 2)).add_batch(torch.full((4, 3), float("nan"))), match=r"NaN"),
    Case("curvlab.curvature.layer_hessian.HessianCollector", "empty", lambda: clh.HessianCollector({}), match=r"modules is empty"),
    Case("curvlab.curvature.layer_hessian.damp", "range", lambda: clh.damp(torch.eye(2), -1.0), match=r"damping must be finite and >= 0"),
    Case("curvlab.curvature.layer_hessian.damp", "shape", lambda: clh.damp(torch.ones(2, 3)), match=r"H must be a square"),
    Case("curvlab.curvature.layer_hessian.is_prunable", "dtype", lambda: clh.is_prunable("linear"), raises=None,
         check=lambda r: r is False),
    Case("curvlab.curvature.layer_hessian.layer_inputs", "dtype", lambda: clh.layer_inputs(nn.Tanh(), torch.ones(2, 2)), raises=TE,
         match=r"support nn.Linear"),
    Case("curvlab.curvature.layer_hessian.layer_inputs", "shape", lambda: clh.layer_inputs(nn.Linear(3, 2), torch.ones(2, 4)),
         match=r"x has 4 features.*takes 3"),
    Case("curvlab.curvature.layer_hessian.weight_matrix", "dtype", lambda: clh.weight_matrix(nn.ReLU()), raises=TE, match=r"support nn.Linear"),
    Case("curvlab.curvature.layer_hessian.set_weight_matrix", "shape", lambda: clh.set_weight_matrix(nn.Linear(3, 2), torch.ones(3, 3)),
         match=r"W must have shape \(2, 3\)"),
    Case("curvlab.curvature.output_sensitivity.output_sensitivities", "empty",
         lambda: cos_.output_sensitivities(_lin(), {"": _lin()}, []), match=r"calls is empty"),
    Case("curvlab.curvature.output_sensitivity.output_sensitivities", "range",
         lambda: (lambda m: cos_.output_sensitivities(m, {"0": m[0]}, [((X20,), {})], probes=0))(_mlp()), match=r"probes must be"),
    Case("curvlab.curvature.output_sensitivity.output_sensitivities", "shape",
         lambda: (lambda m: cos_.output_sensitivities(m, {"0": m[0]}, [((X20[:, :2],), {})]))(_mlp()),
         match=r"failed on calls\[0\] .*\(20, 2\)"),
    Case("curvlab.curvature.output_sensitivity.model_output", "dtype", lambda: cos_.model_output("text"), raises=TE,
         match=r"cannot find the output tensor"),
    Case("curvlab.curvature.gauss_newton.gauss_newton_matrix", "nan",
         lambda: (lambda m: cgn.gauss_newton_matrix(m, nn.MSELoss(), _with_nan(X20), Y20, list(m.parameters())))(_lin()),
         match=r"data.*NaN"),
    Case("curvlab.curvature.gauss_newton.cross_entropy_gauss_newton", "shape",
         lambda: (lambda m: cgn.cross_entropy_gauss_newton(m, nn.CrossEntropyLoss(), X20[:, :2], list(m.parameters())))(_mlp()),
         match=r"X.*shape \(20, 2\).*model"),
    Case("curvlab.curvature.gauss_newton.is_plain_cross_entropy", "dtype", lambda: cgn.is_plain_cross_entropy("ce"),
         raises=None, check=lambda r: r is False),
    # ------------------------------------------------------------------ one row / empty, with reference values
    # one sample (x, t) of a linear model under MSE: H = 2 [x 1][x 1]ᵀ, so λ_max = 2(‖x‖² + 1)
    Case("curvlab.curvature.max_stable_lr", "one_row", lambda: cv.max_stable_lr(_lin(), nn.MSELoss(), (X20[:1], Y20[:1]), tol=1e-10),
         raises=None, check=lambda r: abs(r.lam_max - 2 * (float(X20[0] @ X20[0]) + 1)) < 1e-8 * r.lam_max),
    Case("curvlab.curvature.HessianOperator.matvec", "one_row",
         lambda: cv.HessianOperator(_lin(), nn.MSELoss(), (X20[:1], Y20[:1])).matvec(torch.ones(4, dtype=F64)),
         raises=None, check=lambda Hv: bool(torch.allclose(
             Hv, 2 * torch.cat([X20[0], torch.ones(1, dtype=F64)]) * float(X20[0].sum() + 1)))),
    Case("curvlab.optim.gradient_descent", "empty", lambda: co.gradient_descent(_lin(), nn.MSELoss(), (X20[:0], Y20[:0]), 0.1, 3,
                                                                               progress=False), match=r"data is empty"),
    Case("curvlab.optim.newton", "one_row",   # one equation, four unknowns: H singular, damping makes the step exact in its span
         lambda: co.newton(_lin(), nn.MSELoss(), (X20[:1], Y20[:1]), damping=1e-10, progress=False),
         raises=None, check=lambda t: t.losses[-1] < 1e-12 and not t.diverged),
    Case("curvlab.siamese.train", "empty", lambda: cs.train(_net(), (np.ones((0, 4)), np.zeros(0)), config=_cfg()),
         match=r"data labels is empty|data X is empty"),
    Case("curvlab.prune.obs_saliency", "one_row", lambda: cp.obs_saliency(torch.tensor([3.0], dtype=F64), torch.tensor([[0.5]], dtype=F64)),
         raises=None, check=lambda s: float(s[0]) == 9.0),   # ½ w² / [H⁻¹]_qq = ½·9/0.5
    # ------------------------------------------------------------------ data
    Case("curvlab.data.split_pairs", "range", lambda: cd.split_pairs(2), match=r"n must be >= 3"),
    Case("curvlab.data.split_pairs", "range", lambda: cd.split_pairs(10, test_fraction=1.5), match=r"test_fraction must lie in"),
    Case("curvlab.data.split_pairs", "range", lambda: cd.split_pairs(10, test_fraction=0.6, val_fraction=0.6),
         match=r"test_fraction \+ val_fraction"),
    Case("curvlab.data.load_rdoc_pairs", "range", lambda: cd.load_rdoc_pairs(min_words=0), match=r"min_words must be >= 1"),
    Case("curvlab.data.fine_food_reviews", "range", lambda: cd.fine_food_reviews("validation"), match=r"split must be one of"),
    Case("curvlab.data.fine_food_reviews", "range", lambda: cd.fine_food_reviews("test", n=0), match=r"n must be >= 1"),
    Case("curvlab.data.read_corpus", "empty", _empty_corpus, match=r"corpus .* has no text"),
    Case("curvlab.data.read_corpus", "range", lambda: cd.read_corpus("/nonexistent/corpus.txt"), match=r"corpus .* is not a file"),
    Case("curvlab.data.read_corpus", "range", lambda: cd.read_corpus(__file__, n=0), match=r"n must be >= 1"),
]
