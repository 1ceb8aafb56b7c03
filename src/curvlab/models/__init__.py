"""Pretrained models that ship inside PyPI packages, loaded offline."""

from .causal_lm import CausalLM, load_causal_lm, save_causal_lm, smollm2_path
from .minilm import MiniLM, load_minilm

__all__ = ["CausalLM", "MiniLM", "load_causal_lm", "load_minilm", "save_causal_lm", "smollm2_path"]
