"""snip-public's keep rule: the κ = round(N · (1 − sparsity)) largest normalised sensitivities (transcription).

Source: namhoonlee/snip-public, commit f0284968bfa9b17d335587183b1c84cf628efe84, `snip/model.py`:
`create_sparse_mask.threshold_vec` (tf.nn.top_k over the vectorised scores of all pruned variables; `tf.nn.top_k`
breaks ties towards the lower index) and `normalize_dict` (scores divided by their sum). The scores themselves are
|∂L/∂c| of the multiplicative mask c at c = 1 on one training batch, with batch normalisation in inference mode
(`snip/prune.py::prune` feeds `is_train: False`): `synaptic_flow.snip_score` on a model in eval mode computes them.
"""

from __future__ import annotations

import torch


def create_sparse_mask(scores: dict[str, torch.Tensor], target_sparsity: float) -> dict[str, torch.Tensor]:
    """Boolean keep-masks: the κ largest entries of the normalised, vectorised scores (ties: lower index first)."""
    vec = torch.cat([v.reshape(-1) for v in scores.values()])
    vec = vec / vec.sum()
    kappa = int(round(vec.numel() * (1.0 - target_sparsity)))  # noqa: RUF046 (as in the reference)
    keep = torch.zeros(vec.numel(), dtype=torch.bool)
    keep[torch.sort(vec, descending=True, stable=True).indices[:kappa]] = True
    chunks = torch.split(keep, [v.numel() for v in scores.values()])
    return {name: c.view(v.shape) for (name, v), c in zip(scores.items(), chunks, strict=True)}
