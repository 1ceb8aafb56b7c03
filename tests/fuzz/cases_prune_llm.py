"""Bad-input cases for issue #14's entry points: prune_model / ObsOptions, the ADMM layer solver,
perplexity and the LLM calibration set, the causal-LM and MiniLM loaders, and `curvlab prune`.

Fault cases inject an error half-way through prune_model and check, inside ``call``, that the
caller's model still holds the *same* module and Parameter objects with their original values,
then re-raise.
"""

from __future__ import annotations

import torch
from torch import nn

from curvlab import models as cm
from curvlab import prune as cp
from curvlab.prune import driver as cdrv

from ._case import Case

VE, TE = ValueError, TypeError


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def _x(n: int = 16, d: int = 6) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _H(d: int = 8) -> torch.Tensor:
    X = torch.randn(40, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    return 2 * X.T @ X / 40


def _W(r: int = 4, d: int = 8) -> torch.Tensor:
    return torch.randn(r, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


class _Tok:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) % 50 for c in text]}


class _LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 4)
        self.head = nn.Linear(4, 50)

    def forward(self, input_ids):
        return self.head(self.emb(input_ids))


def _nan_lm() -> nn.Module:
    lm = _LM()
    with torch.no_grad():
        lm.head.weight.fill_(float("nan"))
    return lm


