"""§1: pruning with second-order information — one OBS rule for every choice of H.

* :mod:`~curvlab.prune.core` — saliency (8) and update (7) for any H⁻¹; identity →
  magnitude (9)–(10), diagonal → OBD, full → OBS; the multi-weight rule.
* :mod:`~curvlab.prune.global_obs` — greedy global OBS with (delayed) rank-1 downdates,
  budgets and N:M patterns; :func:`prune_global` for a PyTorch model.
* :mod:`~curvlab.prune.curvatures` — the H a model's OBS uses (Fisher, Gauss–Newton, H, |H|).
* :mod:`~curvlab.prune.report` — :class:`PruningReport`.
* :mod:`~curvlab.prune.masks` — masks stored the ``torch.nn.utils.prune`` way.
* :mod:`~curvlab.prune.driver` — :func:`prune_model`, layer-wise OBS (and the SparseGPT, Wanda
  and magnitude baselines) of a whole transformer, block by block from calibration data;
  the row-wise kernels are in :mod:`~curvlab.prune.layerwise` and :mod:`~curvlab.prune.sparsegpt`,
  the stages of the loop in :mod:`~curvlab.prune.stages`.
* :mod:`~curvlab.prune.admm` — :func:`admm_layer`, the ADMM layer solver (``method="admm"``).
* :mod:`~curvlab.prune.llm_eval` — :func:`perplexity` of a causal LM the papers' way, the
  shipped text domains and the default LLM calibration set.
"""

from .admm import admm_layer
from .core import inverse_curvature, obs_multi_update, obs_saliency, obs_update
from .curvatures import CURVATURES, curvature_matrix, gauss_newton_matrix, inverse_for
from .driver import ObsOptions, PruneReport, prune_model
from .global_obs import ObsResult, QuotaGroups, global_obs, prune_global
from .layer_obs import prune_layerwise_obs
from .masks import apply_mask, copy_module, current_weight, restore_on_error
from .llm_eval import calibration_batches, perplexity
from .report import LayerRecord, PruningReport, RoundRecord

__all__ = [
    "CURVATURES",
    "LayerRecord",
    "ObsOptions",
    "ObsResult",
    "PruneReport",
    "PruningReport",
    "QuotaGroups",
    "RoundRecord",
    "admm_layer",
    "apply_mask",
    "calibration_batches",
    "copy_module",
    "current_weight",
    "curvature_matrix",
    "gauss_newton_matrix",
    "global_obs",
    "inverse_curvature",
    "inverse_for",
    "obs_multi_update",
    "obs_saliency",
    "obs_update",
    "perplexity",
    "prune_global",
    "prune_layerwise_obs",
    "prune_model",
    "restore_on_error",
]
