"""Apply and read weight masks via torch.nn.utils.prune (weight = weight_orig * weight_mask)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.nn.utils import prune

from rgp_bench.pruning.layers import PrunableLayer


def apply_masks(layers: Sequence[PrunableLayer], masks: Mapping[str, torch.Tensor]) -> None:
    """Attach a frozen mask to every prunable layer; masks combine with any mask already present."""
    for layer in layers:
        mask = masks[layer.name]
        if tuple(mask.shape) != layer.weight_shape:
            raise ValueError(f"mask for {layer.name} has shape {tuple(mask.shape)}, expected {layer.weight_shape}")
        prune.custom_from_mask(layer.module, "weight", mask.to(layer.module.weight.device, torch.float32))


def current_masks(layers: Sequence[PrunableLayer]) -> dict[str, torch.Tensor]:
    """The boolean mask in force for each layer (all-True when the layer is not pruned)."""
    out = {}
    for layer in layers:
        mask = getattr(layer.module, "weight_mask", None)
        out[layer.name] = (
            mask.detach().bool().cpu() if mask is not None
            else torch.ones(layer.weight_shape, dtype=torch.bool)
        )
    return out


def mask_sparsity(masks: Mapping[str, torch.Tensor]) -> float:
    """Fraction of masked-out weights over all given masks."""
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    return 1.0 - kept / total if total else 0.0
