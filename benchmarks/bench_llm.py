"""One-shot pruning of a decoder LLM (SmolLM2-135M-Instruct by default): perplexity per domain.

Every configuration prunes a fresh copy of the dense model on the same calibration windows
and is evaluated by perplexity (:func:`curvlab.prune.llm_eval.perplexity`: non-overlapping
windows, mean NLL over all predicted tokens) on the ``--split`` text (``validation`` to choose
defaults, ``test`` to report) of every domain — the calibration domains and the ones left out.
One JSON line per configuration goes to stdout as soon as it is measured:

* ``ppl``      {domain: perplexity}; ``dense`` in the first line
* ``compute``  CPU seconds of the pruning arithmetic (no forward passes), ``total`` of the whole
  ``prune_model`` call (process time; run with one BLAS thread)

Configurations: ``METHOD[@SPARSITY|@N:M][ +key=value ...]`` with ObsOptions keys for obs
(``obs@2:4 +target=input +bias=False``) and ``+damping=λ``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_llm.py --model smollm2 \\
        --calibration 32 --seq-len 256 --domains python-docs --eval 12 --split validation \\
        "sparsegpt@2:4" "obs@2:4" "obs@2:4 +target=input"
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import platform
import sys
import time

import torch

from curvlab.models.causal_lm import load_causal_lm
from curvlab.prune.driver import ObsOptions, prune_model
from curvlab.prune.llm_eval import DOMAINS, calibration_batches, perplexity, token_stream


def parse(config: str) -> tuple[str, float | None, str | None, dict, float | None]:
    head, *switches = config.split(" +")
    method, _, amount = head.strip().partition("@")
    sparsity, pattern = (None, amount) if ":" in amount else (float(amount or 0.5), None)
    options, damping = {}, None
    for s in switches:
        key, _, value = s.partition("=")
        value = ast.literal_eval(value) if value not in ("input", "block", "auto", "obs", "uniform", "output") \
            else value
        if key == "damping":
            damping = value
        else:
            options[key] = value
    return method, sparsity, pattern, options, damping


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", default=["sparsegpt@0.5", "obs@0.5"])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--calibration", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--domains", default="python-docs", help="calibration domains, comma-separated")
    ap.add_argument("--eval", type=int, default=12, help="perplexity windows per domain")
    ap.add_argument("--split", default="validation", choices=("validation", "test"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-dense", action="store_true", help="skip the dense model's perplexity")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    lm = load_causal_lm(args.model)
    domains = tuple(args.domains.split(","))
    calibration = calibration_batches(lm.tokenizer, args.calibration, args.seq_len, domains=domains, seed=args.seed)
    streams = {d: token_stream(lm.tokenizer, d, args.split, max_tokens=args.eval * args.seq_len) for d in DOMAINS}
    print(json.dumps(dict(machine=platform.processor() or platform.machine(), torch=torch.__version__,
                          model=args.model, calibration=f"{args.calibration}x{args.seq_len}", domains=domains,
                          split=args.split, eval=f"{args.eval}x{args.seq_len}")), flush=True)
    if not args.no_dense:
        print(json.dumps(dict(config="dense", ppl={d: perplexity(lm.model, s, args.seq_len)
                                                   for d, s in streams.items()})), flush=True)
    for config in args.configs:
        method, sparsity, pattern, options, damping = parse(config)
        model = copy.deepcopy(lm.model)
        t0 = time.process_time()
        report = prune_model(model, calibration, sparsity, pattern, method, damping=damping,
                             options=ObsOptions(**options) if method == "obs" else None, progress=False)
        total = time.process_time() - t0
        ppl = {d: perplexity(model, s, args.seq_len) for d, s in streams.items()}
        print(json.dumps(dict(config=config, ppl=ppl, compute=report.compute_s, total=total,
                              sparsity=report.overall_sparsity, calib_err=report.mean("calibration_error"))),
              flush=True)
        del model
    return 0


if __name__ == "__main__":
    sys.exit(main())
