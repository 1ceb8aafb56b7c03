"""Pretrained models that ship inside PyPI packages, loaded offline."""

from .minilm import MiniLM, load_minilm

__all__ = ["MiniLM", "load_minilm"]
