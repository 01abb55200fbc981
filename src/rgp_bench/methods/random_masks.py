"""Random unstructured pruning: the sanity baseline every method must beat."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from omegaconf import DictConfig

from rgp_bench.config.schema import RandomCfg
from rgp_bench.methods.base import MaskContext, MaskResult, Method
from rgp_bench.pruning.layers import PrunableLayer


def _keep_random(numel: int, keep: int, generator: torch.Generator) -> torch.Tensor:
    mask = torch.zeros(numel, dtype=torch.bool)
    mask[torch.randperm(numel, generator=generator)[:keep]] = True
    return mask


def random_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Remove `ratio` of the weights uniformly at random: per layer (`scope=layer`) or over all layers."""
    generator = torch.Generator().manual_seed(ctx.seed)
    sizes = [layer.module.weight.numel() for layer in layers]
    if cfg.scope == "layer":
        flat = [_keep_random(n, round(n * (1.0 - ratio)), generator) for n in sizes]
    else:
        total = sum(sizes)
        pooled = _keep_random(total, round(total * (1.0 - ratio)), generator)
        flat = list(torch.split(pooled, sizes))
    masks = {layer.name: m.view(layer.weight_shape) for layer, m in zip(layers, flat, strict=True)}
    return MaskResult(masks, {"scope": cfg.scope})


METHOD = Method("random", RandomCfg, random_masks, "uniform random unstructured pruning")
