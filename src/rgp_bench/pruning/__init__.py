"""Prunable-layer selection and mask application (through torch.nn.utils.prune)."""

from rgp_bench.pruning.layers import PrunableLayer, find_prunable_layers
from rgp_bench.pruning.masks import apply_masks, current_masks, mask_sparsity

__all__ = ["PrunableLayer", "apply_masks", "current_masks", "find_prunable_layers", "mask_sparsity"]
