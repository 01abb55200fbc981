"""Prunable-layer selection and mask application (through torch.nn.utils.prune)."""

from rgp_bench.pruning.layers import PrunableLayer, find_prunable_layers
from rgp_bench.pruning.masks import (
    apply_channel_gates,
    apply_masks,
    apply_param_masks,
    copy_model,
    current_masks,
    mask_sparsity,
    remove_channel_gates,
)

__all__ = ["PrunableLayer", "apply_channel_gates", "apply_masks", "apply_param_masks", "copy_model", "current_masks",
           "find_prunable_layers", "mask_sparsity", "remove_channel_gates"]
