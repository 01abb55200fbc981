"""L1-magnitude unstructured pruning, global or layer-wise, via torch.nn.utils.prune.L1Unstructured."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from omegaconf import DictConfig
from torch.nn.utils import prune

from rgp_bench.config.schema import MagnitudeCfg
from rgp_bench.methods.base import MaskContext, MaskResult, Method
from rgp_bench.pruning.layers import PrunableLayer


def _l1_mask(weights: torch.Tensor, ratio: float) -> torch.Tensor:
    method = prune.L1Unstructured(amount=round(ratio * weights.numel()))
    return method.compute_mask(weights, torch.ones_like(weights)).bool()


def magnitude_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Keep the largest-|w| weights: over all prunable layers at once (`global`) or within each layer."""
    weights = [layer.module.weight.detach().float().cpu() for layer in layers]
    if cfg.scope == "layer":
        flat = [_l1_mask(w.flatten(), ratio) for w in weights]
    else:
        pooled = _l1_mask(torch.cat([w.flatten() for w in weights]), ratio)
        flat = list(torch.split(pooled, [w.numel() for w in weights]))
    masks = {layer.name: m.view(layer.weight_shape) for layer, m in zip(layers, flat, strict=True)}
    return MaskResult(masks, {"scope": cfg.scope})


METHOD = Method("magnitude", MagnitudeCfg, magnitude_masks, "L1-magnitude unstructured pruning")