def _fault_half_way():
    """A layer write fails after the first layer was pruned: the same objects, values restored."""
    model = _net()
    params = list(model.parameters())
    values = [p.detach().clone() for p in params]
    real, calls = cdrv.write_layer, {"n": 0}

    def fault(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("injected fault in write_layer")
        return real(*args, **kwargs)
    cdrv.write_layer = fault
    try:
        cp.prune_model(model, [_x()], 0.5, progress=False)
    finally:
        cdrv.write_layer = real
        assert all(p is q and torch.equal(p, v) for p, q, v in zip(model.parameters(), params, values))
        assert not any(hasattr(m, "weight_mask") for m in model.modules())


def _cli(argv, tmp="/nonexistent-curvlab-fuzz"):
    from curvlab.cli import main
    return main(["prune", "--out", f"{tmp}/out", *argv])


CASES: list[Case] = [
    # prune_model
    Case("curvlab.prune.prune_model", "nan", lambda: cp.prune_model(_net(), [_x() * float("nan")], 0.5),
         match=r"calibration contains NaN"),
    Case("curvlab.prune.prune_model", "inf", lambda: cp.prune_model(_net(), [_x() + float("inf")], 0.5),
         match=r"calibration contains NaN or infinity"),
    Case("curvlab.prune.prune_model", "empty", lambda: cp.prune_model(_net(), [], 0.5), match=r"calibration is empty"),
    Case("curvlab.prune.prune_model", "empty", lambda: cp.prune_model(_net(), [_x(0)], 0.5),
         match=r"calibration batch 0 is empty"),
    Case("curvlab.prune.prune_model", "shape", lambda: cp.prune_model(_net(), [_x(16, 5)], 0.5, progress=False),
         match=r"calibration inputs"),
    Case("curvlab.prune.prune_model", "dtype", lambda: cp.prune_model(_net(), ["text"], 0.5),
         raises=TE, match=r"calibration batches must be"),
    Case("curvlab.prune.prune_model", "range", lambda: cp.prune_model(_net(), [_x()], 1.0), match=r"sparsity"),
    Case("curvlab.prune.prune_model", "range", lambda: cp.prune_model(_net(), [_x()], 0.7, "2:4"),
         match=r"sparsity 0.7 conflicts with the pattern 2:4"),
    Case("curvlab.prune.prune_model", "range", lambda: cp.prune_model(_net(), [_x()], 0.5, method="random"),
         match=r"method must be one of"),
    Case("curvlab.prune.prune_model", "range", lambda: cp.prune_model(_net(), [_x()], 0.5, damping=-1.0),
         match=r"damping must be"),
    Case("curvlab.prune.prune_model", "range", lambda: cp.prune_model(_net(), [_x()], 0.5, layers=["nope"]),
         match=r"layers \['nope'\] are not modules"),
    Case("curvlab.prune.prune_model", "empty", lambda: cp.prune_model(nn.Sequential(nn.ReLU(), nn.LayerNorm(6)),
                                                                     [_x()], 0.5), match=r"no prunable layer"),
    Case("curvlab.prune.prune_model", "dtype", lambda: cp.prune_model(_net(), [_x()], 0.5, options={"refit": True}),
         raises=TE, match=r"options must be an ObsOptions"),
    Case("curvlab.prune.prune_model", "fault", _fault_half_way, raises=VE, match=r"injected fault"),
    # ObsOptions
    Case("curvlab.prune.ObsOptions", "range", lambda: cp.ObsOptions(target="dense"), match=r"target must be"),
    Case("curvlab.prune.ObsOptions", "range", lambda: cp.ObsOptions(cg_iters=-1), match=r"cg_iters must be"),
    Case("curvlab.prune.ObsOptions", "range", lambda: cp.ObsOptions(max_shift=1.5), match=r"max_shift must be"),
    Case("curvlab.prune.ObsOptions", "nan", lambda: cp.ObsOptions(target_mix=float("nan")), match=r"target_mix"),
    # admm_layer
    Case("curvlab.prune.admm_layer", "nan", lambda: cp.admm_layer(_W() * float("nan"), _H(), 0.5), match=r"W"),
    Case("curvlab.prune.admm_layer", "shape", lambda: cp.admm_layer(_W(4, 6), _H(), 0.5), match=r"H"),
    Case("curvlab.prune.admm_layer", "range", lambda: cp.admm_layer(_W(), _H(), 1.2), match=r"sparsity"),
    Case("curvlab.prune.admm_layer", "range", lambda: cp.admm_layer(_W(), _H(), 0.5, iters=0), match=r"iters"),
    Case("curvlab.prune.admm_layer", "range", lambda: cp.admm_layer(_W(), _H(), 0.5, "3:5"), match=r"pattern|divide"),
    # perplexity
    Case("curvlab.prune.perplexity", "dtype", lambda: cp.perplexity(_LM(), torch.rand(40)), raises=TE,
         match=r"tokens must be a 1-D integer"),
    Case("curvlab.prune.perplexity", "shape", lambda: cp.perplexity(_LM(), torch.zeros(2, 20, dtype=torch.long)),
         raises=TE, match=r"tokens must be a 1-D"),
    Case("curvlab.prune.perplexity", "empty", lambda: cp.perplexity(_LM(), torch.zeros(0, dtype=torch.long), 4),
         match=r"fewer than one window"),
    Case("curvlab.prune.perplexity", "range", lambda: cp.perplexity(_LM(), torch.arange(20) % 50, 1),
         match=r"seq_len must be"),
    Case("curvlab.prune.perplexity", "nan", lambda: cp.perplexity(_nan_lm(), torch.arange(20) % 50, 10),
         match=r"log-likelihood is not finite"),
    # calibration_batches
    Case("curvlab.prune.calibration_batches", "range", lambda: cp.calibration_batches(_Tok(), 0), match=r"n_sequences"),
    Case("curvlab.prune.calibration_batches", "range", lambda: cp.calibration_batches(_Tok(), 2, 1), match=r"seq_len"),
    Case("curvlab.prune.calibration_batches", "range", lambda: cp.calibration_batches(_Tok(), 2, 8, domains=("news",)),
         match=r"domains must be"),
    Case("curvlab.prune.calibration_batches", "empty", lambda: cp.calibration_batches(_Tok(), 2, 8, domains=()),
         match=r"domains must be"),
    # loaders
    Case("curvlab.models.load_causal_lm", "range", lambda: cm.load_causal_lm("/nonexistent/model"),
         match=r"does not exist"),
    Case("curvlab.models.load_causal_lm", "dtype", lambda: cm.load_causal_lm(3), raises=TE, match=r"spec must be"),
    Case("curvlab.models.load_causal_lm", "range", lambda: cm.load_causal_lm(__file__), match=r"not a \.gguf file"),
    Case("curvlab.models.save_causal_lm", "dtype", lambda: cm.save_causal_lm(None, "/tmp/x"), raises=TE,
         match=r"lm must be a CausalLM"),
    Case("curvlab.models.CausalLM", "dtype", lambda: cm.CausalLM(_LM(), _Tok(), "x").encode(3), raises=TE,
         match=r"text must be a str"),
    Case("curvlab.models.smollm2_path", "correct", lambda: cm.smollm2_path(), raises=None,
         check=lambda p: p.name.endswith(".gguf") and p.is_file()),
    Case("curvlab.models.load_minilm", "range", lambda: cm.load_minilm("/nonexistent/minilm"), raises=(VE, OSError),
         match=r"minilm|/nonexistent"),
    Case("curvlab.models.MiniLM", "dtype", lambda: cm.load_minilm().tokenize("one text"), raises=TE,
         match=r"texts must be a list"),
    # the CLI: bad arguments are one line and exit status 2, nothing written
    Case("curvlab.cli.main", "range", lambda: _cli(["--sparsity", "1.5"]), raises=None, check=lambda rc: rc == 2),
    Case("curvlab.cli.main", "range", lambda: _cli(["--model", "smollm2", "--seq-len", "1"]), raises=None,
         check=lambda rc: rc == 2),
    Case("curvlab.cli.main", "range", lambda: _cli(["--model", "/nonexistent/x.gguf"]), raises=None,
         check=lambda rc: rc == 2),
    # restore_on_error: a fault inside re-raises
    Case("curvlab.prune.restore_on_error", "fault", lambda: _restore_fault(), raises=VE, match=r"inside"),
]


def _restore_fault():
    model = _net()
    before = [p.detach().clone() for p in model.parameters()]
    try:
        with cp.restore_on_error(model):
            with torch.no_grad():
                next(model.parameters()).zero_()
            raise ValueError("fault inside the block")
    finally:
        assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))
